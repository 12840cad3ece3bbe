"""Reply receipts: an Ed25519 signature by the deployment's key over each reply the clone gives.

A receipt is a compact, self-contained token ``<base64url(payload)>.<base64url(signature)>``. The
payload is canonical JSON (sorted keys, no spaces). Version 2 holds ``v`` (2), ``text_sha256`` (the
reply without citation markers), ``cited_sha256`` (the reply with its ``[n]`` markers), ``persona``,
``sources`` (the numbered source list as the fan sees it: ``{"id", "label", "url"}`` each),
``time`` (ISO-8601 UTC, whole seconds), ``backend``, ``key`` (the signing key's fingerprint) and ``nonce``
(64 random bits, so two equal replies in the same second still get receipts of their own: a rating names
one reply by its receipt). Receipts from before the nonce verify as before.
Only this deployment can check a receipt: it keeps its current key and the public halves of retired
ones under ``CLONE_HOME/keys/``.

The key belongs to the deployment, not the creator: a receipt says "this app gave this reply", which
is all the deployer can vouch for.

What a receipt covers, exactly: the reply text, its citation markers, its numbered source list (each
title and link) and the AI mark with this receipt's code. :meth:`Notary.verify` reads a pasted reply by
its structure, from the end: the AI mark line (as the chat shows it, Markdown or copied text), then
the source list, which must equal the signed one entry for entry, then the body. In the body a
citation link ``[[n]](url)`` counts as the marker ``[n]`` only when ``url`` is the signed link of
source ``n``. The body must then equal the signed reply, with all its markers or with none. Anything
else, anywhere (a line added in the middle, a postscript after the mark, a changed title or link),
makes the text "altered". Text longer than :data:`MAX_TEXT_CHARS` is refused as too long, never cut.

Whitespace does not count: the text is compared after :func:`normalize_text` (Unicode NFC, every run
of whitespace collapsed to one space, ends trimmed), so a reply copied out of a browser, which changes
line breaks, non-breaking spaces and composed accents, still verifies.

Version 1 receipts (issued before source lists were signed) still verify, for the reply text alone:
the pasted text must be the reply body and nothing else.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import logging
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from clone.errors import DeploymentKeyError, ReceiptError
from clone.files import write_atomic
from clone.reply import (
    Cited,
    normalize_text,
    signed_part,
    strip_markers,
)
from clone.trust import keys as keys_io

log = logging.getLogger(__name__)

ALGORITHM = "Ed25519"
RECEIPT_VERSION = 2
SUPPORTED_VERSIONS = (1, 2)
KEYS_DIRNAME = "keys"
KEY_FILENAME = "deployment.ed25519"
RETIRED_DIRNAME = "deployment-retired"
# Bounds on what a fan may paste into Verify. A real token is about 600 characters; a reply with its
# source list and mark is at most a few thousand. Anything longer is refused (never cut) before any
# decoding or hashing.
MAX_TOKEN_CHARS = 4096
MAX_TEXT_CHARS = 20_000

Status = Literal["genuine", "altered", "unknown"]

_B64URL = re.compile(r"[A-Za-z0-9_-]+")
_SHORT_CODE = re.compile(r"[A-Z2-7]{4}(?:-[A-Z2-7]{4}){3}", re.IGNORECASE)
_HEX64 = re.compile(r"[0-9a-f]{64}")
# A receipt inside pasted text (a reply copied with its receipt): two base64url parts, the second a signature.
_TOKEN_IN_TEXT = re.compile(r"(?<![A-Za-z0-9_.-])[A-Za-z0-9_-]{16,}\.[A-Za-z0-9_-]{86}(?![A-Za-z0-9_.-])")
NEEDS_RECEIPT = (
    "That is the short code shown under a reply: it is for comparing at a glance, and Verify needs the full "
    "receipt too. Under the reply, press Copy receipt beside the code (or open AI-generated reply · receipt "
    "and copy the long code) and paste it in Receipt; or paste the whole reply copied with the chat's copy "
    "button, which carries its receipt."
)


def text_sha256(text: str) -> str:
    """Hex SHA-256 of :func:`normalize_text` of ``text``, UTF-8 encoded."""
    return hashlib.sha256(normalize_text(text).encode("utf-8")).hexdigest()


def key_fingerprint(public_key: Ed25519PublicKey) -> str:
    """A short, stable name for a public key: the first 16 hex digits of SHA-256 of its raw 32 bytes."""
    return hashlib.sha256(_raw_public(public_key)).hexdigest()[:16]


def short_code(signature: bytes) -> str:
    """A code a person can compare at a glance, e.g. ``K7Q2-MZXD-AB3C-QQ7Z``: 80 bits of SHA-256(signature)."""
    chars = base64.b32encode(hashlib.sha256(signature).digest()[:10]).decode("ascii")
    return "-".join(chars[i : i + 4] for i in range(0, 16, 4))


@dataclass(frozen=True)
class Receipt:
    """A signed receipt for one reply: the token to keep and the short code to show under the reply."""

    token: str
    short: str
    signed_by: str
    time: str

    def as_dict(self) -> dict[str, str]:
        """The receipt for an API response."""
        return {"receipt": self.token, "code": self.short, "signed_by": self.signed_by, "algorithm": ALGORITHM}


@dataclass(frozen=True)
class Verification:
    """What :meth:`Notary.verify` found. The payload fields are set only when the signature is valid."""

    status: Status
    message: str
    reason: str = ""
    persona: str | None = None
    sources: tuple[str, ...] = field(default_factory=tuple)
    time: str | None = None
    backend: str | None = None
    signed_by: str | None = None
    code: str | None = None
    cited: tuple[Cited, ...] = field(default_factory=tuple)
    # Only the short code was given, and the pasted text carries no receipt with that code: nothing is wrong,
    # the full receipt is missing (see NEEDS_RECEIPT).
    needs_receipt: bool = False

    @property
    def genuine(self) -> bool:
        """True only for a valid receipt whose text matches."""
        return self.status == "genuine"

    def as_dict(self) -> dict[str, object]:
        """The result for an API response."""
        return {
            "status": self.status,
            "message": self.message,
            "reason": self.reason,
            "persona": self.persona,
            "sources": list(self.sources),
            "time": self.time,
            "backend": self.backend,
            "signed_by": self.signed_by,
            "code": self.code,
            "cited": [{"label": c.label, "url": c.url} for c in self.cited],
            "needs_receipt": self.needs_receipt,
            "algorithm": ALGORITHM,
        }


def _unknown(reason: str) -> Verification:
    return Verification(
        status="unknown", message=f"Unknown: this receipt cannot be confirmed ({reason}).", reason=reason
    )


class Notary:
    """Signs replies with the deployment key and verifies receipts against its current and retired keys."""

    def __init__(self, private_key: Ed25519PrivateKey, retired: Sequence[Ed25519PublicKey] = ()) -> None:
        self._private = private_key
        self._public = private_key.public_key()
        self._fingerprint = key_fingerprint(self._public)
        self._known: dict[str, Ed25519PublicKey] = {key_fingerprint(k): k for k in retired}
        self._known[self._fingerprint] = self._public

    @classmethod
    def load(cls, home: Path | str) -> Notary:
        """The notary of the deployment at ``home`` (``CLONE_HOME``); creates its key on first use."""
        keys = Path(home) / KEYS_DIRNAME
        return cls(_deployment_key(keys / KEY_FILENAME), _load_retired(keys / RETIRED_DIRNAME))

    @property
    def fingerprint(self) -> str:
        """The current key's fingerprint, as found in the ``key`` field of new receipts."""
        return self._fingerprint

    @property
    def public_key_b64(self) -> str:
        """The current public key: its raw 32 bytes in standard base64, for "About this clone"."""
        return base64.b64encode(_raw_public(self._public)).decode("ascii")

    @property
    def known_fingerprints(self) -> list[str]:
        """Fingerprints of every key whose receipts this notary accepts, current one first."""
        return [self._fingerprint, *sorted(k for k in self._known if k != self._fingerprint)]

    def sign(
        self,
        text: str,
        persona_id: str,
        sources: Sequence[Cited | str],
        backend: str,
        at: datetime | None = None,
    ) -> Receipt:
        """A receipt for ``text`` (with its ``[n]`` markers) as given by ``persona_id`` on ``backend``.

        ``sources`` is the numbered source list the markers point at, in order; a plain string stands for
        an entry whose id and label are that string and which has no link. ``at`` defaults to now; a naive
        datetime is taken as UTC. It is stored to the second.
        """
        cited = [s if isinstance(s, Cited) else Cited(str(s), str(s)) for s in sources]
        moment = (at or datetime.now(UTC)).replace(microsecond=0)
        moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
        stamp = moment.isoformat().replace("+00:00", "Z")
        payload = {
            "v": RECEIPT_VERSION,
            "text_sha256": text_sha256(strip_markers(text)),
            "cited_sha256": text_sha256(text),
            "persona": persona_id,
            "sources": [c.as_dict() for c in cited],
            "time": stamp,
            "backend": backend,
            "key": self._fingerprint,
            "nonce": secrets.token_hex(8),
        }
        body = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
        signature = self._private.sign(body)
        return Receipt(
            token=f"{_b64url(body)}.{_b64url(signature)}",
            short=short_code(signature),
            signed_by=self._fingerprint,
            time=stamp,
        )

    def verify(self, text: str, receipt: str) -> Verification:
        """Check ``receipt`` against the pasted reply ``text``. Never raises on bad input: see the module doc."""
        if not isinstance(receipt, str) or not isinstance(text, str):
            return _unknown("the reply text and the receipt must both be text")
        if len(receipt) > MAX_TOKEN_CHARS:
            return _unknown(f"a receipt is at most {MAX_TOKEN_CHARS:,} characters; this one is {len(receipt):,}")
        if len(text) > MAX_TEXT_CHARS:
            return _unknown(
                f"the pasted text is too long: a reply is at most {MAX_TEXT_CHARS:,} characters; "
                f"this text is {len(text):,}"
            )
        token = "".join(receipt.split())  # pasted tokens may pick up line breaks
        if not token or _SHORT_CODE.fullmatch(token):
            # A reply copied with its receipt carries it: the short code (or nothing) then picks it out.
            found = receipt_in_text(text, token or None)
            if found is None and token:
                return Verification(
                    status="unknown",
                    message="Not checked yet: " + NEEDS_RECEIPT,
                    reason="that is the short code shown under a reply; paste the full receipt to check it",
                    needs_receipt=True,
                )
            if found is None:
                return _unknown("no receipt was given")
            token = found
        opened = self._open(token)
        if isinstance(opened, Verification):
            return opened
        payload, signature = opened
        cited = tuple(_cited(payload))
        code = short_code(signature)
        details = {
            "persona": payload["persona"],
            "sources": tuple(c.id for c in cited),
            "cited": cited,
            "time": payload["time"],
            "backend": payload["backend"],
            "signed_by": payload["key"],
            "code": code,
        }
        when = payload["time"].replace("T", " ").removesuffix("Z") + " UTC"
        n = len(cited)
        if payload["v"] == 1:  # signed the reply text alone: nothing else may be pasted with it
            matches = hmac.compare_digest(text_sha256(text), payload["text_sha256"])
        else:
            digest = text_sha256(signed_part(text, cited, code, token))
            matches = hmac.compare_digest(digest, payload["text_sha256"]) or hmac.compare_digest(
                digest, payload["cited_sha256"]
            )
        if not matches:
            return Verification(
                status="altered",
                message=(
                    f"Altered: this clone ({payload['persona']}) did issue this receipt on {when}, "
                    "but the text you pasted is not the reply it was issued for."
                ),
                reason="the text does not match the signed reply",
                **details,
            )
        return Verification(
            status="genuine",
            message=(
                f"Genuine: this clone ({payload['persona']}) gave this reply on {when} "
                f"with the {payload['backend']} backend, citing {n} source{'' if n == 1 else 's'}."
                + (" This older receipt covers the reply text only, not its source list." if payload["v"] == 1 else "")
            ),
            **details,
        )

    def authentic(self, receipt: str) -> str:
        """The short code of ``receipt`` if this deployment signed it (its signature checked, no reply text needed).

        Raises ``ReceiptError`` saying why not: not text, too long, not a receipt, another deployment's, or changed.
        """
        if not isinstance(receipt, str):
            raise ReceiptError("The receipt must be text.")
        if len(receipt) > MAX_TOKEN_CHARS:
            raise ReceiptError(f"A receipt is at most {MAX_TOKEN_CHARS:,} characters; this one is {len(receipt):,}.")
        token = "".join(receipt.split())
        if not token:
            raise ReceiptError("No receipt was given: send the reply's full receipt (the `receipt` field of /chat).")
        if _SHORT_CODE.fullmatch(token):
            raise ReceiptError("That is a reply's short code; send its full receipt (the `receipt` field of /chat).")
        opened = self._open(token)
        if isinstance(opened, Verification):
            raise ReceiptError(f"This receipt cannot be confirmed: {opened.reason}.")
        return short_code(opened[1])

    def _open(self, token: str) -> tuple[dict, bytes] | Verification:
        """A token's payload and signature once the signature checks out; else an "unknown" verdict saying why."""
        parts = token.split(".")
        if len(parts) != 2 or not all(_B64URL.fullmatch(p) for p in parts):
            return _unknown("this is not a receipt: it should be two base64url parts joined by a dot")
        body, signature = _b64url_decode(parts[0]), _b64url_decode(parts[1])
        if body is None or signature is None or len(signature) != 64:
            return _unknown("this is not a receipt: its parts do not decode")
        try:
            payload = json.loads(body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError, RecursionError):  # deep nesting overflows the decoder
            return _unknown("this is not a receipt: its payload is not JSON")
        if not isinstance(payload, dict) or not isinstance(payload.get("key"), str):
            return _unknown("this is not a receipt: its payload names no key")
        public = self._known.get(payload["key"])
        if public is None:
            return _unknown("it was signed by a key this clone does not know, so another deployment issued it")
        try:
            public.verify(signature, body)
        except InvalidSignature:
            return _unknown("its signature does not match, so the receipt was changed after it was issued")
        if not _valid_payload(payload):
            return _unknown(f"receipt version {payload.get('v')!r} is not supported by this clone")
        return payload, signature


