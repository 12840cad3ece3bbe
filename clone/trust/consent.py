"""The creator's signed consent manifest: who is cloned, who agreed, to what, and until when.

The file is ``consent.json`` in the creator folder, next to ``persona.yaml``::

    {
      "manifest": {"version": 1, "persona_id": "...", "subject_name": "...", "consented_by": "...",
                   "scope": {"channels": [...], "allowed_uses": [...], "topics_off_limits": [...],
                             "voice": false, "likeness": false},
                   "issued_at": "2025-01-01T00:00:00Z", "expires_at": "2026-01-01T00:00:00Z",
                   "notes": "..."},
      "public_key": "<standard base64 of the raw 32-byte Ed25519 public key>",
      "signature": "<standard base64 of the 64-byte Ed25519 signature>"
    }

What is signed, exactly: the ``manifest`` object as it stands in the file, serialised as canonical
JSON, i.e. the bytes of::

    json.dumps(manifest, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
        .encode("utf-8")

(keys sorted at every level, no whitespace, non-ASCII characters as UTF-8 rather than ``\\u``
escapes). The signature is plain Ed25519 (RFC 8032) over those bytes with the creator's private
key; ``public_key`` is the matching raw public key. Any tool that can do Ed25519 can check it. The
file itself may be pretty-printed: only the canonical form of ``manifest`` is signed. Dates are
ISO-8601 in UTC (``Z`` or ``+00:00``).

The creator's private key never goes in the creator folder or the repository: by default it is
``~/.config/creator-clone/keys/<persona-id>.ed25519`` (PEM, PKCS#8, mode 0600), created once by
``python -m clone consent init``. A deployer who sets ``CLONE_CONSENT_PUBLIC_KEY`` to the creator's
public key pins it, so a manifest re-signed with any other key is refused.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Literal

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from clone.config import PROJECT_ROOT
from clone.errors import ConsentError, PersonaError
from clone.files import write_atomic
from clone.persona import Persona, load_persona
from clone.trust import keys

log = logging.getLogger(__name__)

CONSENT_FILE = "consent.json"
MANIFEST_VERSION = 1
DEFAULT_CHANNELS = ("web",)
DEFAULT_ALLOWED_USES = ("answer fan questions from published content",)
DEFAULT_DAYS = 365
MAX_DAYS = 3650
MAX_ITEMS = 20  # channels, allowed uses
MAX_TOPICS = 50  # the persona card allows 50 topics to avoid
MAX_TEXT = 200  # characters in one channel, use, topic or consented_by
MAX_FILE_BYTES = 1_000_000  # a manifest is a few hundred bytes; refuse to parse anything huge
# A server clock a little behind the creator's laptop must not reject a manifest signed a moment ago.
CLOCK_SKEW = timedelta(minutes=5)


def init_command(creator_dir: Path | str) -> str:
    """The command that (re)creates the manifest, for error messages."""
    return f"python -m clone consent init {creator_dir}"


def _utc(value: datetime) -> datetime:
    if value.tzinfo is None or value.utcoffset() != timedelta(0):
        raise ValueError("use a UTC time such as 2025-01-01T00:00:00Z")
    return value.astimezone(UTC)


class Scope(BaseModel):
    """What the creator agreed the clone may do."""

    model_config = ConfigDict(extra="forbid")

    channels: list[str] = Field(
        min_length=1, max_length=MAX_ITEMS, description="Where the clone may run: web, embed, api."
    )
    allowed_uses: list[str] = Field(min_length=1, max_length=MAX_ITEMS)
    topics_off_limits: list[str] = Field(default_factory=list, max_length=MAX_TOPICS)
    voice: bool = Field(description="Whether the creator's voice may be used (speech synthesis).")
    likeness: bool = Field(description="Whether the creator's face or avatar may be shown.")

    @field_validator("channels")
    @classmethod
    def _channel_names(cls, values: list[str]) -> list[str]:
        for value in values:
            if not re.fullmatch(r"[a-z][a-z0-9-]{0,39}", value):
                raise ValueError(f"channel {value!r}: use a short lowercase name such as 'web', 'embed' or 'api'")
        return values

    @field_validator("allowed_uses", "topics_off_limits")
    @classmethod
    def _texts(cls, values: list[str]) -> list[str]:
        for value in values:
            if not value.strip() or len(value) > MAX_TEXT:
                raise ValueError(f"each entry must be 1 to {MAX_TEXT} characters")
        return values

    @field_validator("voice", "likeness", mode="before")
    @classmethod
    def _strict_bool(cls, value: object) -> object:
        # A signed "yes" must not be read as consent: only JSON true/false count.
        if not isinstance(value, bool):
            raise ValueError("must be true or false")
        return value


class Manifest(BaseModel):
    """The signed body of ``consent.json``."""

    model_config = ConfigDict(extra="forbid")

    version: Literal[1] = MANIFEST_VERSION
    persona_id: str = Field(min_length=1, max_length=64)
    subject_name: str = Field(min_length=1, max_length=100, description="Who is cloned.")
    consented_by: str = Field(
        min_length=1, max_length=MAX_TEXT, description="Who consented, with their role: 'Rosa Lindqvist (the creator)'."
    )
    scope: Scope
    issued_at: datetime
    expires_at: datetime
    notes: str | None = Field(None, max_length=2000)

    @field_validator("issued_at", "expires_at", mode="before")
    @classmethod
    def _iso_text(cls, value: object) -> object:
        if not isinstance(value, str | datetime):
            raise ValueError("use an ISO-8601 UTC time such as 2025-01-01T00:00:00Z")
        return value

    @field_validator("issued_at", "expires_at")
    @classmethod
    def _in_utc(cls, value: datetime) -> datetime:
        return _utc(value)

    @model_validator(mode="after")
    def _expires_after_issue(self) -> Manifest:
        if self.expires_at <= self.issued_at:
            raise ValueError("expires_at must be later than issued_at")
        return self


@dataclass(frozen=True)
class Consent:
    """A manifest whose signature, dates and persona have been checked."""

    manifest: Manifest
    public_key: str  # standard base64 of the raw 32-byte Ed25519 key
    fingerprint: str  # first 16 hex digits of SHA-256 of the raw key, in groups of four
    path: Path

    def allows(self, channel: str) -> bool:
        """True when ``channel`` (``web``, ``embed``, ``api``...) is in the signed scope."""
        return channel in self.manifest.scope.channels


@dataclass(frozen=True)
class InitResult:
    """What ``consent init`` did: the verified manifest, where the key is, and whether it was new."""

    consent: Consent
    key_path: Path
    key_created: bool


def canonical_json(manifest: dict) -> bytes:
    """The exact bytes that are signed: sorted keys, no whitespace, UTF-8."""
    return json.dumps(manifest, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode(
        "utf-8"
    )


def fingerprint(raw_public_key: bytes) -> str:
    """``'1a2b 3c4d 5e6f 7a8b'``: the first 16 hex digits of SHA-256 of the raw public key."""
    digest = hashlib.sha256(raw_public_key).hexdigest()[:16]
    return " ".join(digest[i : i + 4] for i in range(0, 16, 4))


def parse_public_key(text: str, what: str = "public key") -> bytes:
    """Decode a base64 raw Ed25519 public key (32 bytes), or raise ``ConsentError`` naming ``what``."""
    try:
        raw = base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError):
        raw = b""
    if len(raw) != 32:
        raise ConsentError(f"{what} is not a base64 Ed25519 public key (32 bytes): {text.strip()[:60]!r}.")
    return raw


def default_key_path(persona_id: str) -> Path:
    """``~/.config/creator-clone/keys/<persona-id>.ed25519``: outside every creator folder and repository."""
    return Path.home() / ".config" / "creator-clone" / "keys" / f"{persona_id}.ed25519"


def _git_root(path: Path) -> Path | None:
    for folder in (path, *path.parents):
        if (folder / ".git").exists():
            return folder
    return None


def check_key_location(key_path: Path, creator_dir: Path) -> None:
    """Refuse a private-key path inside the creator folder or a git repository holding it or this project.

    A key there would be uploaded with the folder or committed, and anyone holding it can sign consent.
    """
    key = Path(key_path).expanduser().resolve()
    creator = Path(creator_dir).resolve()
    for folder, what in (
        (creator, "the creator folder"),
        (_git_root(creator), "the repository holding the creator folder"),
        (PROJECT_ROOT, "this project's folder"),
    ):
        if folder is not None and key.is_relative_to(folder):
            raise ConsentError(
                f"The private key {key} would be inside {what} ({folder}), where it could be uploaded or committed. "
                f"Keep it elsewhere: leave out --key to use {default_key_path('<persona-id>')}, or pass "
                f"--key with a path outside it: {init_command(creator_dir)} --key ~/keys/creator.ed25519"
            )


def load_or_create_key(key_path: Path) -> tuple[Ed25519PrivateKey, bool]:
    """Load the creator's private key (PEM, PKCS#8), or create it with mode 0600 if there is none.

    Returns the key and whether it was created now. The key itself is never printed or logged.
    """
    return keys.load_or_create(
        key_path, error=ConsentError, fix="Pass --key with the creator's key file, or another path to create one."
    )


def _read_json(path: Path, creator_dir: Path) -> dict:
    fix = f"Sign a new one with: {init_command(creator_dir)} --force"

    def unique(pairs: list[tuple[str, object]]) -> dict:
        keys = [k for k, _ in pairs]
        if len(keys) != len(set(keys)):
            raise ValueError("a key appears twice")
        return dict(pairs)

    try:
        if path.stat().st_size > MAX_FILE_BYTES:
            raise ConsentError(f"{path} is larger than {MAX_FILE_BYTES:,} bytes, too large for a manifest. {fix}")
        data = json.loads(path.read_bytes().decode("utf-8"), object_pairs_hook=unique)
    except OSError as exc:
        raise ConsentError(f"Cannot read {path}: {exc.strerror}. {fix}") from None
    except (UnicodeDecodeError, ValueError) as exc:
        raise ConsentError(f"{path} is not valid JSON ({exc}). {fix}") from None
    if not isinstance(data, dict) or set(data) != {"manifest", "public_key", "signature"}:
        raise ConsentError(f"{path} must be a JSON object with exactly manifest, public_key and signature. {fix}")
    if not isinstance(data["manifest"], dict) or not all(isinstance(data[k], str) for k in ("public_key", "signature")):
        raise ConsentError(f"{path}: manifest must be an object, public_key and signature base64 text. {fix}")
    return data


def verify_consent(
    creator_dir: Path,
    persona: Persona,
    now: datetime | None = None,
    *,
    channel: str | None = "web",
    trusted_key: str | None = None,
) -> Consent:
    """Check ``consent.json`` in ``creator_dir`` and return the verified manifest.

    Checks, in order: the file exists and is well-formed JSON; ``trusted_key`` (base64, from
    ``CLONE_CONSENT_PUBLIC_KEY``), when given, equals the manifest's key; the Ed25519 signature over
    the canonical manifest; the manifest's fields; that it names this persona (``id`` and ``name``);
    that ``now`` lies between ``issued_at`` (less 5 minutes of clock skew) and ``expires_at``; and
    that ``channel`` (``None``: no channel required) is in scope. Raises ``ConsentError`` saying what
    is wrong and how to fix it.
    """
    creator_dir = Path(creator_dir)
    path = creator_dir / CONSENT_FILE
    init = init_command(creator_dir)
    if not path.is_file():
        raise ConsentError(
            f"No consent manifest at {path}: the clone of {persona.name} cannot run without the creator's signed "
            f"consent. The creator signs one with: {init}"
        )
    data = _read_json(path, creator_dir)
    raw_key = parse_public_key(data["public_key"], f"{path}: public_key")
    if trusted_key:
        pinned = parse_public_key(trusted_key, "CLONE_CONSENT_PUBLIC_KEY")
        if pinned != raw_key:
            raise ConsentError(
                f"{path} is signed with key {fingerprint(raw_key)}, not the creator's key {fingerprint(pinned)} "
                f"pinned by CLONE_CONSENT_PUBLIC_KEY. Ask the creator to sign it with their own key ({init} "
                "--force, on their machine), or, if the creator really changed keys, update CLONE_CONSENT_PUBLIC_KEY."
            )
    try:
        signature = base64.b64decode(data["signature"], validate=True)
        Ed25519PublicKey.from_public_bytes(raw_key).verify(signature, canonical_json(data["manifest"]))
    except (binascii.Error, ValueError, InvalidSignature):
        raise ConsentError(
            f"{path} has a bad signature: the manifest was changed after it was signed, or signed with another key. "
            f"Do not edit consent.json by hand; the creator signs a new one with: {init} --force"
        ) from None
    try:
        manifest = Manifest.model_validate(data["manifest"])
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc']) or '(manifest)'}: {e['msg']}" for e in exc.errors())
        raise ConsentError(f"{path} has invalid fields: {problems}. The creator signs a new one with: {init}") from None
    if manifest.persona_id != persona.id or manifest.subject_name != persona.name:
        raise ConsentError(
            f"{path} is consent for {manifest.subject_name!r} ({manifest.persona_id}), but the persona card is "
            f"{persona.name!r} ({persona.id}). The person this clone speaks for signs their own with: {init} --force"
        )
    now = now or datetime.now(UTC)
    if now < manifest.issued_at - CLOCK_SKEW:
        raise ConsentError(
            f"{path} is not valid yet: issued for {manifest.issued_at:%Y-%m-%d %H:%M} UTC, and it is "
            f"{now:%Y-%m-%d %H:%M} UTC now. Check this machine's clock, or sign it again: {init} --force"
        )
    if now >= manifest.expires_at:
        raise ConsentError(
            f"{path} expired on {manifest.expires_at:%Y-%m-%d %H:%M} UTC. The creator renews it with: "
            f"{init} --force --days 365"
        )
    if channel is not None and channel not in manifest.scope.channels:
        raise ConsentError(
            f"{path} does not allow the {channel!r} channel (it allows: {', '.join(manifest.scope.channels)}). "
            f"If the creator agrees, they sign it again including it: {init} --force --channel {channel}"
            + "".join(f" --channel {c}" for c in manifest.scope.channels if c != channel)
        )
    return Consent(manifest, base64.b64encode(raw_key).decode("ascii"), fingerprint(raw_key), path)


def _check_texts(option: str, values: Sequence[str], limit: int) -> list[str]:
    cleaned = list(dict.fromkeys(v.strip() for v in values if v.strip()))
    if len(cleaned) > limit:
        raise ConsentError(f"{option}: at most {limit} values, got {len(cleaned)}.")
    for value in cleaned:
        if len(value) > MAX_TEXT:
            raise ConsentError(f"{option}: each value may have at most {MAX_TEXT} characters, got {len(value)}.")
    return cleaned


def init_consent(
    creator_dir: Path,
    *,
    consented_by: str | None = None,
    days: int = DEFAULT_DAYS,
    channels: Sequence[str] = (),
    allowed_uses: Sequence[str] = (),
    topics_off_limits: Sequence[str] | None = None,
    voice: bool = False,
    likeness: bool = False,
    notes: str | None = None,
    key_path: Path | None = None,
    force: bool = False,
    now: datetime | None = None,
) -> InitResult:
    """Sign ``consent.json`` for the persona in ``creator_dir`` with the creator's key, creating the key if needed.

    Defaults: consented by "<name> (the creator)", channel ``web``, the use "answer fan questions from
    published content", the persona's ``topics_to_avoid`` as topics off limits, no voice, no likeness,
    valid for 365 days. The file is written atomically; an existing one is replaced only with ``force``.
    """
    creator_dir = Path(creator_dir)
    if not 1 <= days <= MAX_DAYS:
        raise ConsentError(f"--days must be from 1 to {MAX_DAYS} (ten years), got {days}.")
    channel_list = [c.lower() for c in _check_texts("--channel", channels or DEFAULT_CHANNELS, MAX_ITEMS)]
    uses = _check_texts("--allowed-use", allowed_uses or DEFAULT_ALLOWED_USES, MAX_ITEMS)
    if consented_by is not None and not 0 < len(consented_by.strip()) <= MAX_TEXT:
        raise ConsentError(f"--consented-by must be 1 to {MAX_TEXT} characters.")
    try:
        persona = load_persona(creator_dir)
    except PersonaError as exc:
        raise ConsentError(f"{exc} The manifest names the persona card's id and name, so it needs one.") from None
    topics = _check_texts(
        "--off-limits (default: the persona's topics_to_avoid)",
        persona.topics_to_avoid if topics_off_limits is None else topics_off_limits,
        MAX_TOPICS,
    )
    target = creator_dir / CONSENT_FILE
    if target.exists() and not force:
        raise ConsentError(
            f"{target} already exists. Pass --force to replace it, or check it "
            f"with: python -m clone consent show {creator_dir}"
        )
    key_path = Path(key_path).expanduser() if key_path else default_key_path(persona.id)
    check_key_location(key_path, creator_dir)
    now = (now or datetime.now(UTC)).astimezone(UTC).replace(microsecond=0)
    try:
        manifest = Manifest(
            persona_id=persona.id,
            subject_name=persona.name,
            consented_by=(consented_by or f"{persona.name} (the creator)").strip(),
            scope=Scope(
                channels=channel_list, allowed_uses=uses, topics_off_limits=topics, voice=voice, likeness=likeness
            ),
            issued_at=now,
            expires_at=now + timedelta(days=days),
            notes=notes.strip() if notes and notes.strip() else None,
        )
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors())
        raise ConsentError(f"Cannot build the manifest: {problems}.") from None
    key, created = load_or_create_key(key_path)
    body = manifest.model_dump(mode="json", exclude_none=True)
    raw_key = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    document = {
        "manifest": body,
        "public_key": base64.b64encode(raw_key).decode("ascii"),
        "signature": base64.b64encode(key.sign(canonical_json(body))).decode("ascii"),
    }
    write_atomic(target, json.dumps(document, indent=2, ensure_ascii=False) + "\n")  # the manifest is public
    consent = verify_consent(creator_dir, persona, now, channel=None)
    return InitResult(consent, key_path, created)


def _facts(consent: Consent) -> list[tuple[str, str]]:
    m = consent.manifest
    s = m.scope
    return [
        ("Who is cloned", f"{m.subject_name} ({m.persona_id})"),
        ("Consent given by", m.consented_by),
        ("Channels", ", ".join(s.channels)),
        ("Allowed uses", "; ".join(s.allowed_uses)),
        ("Topics off limits", "; ".join(s.topics_off_limits) or "none listed"),
        ("Voice", "yes" if s.voice else "no"),
        ("Likeness (face, avatar)", "yes" if s.likeness else "no"),
        ("Issued", f"{m.issued_at:%Y-%m-%d %H:%M} UTC"),
        ("Expires", f"{m.expires_at:%Y-%m-%d %H:%M} UTC"),
    ] + ([("Notes", m.notes)] if m.notes else [])


def summary_text(consent: Consent) -> str:
    """A plain-text summary for the terminal (``consent show``)."""
    lines = [f"Consent manifest {consent.path}: signature valid."]
    lines += [f"  {label}: {value}" for label, value in _facts(consent)]
    lines += [f"  Public key: {consent.public_key}", f"  Key fingerprint: {consent.fingerprint}"]
    return "\n".join(lines)


def summary_markdown(consent: Consent) -> str:
    """The "About this clone" text fans see: who, who consented, scope, dates, key and how to check it."""
    m = consent.manifest
    rows = "\n".join(f"- **{label}:** {value}" for label, value in _facts(consent))
    return (
        f"This AI clone of **{m.subject_name}** runs with signed consent.\n\n{rows}\n"
        f"- **Public key (Ed25519, base64):** `{consent.public_key}`\n"
        f"- **Key fingerprint:** `{consent.fingerprint}`\n\n"
        "**How to check it:** the manifest is the file `consent.json` in the creator folder. Its signature "
        "covers the manifest as canonical JSON (sorted keys, no spaces, UTF-8) and can be checked with any "
        "Ed25519 tool, or with `python -m clone consent show <creator folder>`. Compare the fingerprint with "
        f"the one {m.subject_name} publishes on their own channels: if they differ, this consent was not "
        "signed by them."
    )
