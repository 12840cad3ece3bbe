"""Chart data for researchers and creators: plain functions from stored records to pandas DataFrames.

The Researchers tab draws them with Gradio's native plots; tests check the numbers directly. Subscale
means come from :func:`clone.survey.export.wide_rows`, so a chart and the wide CSV never disagree.
"""

from __future__ import annotations

import pandas as pd

from clone.survey.export import _subscales, wide_rows
from clone.survey.instruments import PHASES, Study
from clone.survey.store import AssignmentRow, ParticipantRecord

DISTRIBUTION_COLUMNS = ["phase", "item", "value", "count"]
SHIFT_COLUMNS = ["condition", "measure", "phase", "mean", "n"]
N_COLUMNS = ["condition", "status", "n"]


def item_distribution(study: Study, records: list[ParticipantRecord], instrument_id: str) -> pd.DataFrame:
    """Counts per answer value per item of one instrument, every phase it is asked in.

    One row per (phase, item, value) over the whole scale, zeros included, so an unused answer shows as
    a gap rather than vanishing. ``item`` is the column name without the phase suffix.
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
            rows += [[phase, q.column, v, n] for v, n in counts.items()]
    return pd.DataFrame(rows, columns=DISTRIBUTION_COLUMNS)


def pre_post_means(study: Study, records: list[ParticipantRecord]) -> pd.DataFrame:
    """Mean of each subscale asked in both phases, pre and post, per condition.

    Only finished participants count (post answers saved), so the pre and post means describe the same
    people and dropouts cannot fake a shift. ``measure`` is ``<instrument>_<subscale>``; each
    participant's subscale score is the wide file's ``..._mean_<phase>`` (reverse items reversed).
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
                    scores = [p[f"{instrument.id}_{sub}_mean_{phase}"] for p in people]
                    scores = [s for s in scores if s != ""]
                    mean = round(sum(scores) / len(scores), 4) if scores else float("nan")
                    rows.append([condition, f"{instrument.id}_{sub}", phase, mean, len(scores)])
    return pd.DataFrame(rows, columns=SHIFT_COLUMNS)


def n_per_condition(study: Study, records: list[ParticipantRecord], assignments: list[AssignmentRow]) -> pd.DataFrame:
    """How many participants each condition was assigned (withdrawals included) and how many finished."""
    rows = []
    for condition in [c.id for c in study.conditions]:
        assigned = sum(a.condition == condition for a in assignments)
        finished = sum(r.condition == condition and r.post_at is not None for r in records)
        rows += [[condition, "assigned", assigned], [condition, "finished", finished]]
    return pd.DataFrame(rows, columns=N_COLUMNS)
