"""Chart data for the Researchers tab: counts and means checked against hand-computed values; the charts'
HTML read back like a browser's accessibility tree would (labels, order, intervals)."""

import math
import re
from pathlib import Path

import gradio as gr
import pytest
from bs4 import BeautifulSoup

from clone.services import Services
from clone.survey import SurveyStore, load_study
from clone.survey.charts import item_distribution, mean_interval, n_per_condition, pre_post_means, t95
from clone.ui import plot
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
    assert list(df.columns) == ["phase", "item", "value", "count", "label", "value_label"]
    assert list(dict.fromkeys(df.phase)) == ["pre", "post"]  # pre before post
    first = df[(df.phase == "pre") & (df["item"] == "mood_calm_02R")].iloc[0]
    assert first["label"] == "I feel tense." and first["value_label"] == "1"  # the codebook's text, not the id
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
    # 95% t intervals: a's calm pre scores 2 and 3 -> sd 0.7071, half width 12.706 * 0.7071 / sqrt(2) = 6.353
    row = df[(df.condition == "a") & (df.measure == "mood_calm") & (df.phase == "pre")].iloc[0]
    assert (row["sd"], row["low"], row["high"]) == (0.7071, -3.853, 8.853)
    assert math.isnan(df[(df.condition == "b") & (df.phase == "pre")].iloc[0]["low"])  # one person: no interval
    assert set(df["label"]) == {"Mood: calm", "Mood: joy"} and set(df["condition_label"]) == {"A", "B"}
    assert list(dict.fromkeys(df.phase)) == ["pre", "post"]


def test_the_t_interval_matches_the_textbook():
    assert t95(1) == 12.706 and t95(10) == 2.228 and t95(1000) == 1.96
    mean, sd, low, high = mean_interval([4, 5, 6, 5, 5])  # sd = sqrt(0.5); 2.776 * 0.7071 / sqrt(5) = 0.8778
    assert mean == 5 and round(sd, 4) == 0.7071 and (round(low, 4), round(high, 4)) == (4.1222, 5.8778)
    assert all(math.isnan(v) for v in mean_interval([])) and math.isnan(mean_interval([3])[2])


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
    dist, shift, n = h.chart_data(RESEARCH_TOKEN, "mood")
    assert set(dist["value"]) == {1, 2, 3, 4, 5} and "Mood: calm" in set(shift["label"]) and int(n["n"].sum()) == 7
    with pytest.raises(gr.Error):
        h.chart_data("wrong", "mood")


def soup(html: str) -> BeautifulSoup:
    return BeautifulSoup(html, "html.parser")


def test_counts_get_whole_number_ticks_from_zero_and_rates_percentages():
    for top in (1, 2, 3, 7, 13, 99, 230):
        ticks = plot.count_ticks(top)
        assert ticks[0] == 0 and ticks[-1] >= top and len(ticks) <= 6
        assert (
            all(isinstance(t, int) for t in ticks) and len({b - a for a, b in zip(ticks, ticks[1:], strict=False)}) == 1
        )
    chart = soup(plot.bars("Topics", [("Worm bins", [1]), ("Seeds", [3])], header=("Topic", "Replies")))
    axis = [t.get_text() for t in chart.select(".clone-axis .clone-tick")]
    assert axis == ["0", "1", "2", "3"]  # no 0.5 steps, starts at 0
    widths = [float(re.search(r"width:([\d.]+)%", b["style"]).group(1)) for b in chart.select(".clone-bar")]
    assert widths == [pytest.approx(100 / 3, abs=0.01), 100.0]  # a one-reply topic is a third, not invisible
    rates = soup(plot.bars("Rates", [("1 Dec", [0.2, 0.046])], series=("No answer", "Refused"), rate=True))
    assert [t.get_text() for t in rates.select(".clone-axis .clone-tick")] == ["0%", "50%", "100%"]
    assert [v.get_text() for v in rates.select(".clone-value")] == ["No answer: 20%", "Refused: 4.6%"]


def test_ordinal_answers_get_an_ordered_palette():
    colours = plot.ordinal_palette(7)
    lum = [plot._luminance(c) for c in colours]
    assert lum == sorted(lum, reverse=True) and len(set(colours)) == 7  # light to dark, all distinct
    for c in colours:  # the count printed on each segment stays readable
        fg = plot.text_on(c)
        light, dark = sorted([plot._luminance(c), plot._luminance(fg)], reverse=True)
        assert (light + 0.05) / (dark + 0.05) >= 4.5


def test_empty_charts_say_so():
    for html in (
        plot.bars("Topics", [], empty_message="No answered questions yet."),
        plot.columns("Per day", ["1 Dec"], [0], empty_message="No conversations."),
        plot.stacked("Answers", [], ["1", "2"], empty_message="No answers yet."),
    ):
        chart = soup(html)
        assert chart.select_one("figcaption").get_text() and chart.select_one(".clone-chart-note").get_text()
        assert not chart.select(".clone-bar, .clone-col, .clone-seg")


def test_the_legend_names_a_value_by_an_anchor_only_where_every_item_shares_it(filled, settings):
    from clone.ui.research import distribution_chart

    study, store = filled
    dist = item_distribution(study, store.records(), "mood")
    dist.loc[dist["value"] == 5, "value_label"] = "5 - Very"
    dist.loc[(dist["value"] == 1) & (dist["item"] == "mood_joy_01"), "value_label"] = "1 - Sad"  # its own end
    legend = [li.get_text() for li in soup(distribution_chart(study.instruments[0], dist)).select(".clone-legend li")]
    assert legend == ["1", "2", "3", "4", "5 - Very"]


def test_research_charts_read_as_words_pre_before_post_with_intervals_side_by_side(filled, settings):
    study, store = filled
    h = ResearchHandlers(Services(settings, None, None, None, study, store, None, None))
    dist_html, shift_html, n_html = h.charts(RESEARCH_TOKEN, "mood")
    text = " ".join(soup(x).get_text(" ") for x in (dist_html, shift_html, n_html))
    for raw in ("mood_calm", "mood_joy", "_01", "(pre)", "(post)", "assigned", "·"):
        assert raw not in text  # labels come from the codebook, never raw ids
    dist = soup(dist_html)
    rows = [th.get_text() for th in dist.select("tbody th")]
    assert rows[0] == "I feel calm. (before the chat)" and rows[-1] == "I feel happy. (after the chat)"
    assert rows.index("I feel tense. (before the chat)") < rows.index("I feel tense. (after the chat)")
    assert [li.get_text() for li in dist.select(".clone-legend li")] == ["1", "2", "3", "4", "5"]
    shift = soup(shift_html)
    labels = [th.get_text() for th in shift.select("tbody tr:not(.clone-group) th")]
    assert labels[:4] == ["A, before the chat", "A, after the chat", "B, before the chat", "B, after the chat"]
    # one mean per row: no two conditions drawn on top of each other
    assert all(len(tr.select(".clone-dot")) == 1 for tr in shift.select("tbody tr:not(.clone-group)"))
    assert "2.50 (95% CI -3.85 to 8.85), n = 2" in shift.get_text()
    assert [t.get_text() for t in shift.select(".clone-axis .clone-tick")] == ["1", "2", "3", "4", "5"]
    n = soup(n_html)
    assert [th.get_text() for th in n.select("tbody th")] == ["A", "B"]
    values = [v.get_text() for v in n.select(".clone-value")]
    assert values == ["Assigned: 2", "Finished: 2", "Assigned: 2", "Finished: 1"]
