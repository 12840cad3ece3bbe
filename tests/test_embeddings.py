"""The embedding engines, with the real model: the OpenVINO export against sentence-transformers on
torch, the shared export cache, and the errors that say what to set."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import textwrap
from dataclasses import replace

import numpy as np
import pytest

from clone import embeddings
from clone.config import PROJECT_ROOT, load_settings
from clone.embeddings import EmbeddingEngineError, clear_loaded, embedding_id, ensure_export, get_embeddings
from clone.errors import ConfigError

from .conftest import DEMO_CONTENT


def _words(path, n: int) -> str:
    text = re.sub(r"\A---\n.*?\n---\n", "", path.read_text(encoding="utf-8"), flags=re.S)
    return " ".join(text.split()[:n])


LONG = _words(DEMO_CONTENT / "worm-bins-tiny-apartments.md", 250)
SAMPLE = [
    "Hi",
    "how often do u water the tomatoes??",
    "Is this really you or an AI?",
    "Kanel the cat knocked the catnip pot off the railing again.",
    "Föhn winds, 4th-floor balconies & 12 L buckets: what's the plan? 🌱",
    _words(DEMO_CONTENT / "potatoes-in-a-bag.md", 60),
    LONG,
]


@pytest.fixture(scope="session")
def model_cache(tmp_path_factory):
    """One model cache for the session: the export and quantization run once."""
    return tmp_path_factory.mktemp("model-cache")


@pytest.fixture(scope="session")
def fast(model_cache):
    """The openvino engine, exported into the session's cache."""
    return get_embeddings(engine="openvino", cache_dir=model_cache)


@pytest.fixture(scope="session")
def torch_embeddings():
    return get_embeddings(engine="torch")


def _cosines(a, b) -> np.ndarray:
    a, b = np.asarray(a), np.asarray(b)
    return (a * b).sum(axis=1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))


def test_openvino_agrees_with_torch_on_a_varied_sample(fast, torch_embeddings):
    got = fast.embed_documents(SAMPLE)
    want = torch_embeddings.embed_documents(SAMPLE)
    cos = _cosines(got, want)
    assert cos.min() >= 0.95, dict(zip(SAMPLE, cos.round(4), strict=True))
    # The long text runs past 128 tokens, so truncating at 128 instead of 256 would show here.
    assert fast.max_seq_length == 256
    assert len(fast._tokenizer.encode(LONG).ids) > 200
    assert cos[-1] >= 0.99


def test_openvino_vectors_are_unit_length_384_dim_and_deterministic(fast):
    first = np.asarray(fast.embed_documents(SAMPLE))
    assert first.shape == (len(SAMPLE), 384)
    np.testing.assert_allclose(np.linalg.norm(first, axis=1), 1.0, atol=1e-5)
    np.testing.assert_array_equal(first, np.asarray(fast.embed_documents(SAMPLE)))
    query = fast.embed_query(SAMPLE[1])
    assert isinstance(query, list) and len(query) == 384 and isinstance(query[0], float)
    assert query == fast.embed_query(SAMPLE[1])
    assert _cosines([query], [first[1]])[0] > 0.999


def test_many_texts_keep_their_order_across_batches(fast, torch_embeddings):
    # Long and short texts shuffled together: length-sorted batching must put each vector back in place.
    chunks = [_words(path, 170) for path in sorted(DEMO_CONTENT.glob("*.md"))]
    texts = chunks + [c[:40] for c in chunks] + ["ok", ""]
    order = np.random.default_rng(7).permutation(len(texts))
    texts = [texts[i] for i in order]
    cos = _cosines(fast.embed_documents(texts), torch_embeddings.embed_documents(texts))
    assert len(texts) > 3 * 16  # several inference batches
    assert cos.min() >= 0.95


def test_the_model_reads_up_to_256_tokens_and_no_further(fast):
    # One token per word, so word i is token i + 1 (after [CLS]).
    words = ["garden", "soil", "water", "seed", "pot", "sun", "leaf"] * 50  # 350 tokens
    assert len(fast._tokenizer.encode(" ".join(words)).ids) == 256
    middle = words[:160] + ["balcony", "tomato"] * 20 + words[200:]  # tokens 161-200 changed
    tail = words[:300] + ["balcony", "tomato"] * 25  # tokens 301-350 changed
    vec = np.asarray(fast.embed_documents([" ".join(words), " ".join(middle), " ".join(tail)]))
    assert _cosines([vec[0]], [vec[1]])[0] < 0.999  # the second half of a chunk counts
    np.testing.assert_allclose(vec[0], vec[2], atol=1e-6)  # what lies past 256 tokens does not


def test_same_arguments_give_the_same_object(fast, model_cache):
    assert get_embeddings(engine="openvino", cache_dir=model_cache) is fast
    assert get_embeddings(engine="OpenVINO", cache_dir=model_cache) is fast


@pytest.mark.slow
def test_a_cached_export_is_reused_without_exporting_again(fast, model_cache):
    assert fast.export.built  # the session fixture exported into an empty cache
    files = {p: (p.stat().st_mtime_ns, p.stat().st_ino) for p in model_cache.rglob("*") if p.is_file()}
    assert any(p.name == "model.bin" for p in files)
    clear_loaded()
    try:
        again = get_embeddings(engine="openvino", cache_dir=model_cache)
        assert again is not fast
        assert not again.export.built
        assert again.export.path == fast.export.path
        assert {p: (p.stat().st_mtime_ns, p.stat().st_ino) for p in model_cache.rglob("*") if p.is_file()} == files
        np.testing.assert_array_equal(again.embed_documents(SAMPLE[:3]), fast.embed_documents(SAMPLE[:3]))
    finally:
        clear_loaded()