def receipt_in_text(text: str, code: str | None = None) -> str | None:
    """The receipt carried in pasted ``text`` (a reply copied with its receipt), or None.

    With ``code`` (a short code, any case), the receipt whose signature gives that code; without, the only
    receipt in the text (None when there are several). Nothing is verified here.
    """
    found = []
    for token in dict.fromkeys(_TOKEN_IN_TEXT.findall(text or "")):
        signature = _b64url_decode(token.rsplit(".", 1)[1])
        if signature is None or len(signature) != 64:
            continue
        if code is None or short_code(signature) == code.upper():
            found.append(token)
    return found[0] if len(found) == 1 or (found and code) else None


def _cited(payload: dict) -> list[Cited]:
    if payload["v"] == 1:  # ids only
        return [Cited(s, s) for s in payload["sources"]]
    return [Cited(s["id"], s["label"], s["url"]) for s in payload["sources"]]


def rotate_key(home: Path | str) -> str:
    """Replace the deployment key with a new one; return the new fingerprint.

    The old public key is kept under ``keys/deployment-retired/`` so receipts it signed still verify;
    its private key is deleted (overwritten by the new key file). Running apps keep signing with the key
    they loaded until they restart.
    """
    keys = Path(home) / KEYS_DIRNAME
    path = keys / KEY_FILENAME
    if not path.exists():
        return Notary.load(home).fingerprint
    old = keys_io.read_private(path, error=DeploymentKeyError, fix=_KEY_FIX).public_key()
    retired = keys / RETIRED_DIRNAME
    retired.mkdir(mode=0o700, parents=True, exist_ok=True)
    pem = old.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    # The public half is safely on disk before the private half is replaced.
    write_atomic(retired / f"{key_fingerprint(old)}.pub", pem)
    new = Ed25519PrivateKey.generate()
    keys_io.replace_private(path, new)
    fingerprint = key_fingerprint(new.public_key())
    log.info("Rotated the deployment key: %s retired, %s now signs receipts.", key_fingerprint(old), fingerprint)
    return fingerprint


