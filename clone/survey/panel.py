"""Participants sent by a paid panel: who sent them, read from the link they arrived on.

Prolific appends ``PROLIFIC_PID``, ``STUDY_ID`` and ``SESSION_ID`` to the study link; other panels are
asked to append ``pid``. The panel's participant id is never stored: only a keyed hash of it
(HMAC-SHA256 with a random salt per study that stays in the database and is never exported), enough to
refuse a second participation and nothing more. ``SESSION_ID`` is not kept; ``STUDY_ID`` (the
researcher's own study on the panel, not about the person) is kept to check the hand-off.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Mapping
from dataclasses import dataclass

from clone.errors import SurveyError

# The URL parameter each panel adds, and the name it is recorded under, in the order they are looked for.
PANEL_PARAMS: tuple[tuple[str, str], ...] = (("PROLIFIC_PID", "prolific"), ("pid", "other"))
# Panels' ids are short tokens (Prolific's: 24 hex digits); anything else is a broken or tampered link.
_ID = re.compile(r"^[A-Za-z0-9_.:-]{1,128}$")


@dataclass(frozen=True)
class Arrival:
    """Who sent a participant: the panel's name, their id there (kept in memory only) and the panel's study."""

    panel: str
    pid: str
    study_id: str = ""


def arrival(query: Mapping[str, str] | None) -> Arrival | None:
    """The panel hand-off in a page's query parameters, or None for a participant who came on their own.

    A parameter that is present but not a plausible id raises ``SurveyError`` that says so: better than
    counting the participant as someone who came on their own and whom the panel then never pays.
    """
    query = query or {}
    for param, panel in PANEL_PARAMS:
        if param not in query:
            continue
        pid = str(query[param]).strip()
        study_id = str(query.get("STUDY_ID", "")).strip()
        if not _ID.match(pid) or (study_id and not _ID.match(study_id)):
            raise SurveyError(
                f"The link you followed has a broken {param}. Please go back to the panel's page and open the "
                "study link from there again, without changing it."
            )
        return Arrival(panel, pid, study_id)
    return None


def pid_hash(salt: str, pid: str) -> str:
    """The panel id as stored: HMAC-SHA256 keyed with the study's salt, in hex."""
    return hmac.new(salt.encode("utf-8"), pid.encode("utf-8"), hashlib.sha256).hexdigest()
