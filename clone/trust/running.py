"""Consent while the clone runs: which channels the app serves, and a guard that answers, on every message,
whether the creator's signed consent lets the clone answer on this channel now (expiry, revocation, scope)."""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from clone.errors import ConsentError
from clone.persona import Persona
from clone.trust.consent import CONSENT_FILE, Consent, init_command, verify_consent

log = logging.getLogger(__name__)


# The channels this app serves to fans: the web page (``web``), the ``/widget`` embed (``embed``) and the
# ``/chat`` API (``api``). The app starts when the manifest allows at least one; each other one stays closed.
SERVED_CHANNELS = ("web", "embed", "api")
# How often a running app looks at consent.json again (one stat; a re-verification only when it changed).
RECHECK_SECONDS = 1.0


@dataclass(frozen=True)
class Closed:
    """Why the clone may not answer now: ``reason`` "revoked" (no valid consent: expired, removed, badly
    signed) or "channel" (the manifest does not list the channel); ``detail`` is for the creator's log."""

    reason: Literal["revoked", "channel"]
    detail: str


def _stamp(path: Path) -> tuple[int, int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_mtime_ns, st.st_size, st.st_ino)


class ConsentGuard:
    """Answers "does the creator's signed consent let the clone answer on this channel, now?" on every message.

    Expiry is compared with ``clock`` at every call, so a running app stops answering the moment the manifest
    expires. ``consent.json`` is stat'ed at most every ``max_age`` seconds and verified again (signature, persona,
    dates, pinned key) when it changed, so a creator who narrows the channels, renews or removes the manifest
    reaches a running app within that time. Fails closed: a missing, unreadable, badly signed or expired
    manifest closes every channel. Thread-safe: Gradio calls it from many worker threads.
    """

    def __init__(
        self,
        creator_dir: Path,
        persona: Persona,
        *,
        trusted_key: str | None = None,
        max_age: float = RECHECK_SECONDS,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.creator_dir = Path(creator_dir)
        self.path = self.creator_dir / CONSENT_FILE
        self.persona = persona
        self.trusted_key = trusted_key
        self.max_age = max_age
        self.clock = clock or (lambda: datetime.now(UTC))
        self._lock = threading.Lock()
        self._checked_at: float | None = None
        self._stamp: tuple[int, int, int] | None = None
        self._state: Consent | str = "not checked yet"

    def current(self) -> Consent:
        """The manifest in force now. Raises ``ConsentError`` (saying why and how to fix it) when there is none."""
        with self._lock:
            now = time.monotonic()
            if self._checked_at is None or now - self._checked_at >= self.max_age:
                self._checked_at = now
                stamp = _stamp(self.path)
                if stamp != self._stamp or not isinstance(self._state, Consent):
                    self._stamp = stamp
                    self._state = self._verify()
            state = self._state
        if isinstance(state, str):
            raise ConsentError(state)
        expires = state.manifest.expires_at
        if self.clock() >= expires:
            raise ConsentError(
                f"{self.path} expired on {expires:%Y-%m-%d %H:%M} UTC. The creator renews it with: "
                f"{init_command(self.creator_dir)} --force --days 365"
            )
        return state

    def _verify(self) -> Consent | str:
        was_valid = isinstance(self._state, Consent)
        try:
            return verify_consent(
                self.creator_dir, self.persona, self.clock(), channel=None, trusted_key=self.trusted_key
            )
        except ConsentError as exc:
            if was_valid:
                log.warning("The consent manifest is no longer valid; the clone stops answering: %s", exc)
            return str(exc)

    def closed(self, channel: str | None) -> Closed | None:
        """``None`` when the clone may answer on ``channel`` (``None``: any channel) now, else why not."""
        try:
            consent = self.current()
        except ConsentError as exc:
            return Closed("revoked", str(exc))
        if channel is not None and not consent.allows(channel):
            allowed = ", ".join(consent.manifest.scope.channels)
            return Closed("channel", f"{self.path} does not allow the {channel!r} channel (it allows: {allowed})")
        return None


def verify_for_serving(creator_dir: Path, persona: Persona, trusted_key: str | None = None) -> Consent:
    """The creator's consent, valid now and allowing at least one channel this app serves (``ConsentError``
    otherwise, saying how to fix it). Channels it does not list stay closed while the app runs."""
    consent = verify_consent(creator_dir, persona, channel=None, trusted_key=trusted_key)
    if not any(consent.allows(c) for c in SERVED_CHANNELS):
        verify_consent(creator_dir, persona, channel="web", trusted_key=trusted_key)  # raises, with the fix
    return consent
