"""The reaction survey: instruments, conditions, storage, export."""

from clone.survey.export import (
    codebook,
    codebook_csv,
    codebook_json,
    long_csv,
    wide_csv,
    write_study_export,
)
from clone.survey.instruments import Instrument, Study, load_study
from clone.survey.store import Assignment, ChatMetrics, SurveyStore

__all__ = [
    "Assignment",
    "ChatMetrics",
    "Instrument",
    "Study",
    "SurveyStore",
    "codebook",
    "codebook_csv",
    "codebook_json",
    "load_study",
    "long_csv",
    "wide_csv",
    "write_study_export",
]
