"""Analysis at a glance in the researcher console: each scale's mean per condition with its 95% interval and N,
and how many of each condition reached each step. Checked against scipy's t interval on the wide file."""

import io
import re

import pandas as pd
from scipy import stats

from clone.survey import ChatMetrics, wide_csv
from clone.survey.charts import condition_means, dropouts
from tests.conftest import RESEARCH_TOKEN


def answers(study, phase: str, value: int) -> dict:
    return {c.question.column: c.question.item.attention or value for c in study.columns(phase)}


def kw():
    return dict(consent_version="1", transcript_opt_in=False, persona_id="demo", app_version="9", backend="extractive")


def test_the_console_shows_means_with_intervals_per_condition_and_dropouts_by_step(screens):
    services = screens.services
    study, store = services.study, services.store
    made = [store.assign(study, **kw()) for _ in range(12)]
    # Finished participants answer differently, so each condition's interval is a real one.
    for n, a in enumerate(made[:9]):
        store.save_phase(study, a.participant_id, "pre", answers(study, "pre", 2 + n % 5))
        if n < 7:
            store.step_done(a.participant_id, "chat")
            store.finish(study, a.participant_id, chat=ChatMetrics(1, 1.0, 0, 0))
            store.save_phase(study, a.participant_id, "post", answers(study, "post", 1 + (n * 3) % 5))
    records = store.records()
    wide = pd.read_csv(io.StringIO(wide_csv(study, records)))
    finished = wide[wide.finished == 1]
    means = condition_means(study, records)
    for condition in ("citations_shown", "citations_hidden"):
        scores = finished[finished.condition == condition]["pcts_malice_mean_post"]
        row = means[(means.condition == condition) & (means.measure == "pcts_malice") & (means.phase == "post")].iloc[0]
        low, high = stats.t.interval(0.95, len(scores) - 1, loc=scores.mean(), scale=stats.sem(scores))
        assert row["n"] == len(scores) and abs(row["mean"] - scores.mean()) < 1e-4
        assert abs(row["low"] - low) < 2e-3 and abs(row["high"] - high) < 2e-3
    assert not means.measure.str.startswith(("attention", "manipulation")).any()
    steps = dropouts(study, records).groupby("step", sort=False)["n"].sum()
    assert list(steps.index) == ["consented", "pre", "chat", "post"] and list(steps) == [12, 9, 7, 7]
    status = screens.research.status(RESEARCH_TOKEN)
    assert "| Scale | Phase | Citations shown | Citations hidden |" in status
    shown = means[(means.condition == "citations_shown") & (means.measure == "pcts_malice") & (means.phase == "post")]
    r = shown.iloc[0]
    assert f"{r['mean']:.2f} [{r['low']:.2f}, {r['high']:.2f}] (n={r['n']})" in status
    per_step = dropouts(study, records)
    consented = per_step[per_step.step == "consented"]["n"].tolist()
    assert f"| Consented | {consented[0]} | {consented[1]} |" in status


def test_before_anyone_finishes_the_console_says_so_without_numbers_it_does_not_have(screens):
    study, store = screens.services.study, screens.services.store
    store.assign(study, **kw())
    status = screens.research.status(RESEARCH_TOKEN)
    assert "| – | –" not in status and "– (n=0) | – (n=0)" in status and "nan" not in status.lower()
    consented = re.search(r"\| Consented \| (\d+) \| (\d+) \|", status)
    assert sorted(map(int, consented.groups())) == [0, 1] and "| Post-chat answers saved | 0 | 0 |" in status