def _raw_public(public_key: Ed25519PublicKey) -> bytes:
    return public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64url_decode(part: str) -> bytes | None:
    try:
        return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))
    except (binascii.Error, ValueError):
        return None


def _valid_payload(payload: dict) -> bool:
    version = payload.get("v")
    common = (
        type(version) is int  # JSON true is not version 1
        and version in SUPPORTED_VERSIONS
        and isinstance(payload.get("text_sha256"), str)
        and _HEX64.fullmatch(payload["text_sha256"]) is not None
        and isinstance(payload.get("persona"), str)
        and isinstance(payload.get("sources"), list)
        and isinstance(payload.get("time"), str)
        and isinstance(payload.get("backend"), str)
    )
    if not common:
        return False
    if version == 1:
        return all(isinstance(s, str) for s in payload["sources"])
    return (
        isinstance(payload.get("cited_sha256"), str)
        and _HEX64.fullmatch(payload["cited_sha256"]) is not None
        and all(
            isinstance(s, dict) and set(s) == {"id", "label", "url"} and all(isinstance(v, str) for v in s.values())
            for s in payload["sources"]
        )
    )


_KEY_FIX = (
    "Restore it from your backup, or delete it to start a new key (receipts signed by the lost key will then "
    "read as unknown)."
)


def _deployment_key(path: Path) -> Ed25519PrivateKey:
    """The deployment key at ``path``, made on first start (when several processes start at once, one makes it)."""
    key, created = keys_io.load_or_create(path, error=DeploymentKeyError, fix=_KEY_FIX)
    if created:
        log.info("Created the deployment key %s in %s.", key_fingerprint(key.public_key()), path.parent)
    return key


def _load_retired(folder: Path) -> list[Ed25519PublicKey]:
    keys = []
    for file in sorted(folder.glob("*.pub")):
        try:
            key = serialization.load_pem_public_key(file.read_bytes())
        except ValueError:
            key = None
        if not isinstance(key, Ed25519PublicKey):
            raise DeploymentKeyError(f"{file} is not an Ed25519 public key in PEM. Restore it from your backup.")
        keys.append(key)
    return keys