def test_the_export_key_follows_the_model_files_not_their_folder(tmp_path):
    source = embeddings.default_model_path()
    copy = tmp_path / "copy"
    for path in source.rglob("*"):
        if path.is_file():
            target = copy / path.relative_to(source)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.symlink_to(path)
    assert embeddings._export_key(copy, "int8") == embeddings._export_key(source, "int8")
    assert embeddings._export_key(source, "int8") != embeddings._export_key(source, "bf16")
    (copy / "config.json").unlink()
    (copy / "config.json").write_text((source / "config.json").read_text() + "\n")
    assert embeddings._export_key(copy, "int8") != embeddings._export_key(source, "int8")


@pytest.mark.slow
def test_two_processes_starting_at_once_export_once(tmp_path):
    cache = tmp_path / "cache"
    script = textwrap.dedent(
        f"""
        import json, sys
        from pathlib import Path
        from clone.embeddings import ensure_export
        export = ensure_export(cache_dir=Path({str(cache)!r}))
        print(json.dumps({{"built": export.built, "path": str(export.path)}}))
        """
    )
    procs = [
        subprocess.Popen([sys.executable, "-c", script], cwd=PROJECT_ROOT, stdout=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    results = [json.loads(p.communicate(timeout=300)[0].strip().splitlines()[-1]) for p in procs]
    assert all(p.returncode == 0 for p in procs)
    assert sorted(r["built"] for r in results) == [False, True]
    assert results[0]["path"] == results[1]["path"]
    folders = [p.name for p in cache.iterdir() if p.is_dir()]
    assert len(folders) == 1 and not folders[0].startswith(".build-")


def test_the_engine_is_int8_calibrated_on_shipped_text(fast):
    assert fast.export.precision == "int8" and "-int8-" in fast.export.path.name
    assert "FakeQuantize" in (fast.export.path / "model.xml").read_text()
    assert len(embeddings.calibration_texts()) >= 40


def test_the_unquantized_export_agrees_with_torch_even_more_closely(model_cache, torch_embeddings):
    bf16 = embeddings.OpenVINOEmbeddings(ensure_export(precision="bf16", cache_dir=model_cache))
    assert "-bf16-" in bf16.export.path.name
    assert "FakeQuantize" not in (bf16.export.path / "model.xml").read_text()
    cos = _cosines(bf16.embed_documents(SAMPLE), torch_embeddings.embed_documents(SAMPLE))
    assert cos.min() >= 0.999


def test_torch_engine_still_works(torch_embeddings):
    vec = np.asarray(torch_embeddings.embed_documents(["I grow tomatoes in buckets."]))
    assert vec.shape == (1, 384)
    assert abs(np.linalg.norm(vec) - 1) < 1e-5
    assert type(torch_embeddings).__name__ == "HuggingFaceEmbeddings"


def test_embedding_ids_differ_per_engine_and_name_the_quantization():
    assert embedding_id(engine="torch") == "sentence-transformers/all-MiniLM-L6-v2"  # as indexes recorded before
    assert embedding_id(engine="openvino") == "sentence-transformers/all-MiniLM-L6-v2@openvino-int8-v1"
    assert embedding_id() == embedding_id(engine="openvino")
    assert embedding_id("/models/mine", "openvino") == "/models/mine@openvino-int8-v1"


@pytest.mark.parametrize("call", [get_embeddings, embedding_id])
def test_an_unknown_engine_names_the_setting(call):
    with pytest.raises(ConfigError, match=r"CLONE_EMBEDDING_ENGINE='onnx' is not allowed: use one of openvino, torch"):
        call(engine="onnx")


def test_settings_validate_the_engine_and_locate_the_cache(tmp_path):
    with pytest.raises(ConfigError, match=r"CLONE_EMBEDDING_ENGINE='tensorflow' is not allowed"):
        load_settings({"CLONE_EMBEDDING_ENGINE": "tensorflow"}, dotenv=False)
    s = load_settings({}, dotenv=False)
    assert s.embedding_engine == "openvino"
    assert str(s.model_cache).endswith("/.cache/creator-clone/models")
    s = load_settings({"CLONE_EMBEDDING_ENGINE": "Torch", "CLONE_MODEL_CACHE": str(tmp_path)}, dotenv=False)
    assert (s.embedding_engine, s.model_cache) == ("torch", tmp_path.resolve())


def test_a_model_that_cannot_be_exported_says_to_use_torch(tmp_path):
    broken = tmp_path / "broken-model"
    broken.mkdir()
    (broken / "config.json").write_text('{"model_type": "bert", "hidden_size": "not a number"}')
    cache = tmp_path / "cache"
    with pytest.raises(EmbeddingEngineError, match="set CLONE_EMBEDDING_ENGINE=torch"):
        ensure_export(str(broken), cache_dir=cache)
    assert [p.name for p in cache.iterdir() if p.is_dir()] == []  # no half-built export left behind


def test_missing_openvino_says_to_use_torch(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "openvino", None)  # what `import openvino` sees when it is not installed
    with pytest.raises(EmbeddingEngineError, match="CLONE_EMBEDDING_ENGINE=torch"):
        ensure_export(cache_dir=tmp_path / "cache")


def test_a_damaged_cached_export_says_how_to_recover(fast, tmp_path):
    damaged = tmp_path / "damaged"
    shutil.copytree(fast.export.path, damaged)
    weights = damaged / "model.bin"
    weights.write_bytes(weights.read_bytes()[:1000])
    with pytest.raises(EmbeddingEngineError, match=rf"Delete {re.escape(str(damaged))} .*CLONE_EMBEDDING_ENGINE=torch"):
        embeddings.OpenVINOEmbeddings(replace(fast.export, path=damaged))
