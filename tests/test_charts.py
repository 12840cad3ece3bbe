"""Chart data for the Researchers tab: counts and means checked against hand-computed values."""

from pathlib import Path

import gradio as gr
import pytest

from clone.services import Services
from clone.survey import SurveyStore, load_study
from clone.survey.charts import item_distribution, n_per_condition, pre_post_means
from clone.ui.research import ResearchHandlers
from tests.conftest import RESEARCH_TOKEN

MOOD = """id: mood
title: Mood
validated: false
citation: Written for this test.
phase: both
scale: {min: 1, max: 5}
items:
  - {subscale: calm, text: I feel calm.}
  - {subscale: calm, text: I feel tense., reverse: true}
  - {subscale: joy, text: I feel happy.}
"""
LIKING = """id: liking
title: Liking
validated: false
citation: Written for this test.
phase: post
scale: {min: 1, max: 5}
items:
  - {subscale: like, text: I liked the clone.}
"""

# Per condition, in order of assignment: (pre answers, post answers or None for a dropout).
# Columns: mood_calm_01, mood_calm_02R (reversed: 6 - value), mood_joy_01 [, liking_like_01].
PLAN = {
    "a": [((2, 4, 3), (4, 2, 5, 5)), ((3, 3, 1), (5, 1, 3, 4))],
    "b": [((2, 2, 2), (2, 2, 2, 1)), ((5, 1, 5), None)],
}


def mini_study(folder: Path):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "consent.md").write_text("Consent", encoding="utf-8")
    (folder / "mood.yaml").write_text(MOOD, encoding="utf-8")
    (folder / "liking.yaml").write_text(LIKING, encoding="utf-8")
    (folder / "study.yaml").write_text(
        "id: mini\nconsent: {file: consent.md, version: '1'}\ninstruments: [mood.yaml, liking.yaml]\n"
        "conditions: [{id: a}, {id: b}]\n",
        encoding="utf-8",
    )
    return load_study(folder / "study.yaml")


@pytest.fixture
def filled(tmp_path, settings):
    """A real store: one block of four participants (two per condition), one of them a dropout after pre."""
    study = mini_study(tmp_path / "study")
    store = SurveyStore(settings.survey_db)
    queues = {c: list(plans) for c, plans in PLAN.items()}
    for _ in range(4):
        a = store.assign(
            study, consent_version="1", transcript_opt_in=False, persona_id="d", app_version="1", backend="x"
        )
        pre, post = queues[a.condition].pop(0)
        store.save_phase(
            study,
            a.participant_id,
            "pre",
            dict(zip(["mood_calm_01", "mood_calm_02R", "mood_joy_01"], pre, strict=True)),
        )
        if post:
            cols = ["mood_calm_01", "mood_calm_02R", "mood_joy_01", "liking_like_01"]
            store.save_phase(study, a.participant_id, "post", dict(zip(cols, post, strict=True)))
    return study, store


def test_item_distribution_counts_every_answer_value(filled):
    study, store = filled
    df = item_distribution(study, store.records(), "mood")
    assert list(df.columns) == ["phase", "item", "value", "count"]
    assert len(df) == 2 * 3 * 5  # two phases, three items, five values (zeros included)

    def counts(phase, item):
        rows = df[(df.phase == phase) & (df["item"] == item)]
        return dict(zip(rows.value, rows["count"], strict=True))

    assert counts("pre", "mood_calm_01") == {1: 0, 2: 2, 3: 1, 4: 0, 5: 1}
    assert counts("pre", "mood_calm_02R") == {1: 1, 2: 1, 3: 1, 4: 1, 5: 0}  # raw answers, not reversed
    assert counts("post", "mood_joy_01") == {1: 0, 2: 1, 3: 1, 4: 0, 5: 1}
    liking = item_distribution(study, store.records(), "liking")
    assert set(liking.phase) == {"post"}
    assert dict(zip(liking.value, liking["count"], strict=True)) == {1: 1, 2: 0, 3: 0, 4: 1, 5: 1}
    assert item_distribution(study, store.records(), "nope").empty


def test_pre_post_means_per_condition_use_finished_participants(filled):
    study, store = filled
    df = pre_post_means(study, store.records())
    got = {(r.condition, r.measure, r.phase): (r.mean, r.n) for r in df.itertuples()}
    # liking is asked only after the chat: no shift to show.
    assert {m for _, m, _ in got} == {"mood_calm", "mood_joy"}
    # a: calm pre (2+2)/2=2, (3+3)/2=3 -> 2.5; post (4+4)/2=4, (5+5)/2=5 -> 4.5; joy 3,1 -> 2; 5,3 -> 4
    assert got[("a", "mood_calm", "pre")] == (2.5, 2) and got[("a", "mood_calm", "post")] == (4.5, 2)
    assert got[("a", "mood_joy", "pre")] == (2.0, 2) and got[("a", "mood_joy", "post")] == (4.0, 2)
    # b: only the finisher counts (the dropout's calm 5 and joy 5 would move the pre means)
    assert got[("b", "mood_calm", "pre")] == (3.0, 1) and got[("b", "mood_calm", "post")] == (3.0, 1)
    assert got[("b", "mood_joy", "pre")] == (2.0, 1) and got[("b", "mood_joy", "post")] == (2.0, 1)


def test_n_per_condition_counts_assigned_and_finished(filled):
    study, store = filled
    pid = next(r.participant_id for r in store.records() if r.condition == "a")
    assert store.delete(pid)  # a withdrawal still counts as assigned
    df = n_per_condition(study, store.records(), store.assignments())
    got = {(r.condition, r.status): r.n for r in df.itertuples()}
    assert got == {("a", "assigned"): 2, ("a", "finished"): 1, ("b", "assigned"): 2, ("b", "finished"): 1}


def test_charts_handler_needs_the_research_token(filled, settings):
    study, store = filled
    h = ResearchHandlers(Services(settings, None, None, None, study, store, None, None))
    with pytest.raises(gr.Error):
        h.charts("wrong", "mood")
    dist, shift, n = h.charts(RESEARCH_TOKEN, "mood")
    assert set(dist["value"]) == {"1", "2", "3", "4", "5"}  # text, so each value gets its own bar
    assert "mood_calm · a" in set(shift["series"]) and int(n["n"].sum()) == 7
