"""The reaction survey: instruments, storage, export."""

from clone.survey.export import responses_csv, write_export
from clone.survey.instruments import Instrument, load_instrument
from clone.survey.store import SurveyStore

__all__ = ["Instrument", "SurveyStore", "load_instrument", "responses_csv", "write_export"]
