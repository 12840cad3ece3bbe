"""A study participant's chat, counted on the server: replies, abstentions, refusals, time, and the kept transcript.

The chat handler counts each reply here by participant id; the last survey step reads the counts into the
participant's record (:meth:`clone.survey.store.SurveyStore.finish`) and forgets them.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict

from clone.db import utc_now
from clone.survey.store import ChatMetrics

MAX_TRANSCRIPT_TURNS = 200


class ChatTally:
    """Study participants' chat metrics (and opted-in transcripts), kept on the server by participant id.

    Not in the browser's state: the chat and the survey steps would both write that, and a reply still
    streaming when the participant moves on would write back an older copy. Bounded: the oldest entries
    (participants who never finished) go first.
    """

    def __init__(self, limit: int = 20_000):
        self.limit = limit
        self._items: OrderedDict[str, dict] = OrderedDict()
        self._lock = threading.Lock()

    def count(self, participant: dict, message: str, reply, now: float) -> None:
        """Count one reply to this participant (and keep the exchange, if they opted in)."""
        with self._lock:
            t = self._items.pop(participant["id"], None) or {
                "turns": 0,
                "abstentions": 0,
                "refusals": 0,
                "first": now,
                "last": now,
                "transcript": [],
            }
            t["turns"] += 1
            t["abstentions"] += int(bool(reply.abstained))
            t["refusals"] += int(bool(reply.refused))
            t["last"] = time.time()
            if participant.get("transcript_opt_in") and len(t["transcript"]) < MAX_TRANSCRIPT_TURNS:
                t["transcript"].append({"at": utc_now(), "fan": message, "clone": reply.text})
            self._items[participant["id"]] = t
            while len(self._items) > self.limit:
                self._items.popitem(last=False)

    def metrics(self, participant_id: str) -> tuple[ChatMetrics, list]:
        """The participant's chat metrics so far, and the kept transcript (empty unless opted in)."""
        with self._lock:
            t = self._items.get(participant_id)
            if t is None:
                return ChatMetrics(), []
            return (
                ChatMetrics(t["turns"], t["last"] - t["first"], t["abstentions"], t["refusals"]),
                list(t["transcript"]),
            )

    def forget(self, participant_id: str) -> None:
        """Drop a finished participant's entry (the database has it now)."""
        with self._lock:
            self._items.pop(participant_id, None)
