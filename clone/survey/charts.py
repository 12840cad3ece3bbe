"""Chart data for researchers and creators: plain functions from stored records to pandas DataFrames.

The Researchers tab draws them with Gradio's native plots; tests check the numbers directly. Subscale
means come from :func:`clone.survey.export.wide_rows`, so a chart and the wide CSV never disagree.
"""

from __future__ import annotations

import math

import pandas as pd

from clone.survey.design import parse_cell
from clone.survey.export import _subscales, wide_rows
from clone.survey.instruments import PHASES, Study
from clone.survey.store import AssignmentRow, ParticipantRecord

DISTRIBUTION_COLUMNS = ["phase", "item", "value", "count", "label", "value_label"]
SHIFT_COLUMNS = ["condition", "measure", "phase", "mean", "n", "sd", "low", "high", "label", "condition_label"]
N_COLUMNS = ["condition", "status", "n", "condition_label"]

# Two-sided 95% critical values of Student's t by degrees of freedom (1..30), then the normal value.
_T95 = (
    12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160, 2.145, 2.131,
    2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042,
)  # fmt: skip


def t95(df: int) -> float:
    """The two-sided 95% critical value of Student's t with ``df`` degrees of freedom (1.96 from 120 on)."""
    if df < 1:
        raise ValueError("a t interval needs at least 2 values")
    if df <= len(_T95):
        return _T95[df - 1]
    return 2.021 if df <= 40 else 2.000 if df <= 60 else 1.980 if df <= 120 else 1.960


def mean_interval(values: list[float]) -> tuple[float, float, float, float]:
    """(mean, sd, low, high): the mean with its 95% t interval; NaN where there are too few values."""
    nan = float("nan")
    if not values:
        return nan, nan, nan, nan
    mean = sum(values) / len(values)
    if len(values) < 2:
        return mean, nan, nan, nan
    sd = math.sqrt(sum((v - mean) ** 2 for v in values) / (len(values) - 1))
    half = t95(len(values) - 1) * sd / math.sqrt(len(values))
    return mean, sd, mean - half, mean + half


def readable(slug: str) -> str:
    """An id as words for a reader: ``citations_hidden`` -> ``Citations hidden``; a factorial cell
    ``citations=hidden|tone=warm`` -> ``Citations hidden, tone warm``."""
    if "=" in slug:
        slug = ", ".join(f"{factor} {level}" for factor, level in parse_cell(slug).items())
    words = slug.replace("_", " ").strip()
    return words[:1].upper() + words[1:]


def subscale_label(instrument, subscale: str) -> str:
    """A subscale as the codebook names it: the instrument's title, and the subscale where it has several."""
    subscales = _subscales(instrument)
    return instrument.title if len(subscales) <= 1 else f"{instrument.title}: {readable(subscale).lower()}"


def item_distribution(study: Study, records: list[ParticipantRecord], instrument_id: str) -> pd.DataFrame:
    """Counts per answer value per item of one instrument, every phase it is asked in.

    One row per (phase, item, value) over the whole scale, zeros included, so an unused answer shows as
    a gap rather than vanishing. ``item`` is the column name without the phase suffix; ``label`` is the
    item's text from the codebook and ``value_label`` the answer's anchor (``"5 - Somewhat agree"``). Pre
    comes before post.
    """
    instrument = next((i for i in study.instruments if i.id == instrument_id), None)
    if instrument is None:
        return pd.DataFrame(columns=DISTRIBUTION_COLUMNS)
    rows = []
    for phase in PHASES:
        if not instrument.asked_in(phase):
            continue
        for q in instrument.questions:
            counts = {v: 0 for v in range(instrument.scale.min, instrument.scale.max + 1)}
            for r in records:
                value = r.answers.get((phase, q.column))
                if value is not None:
                    counts[value] = counts.get(value, 0) + 1
            rows += [[phase, q.column, v, n, q.item.text, q.label(instrument.scale, v)] for v, n in counts.items()]
    return pd.DataFrame(rows, columns=DISTRIBUTION_COLUMNS)


