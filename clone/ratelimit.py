"""Per-client rate limits, in memory only.

A client is known by ``HMAC-SHA256(salt, address)``: the salt is drawn at random when the process starts
and never written anywhere, so the keys cannot be turned back into addresses, and no address is stored.
Limits hold across browser sessions and across routes (the UI and the REST API share one key per client);
each replica of the app counts on its own.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import secrets
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Mapping

# The process's salt: random, in memory only, gone when the process ends.
_SALT = secrets.token_bytes(32)


def client_key(address: str | None) -> str:
    """The keyed hash a limit counts under (never the address itself)."""
    return hmac.new(_SALT, (address or "unknown").encode("utf-8", "replace"), hashlib.sha256).hexdigest()


def client_address(host: str | None, headers: Mapping[str, str] | None, proxy_hops: int = 0) -> str:
    """The client's address: the connection's peer, or with ``proxy_hops`` trusted proxies in front, the
    address the outermost of them saw (counted from the right of ``X-Forwarded-For``, which a client cannot
    forge: every proxy appends the address it received the request from)."""
    if proxy_hops > 0 and headers:
        forwarded = [a.strip() for a in (headers.get("x-forwarded-for") or "").split(",") if a.strip()]
        if forwarded:
            return forwarded[-min(proxy_hops, len(forwarded))]
    return host or "unknown"


class RateLimit:
    """At most ``limit`` hits per client in any ``window`` seconds (a sliding window), thread-safe.

    Bounded: at most ``max_clients`` keys are remembered, the least recently seen go first.
    """

    def __init__(
        self,
        limit: int,
        window: float,
        *,
        max_clients: int = 50_000,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.limit = limit
        self.window = window
        self.max_clients = max_clients
        self.clock = clock
        self._hits: OrderedDict[str, deque[float]] = OrderedDict()
        self._lock = threading.Lock()

    def _recent(self, key: str, now: float) -> deque[float]:
        hits = self._hits.pop(key, None) or deque()
        while hits and hits[0] <= now - self.window:
            hits.popleft()
        self._hits[key] = hits  # most recently seen last
        while len(self._hits) > self.max_clients:
            self._hits.popitem(last=False)
        return hits

    def hit(self, key: str) -> float:
        """Count one hit for ``key`` if it is allowed. Returns 0 when allowed, else the seconds to wait."""
        with self._lock:
            now = self.clock()
            hits = self._recent(key, now)
            if len(hits) >= self.limit:
                return max(hits[0] + self.window - now, 0.001)
            hits.append(now)
            return 0.0

    def blocked(self, key: str) -> float:
        """Seconds ``key`` must wait before its next hit is allowed (0: not blocked); counts nothing."""
        with self._lock:
            now = self.clock()
            hits = self._recent(key, now)
            return max(hits[0] + self.window - now, 0.001) if len(hits) >= self.limit else 0.0

    def __len__(self) -> int:
        return len(self._hits)


def wait_text(seconds: float) -> str:
    """``seconds`` in words a person reads: "1 minute", "40 seconds"."""
    if seconds >= 90:
        minutes = math.ceil(seconds / 60)
        return f"{minutes} minutes"
    seconds = max(1, math.ceil(seconds))
    return "1 second" if seconds == 1 else f"{seconds} seconds"
