"""Reply receipts: an Ed25519 signature by the deployment's key over each reply the clone gives.

A receipt is a compact, self-contained token ``<base64url(payload)>.<base64url(signature)>``. The
payload is canonical JSON (sorted keys, no spaces) holding ``v`` (1), ``text_sha256``, ``persona``,
``sources`` (ids), ``time`` (ISO-8601 UTC, whole seconds), ``backend`` and ``key`` (the signing
key's fingerprint). Only this deployment can check a receipt: it keeps its current key and the public
halves of retired ones under ``CLONE_HOME/keys/``.

The key belongs to the deployment, not the creator: a receipt says "this app gave this reply", which
is all the deployer can vouch for.

``text_sha256`` is taken over the reply text after :func:`normalize_text` (Unicode NFC, every run of
whitespace collapsed to one space, ends trimmed), so a reply copied out of a browser, which changes
line breaks, non-breaking spaces and composed accents, still verifies. Anything else changed, down to
one letter, makes the text "altered".
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import logging
import os
import re
import time as _time
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from clone.errors import DeploymentKeyError

log = logging.getLogger(__name__)

ALGORITHM = "Ed25519"
RECEIPT_VERSION = 1
KEYS_DIRNAME = "keys"
KEY_FILENAME = "deployment.ed25519"
RETIRED_DIRNAME = "deployment-retired"
# Bounds on what a fan may paste into Verify. A real token is about 400 characters; a reply is at most
# a few thousand. Anything longer is refused before any decoding or hashing.
MAX_TOKEN_CHARS = 4096
MAX_TEXT_CHARS = 20_000
# How long a process that lost the race to create the key waits for the winner to finish writing it.
_KEY_WAIT_S = 5.0

Status = Literal["genuine", "altered", "unknown"]

_B64URL = re.compile(r"[A-Za-z0-9_-]+")
_SHORT_CODE = re.compile(r"[A-Z2-7]{4}(?:-[A-Z2-7]{4}){3}", re.IGNORECASE)
_HEX64 = re.compile(r"[0-9a-f]{64}")


def normalize_text(text: str) -> str:
    """The reply text as it is hashed: NFC, whitespace runs collapsed to one space, ends trimmed."""
    return " ".join(unicodedata.normalize("NFC", text).split())


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
        return cls(_load_or_create_private(keys / KEY_FILENAME), _load_retired(keys / RETIRED_DIRNAME))

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
        self, text: str, persona_id: str, source_ids: list[str], backend: str, at: datetime | None = None
    ) -> Receipt:
        """A receipt for ``text`` as given by ``persona_id`` on ``backend`` citing ``source_ids``.

        ``at`` defaults to now; a naive datetime is taken as UTC. It is stored to the second.
        """
        moment = (at or datetime.now(UTC)).replace(microsecond=0)
        moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
        stamp = moment.isoformat().replace("+00:00", "Z")
        payload = {
            "v": RECEIPT_VERSION,
            "text_sha256": text_sha256(text),
            "persona": persona_id,
            "sources": [str(s) for s in source_ids],
            "time": stamp,
            "backend": backend,
            "key": self._fingerprint,
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
            return _unknown(f"a reply is at most {MAX_TEXT_CHARS:,} characters; the pasted text is {len(text):,}")
        token = "".join(receipt.split())  # pasted tokens may pick up line breaks
        if not token:
            return _unknown("no receipt was given")
        if _SHORT_CODE.fullmatch(token):
            return _unknown("that is the short code shown under a reply; paste the full receipt to check it")
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
        details = {
            "persona": payload["persona"],
            "sources": tuple(payload["sources"]),
            "time": payload["time"],
            "backend": payload["backend"],
            "signed_by": payload["key"],
            "code": short_code(signature),
        }
        when = payload["time"].replace("T", " ").removesuffix("Z") + " UTC"
        n = len(payload["sources"])
        if not hmac.compare_digest(text_sha256(text), payload["text_sha256"]):
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
            ),
            **details,
        )


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
    old = _read_private(path).public_key()
    retired = keys / RETIRED_DIRNAME
    retired.mkdir(mode=0o700, parents=True, exist_ok=True)
    pem = old.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    # The public half is safely on disk before the private half is replaced.
    _write_replace(retired / f"{key_fingerprint(old)}.pub", pem, 0o644)
    new = Ed25519PrivateKey.generate()
    _write_replace(path, _private_pem(new), 0o600)
    fingerprint = key_fingerprint(new.public_key())
    log.info("Rotated the deployment key: %s retired, %s now signs receipts.", key_fingerprint(old), fingerprint)
    return fingerprint


def _raw_public(public_key: Ed25519PublicKey) -> bytes:
    return public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def _private_pem(key: Ed25519PrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64url_decode(part: str) -> bytes | None:
    try:
        return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))
    except (binascii.Error, ValueError):
        return None


def _valid_payload(payload: dict) -> bool:
    return (
        payload.get("v") == RECEIPT_VERSION
        and isinstance(payload.get("text_sha256"), str)
        and _HEX64.fullmatch(payload["text_sha256"]) is not None
        and isinstance(payload.get("persona"), str)
        and isinstance(payload.get("sources"), list)
        and all(isinstance(s, str) for s in payload["sources"])
        and isinstance(payload.get("time"), str)
        and isinstance(payload.get("backend"), str)
    )


def _load_or_create_private(path: Path) -> Ed25519PrivateKey:
    """Read the key at ``path``, creating it first if no process has yet.

    O_CREAT|O_EXCL makes creation atomic: when several processes start at once exactly one creates the
    file; the others read it, waiting briefly while the winner is still writing.
    """
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return _read_private(path)
    key = Ed25519PrivateKey.generate()
    try:
        if hasattr(os, "fchmod"):
            os.fchmod(fd, 0o600)  # whatever the umask
        os.write(fd, _private_pem(key))
        os.fsync(fd)
    finally:
        os.close(fd)
    log.info("Created the deployment key %s in %s.", key_fingerprint(key.public_key()), path.parent)
    return key


def _read_private(path: Path) -> Ed25519PrivateKey:
    deadline = _time.monotonic() + _KEY_WAIT_S
    while True:
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise DeploymentKeyError(
                f"Cannot read the deployment key {path}: {exc.strerror}. Check its owner."
            ) from None
        try:
            key = serialization.load_pem_private_key(data, password=None)
        except (ValueError, TypeError):
            key = None
        if isinstance(key, Ed25519PrivateKey):
            if path.stat().st_mode & 0o077:
                log.warning("%s can be read by other users; run: chmod 600 %s", path, path)
            return key
        if _time.monotonic() > deadline:
            break
        _time.sleep(0.02)  # another process may still be writing it
    if not data:
        raise DeploymentKeyError(
            f"{path} is empty: a start was interrupted while creating it. It never signed anything; "
            "delete it and start again."
        )
    raise DeploymentKeyError(
        f"{path} is not an unencrypted Ed25519 private key in PEM (PKCS8). Restore it from your backup, "
        "or delete it to start a new key (receipts signed by the lost key will then read as unknown)."
    )


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


def _write_replace(path: Path, data: bytes, mode: int) -> None:
    """Write ``data`` to a fresh file beside ``path``, then rename it over ``path`` (atomic)."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{os.urandom(4).hex()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        if hasattr(os, "fchmod"):
            os.fchmod(fd, mode)
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