def pre_post_means(study: Study, records: list[ParticipantRecord]) -> pd.DataFrame:
    """Mean of each subscale asked in both phases, pre and post, per condition.

    Only finished participants count (post answers saved), so the pre and post means describe the same
    people and dropouts cannot fake a shift. ``measure`` is ``<instrument>_<subscale>``; each
    participant's subscale score is the wide file's ``..._mean_<phase>`` (reverse items reversed).
    ``sd``, ``low`` and ``high`` give the standard deviation and the 95% t interval of the mean (NaN below
    two people); ``label`` and ``condition_label`` are words for the chart, never raw ids.
    """
    finished = [r for r in records if r.post_at is not None]
    by_id = {row["participant_id"]: row for row in wide_rows(study, finished)}
    rows = []
    repeated = [i for i in study.instruments if all(i.asked_in(p) for p in PHASES)]
    for condition in [c.id for c in study.conditions]:
        people = [by_id[r.participant_id] for r in finished if r.condition == condition]
        for instrument in repeated:
            for sub in _subscales(instrument):
                for phase in PHASES:
                    rows.append(_mean_row(condition, instrument, sub, phase, people))
    return pd.DataFrame(rows, columns=SHIFT_COLUMNS)


def _mean_row(condition: str, instrument, sub: str, phase: str, people: list[dict]) -> list:
    """One row of :data:`SHIFT_COLUMNS`: a subscale's mean in a phase over ``people`` (wide rows), with its interval."""
    scores = [p[f"{instrument.id}_{sub}_mean_{phase}"] for p in people]
    scores = [s for s in scores if s != ""]
    mean, sd, low, high = (round(v, 4) for v in mean_interval(scores))
    return [condition, f"{instrument.id}_{sub}", phase, mean, len(scores), sd, low, high,
            subscale_label(instrument, sub), readable(condition)]  # fmt: skip


def n_per_condition(study: Study, records: list[ParticipantRecord], assignments: list[AssignmentRow]) -> pd.DataFrame:
    """How many participants each condition was assigned (withdrawals included) and how many finished.

    Simulated participants hold no slot of the randomization log: those among ``records`` count as assigned too.
    """
    rows = []
    for condition in [c.id for c in study.conditions]:
        assigned = sum(a.condition == condition for a in assignments)
        assigned += sum(r.simulated and r.condition == condition for r in records)
        finished = sum(r.condition == condition and r.post_at is not None for r in records)
        rows += [
            [condition, "assigned", assigned, readable(condition)],
            [condition, "finished", finished, readable(condition)],
        ]
    return pd.DataFrame(rows, columns=N_COLUMNS)


DROPOUT_STEPS = (
    ("consented", "Consented"),
    ("pre", "Pre-chat answers saved"),
    ("chat", "Finished chatting"),
    ("post", "Post-chat answers saved"),
)


def condition_means(study: Study, records: list[ParticipantRecord]) -> pd.DataFrame:
    """Mean of every subscale in each phase per condition, with its 95% t interval, over finished participants.

    Columns as :func:`pre_post_means` (``low`` / ``high`` NaN below two people); every instrument counts,
    not only the repeated ones. Attention and manipulation checks have no subscale mean and do not appear.
    """
    finished = [r for r in records if r.post_at is not None]
    by_id = {row["participant_id"]: row for row in wide_rows(study, finished)}
    rows = []
    for condition in [c.id for c in study.conditions]:
        people = [by_id[r.participant_id] for r in finished if r.condition == condition]
        for phase in PHASES:
            for instrument in study.phase(phase):
                for sub in _subscales(instrument):
                    rows.append(_mean_row(condition, instrument, sub, phase, people))
    return pd.DataFrame(rows, columns=SHIFT_COLUMNS)


def dropouts(study: Study, records: list[ParticipantRecord]) -> pd.DataFrame:
    """How many participants of each condition reached each step (``DROPOUT_STEPS``), in order."""
    reached = {
        "consented": lambda r: True,
        "pre": lambda r: r.pre_at is not None,
        "chat": lambda r: "chat" in r.steps or r.post_at is not None,
        "post": lambda r: r.post_at is not None,
    }
    rows = []
    for step, label in DROPOUT_STEPS:
        for c in study.conditions:
            n = sum(1 for r in records if r.condition == c.id and reached[step](r))
            rows.append([step, label, c.id, readable(c.id), n])
    return pd.DataFrame(rows, columns=["step", "label", "condition", "condition_label", "n"])
