"""Deploy = generate a Space folder, then upload it: what is staged, that it runs offline, and the upload calls."""

import os
import shutil
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from gradio_client import Client

from clone.cli import cli
from clone.config import DEMO_CREATOR_DIR
from clone.deploy import PERSIST_MOUNT, check_staged, stage_space, upload_space, volumes_supported
from clone.errors import ConfigError
from tests.conftest import make_settings
from tests.harness import free_port, running

CANARY = "canary-secret-7f3a9c2e1b"
PEM = "-----BEGIN PRIVATE" + " KEY-----\nMC4CAQAwBQYDK2VwBCIEIFake\n-----END PRIVATE" + " KEY-----\n"
DEMO_FILES = sorted(p.name for p in (DEMO_CREATOR_DIR / "content").iterdir())


def creator_with_junk(root: Path) -> Path:
    """A copy of the demo creator cluttered with everything that must never be deployed."""
    folder = root / "rosa"
    shutil.copytree(DEMO_CREATOR_DIR, folder)
    (folder / ".env").write_text(f"OPENAI_API_KEY={CANARY}\nMY_SECRET={CANARY}\n")
    (folder / "data" / "keys").mkdir(parents=True)
    (folder / "data" / "survey.sqlite3").write_bytes(b"SQLite format 3\x00" + CANARY.encode())
    (folder / "data" / "keys" / "deployment.ed25519").write_text(PEM)
    (folder / "keys").mkdir()
    (folder / "keys" / "rosa.ed25519").write_text(PEM)
    (folder / "creator.pem").write_text(PEM)
    (folder / "content" / ".env").write_text(f"HF_TOKEN={CANARY}\n")
    (folder / "content" / "answers.sqlite3").write_bytes(b"SQLite format 3\x00")
    (folder / "content" / "signing.ed25519").write_text(PEM)
    (folder / "content" / "__pycache__").mkdir()
    (folder / "content" / "__pycache__" / "x.pyc").write_bytes(b"\x00")
    return folder


def fake_home(root: Path) -> Path:
    """A CLONE_HOME holding a survey database and the deployment key, as a running app leaves it."""
    home = root / "home"
    (home / "keys").mkdir(parents=True)
    (home / "survey.sqlite3").write_bytes(b"SQLite format 3\x00" + CANARY.encode())
    (home / "keys" / "deployment.ed25519").write_text(PEM)
    return home


def all_bytes(folder: Path) -> bytes:
    return b"".join(p.read_bytes() for p in folder.rglob("*") if p.is_file())


@pytest.fixture(scope="module")
def staged(tmp_path_factory) -> Path:
    """The demo creator staged once for the tests that only read the folder."""
    root = tmp_path_factory.mktemp("stage")
    return stage_space(creator_with_junk(root), root / "space", make_settings(fake_home(root)), env={})


def test_staged_folder_holds_exactly_the_space(staged):
    assert sorted(p.name for p in staged.iterdir()) == [
        "README.md",
        "app.py",
        "assets",
        "clone",
        "creator",
        "guard",
        "index",
        "model",
        "requirements.txt",
    ]
    assert sorted(p.name for p in (staged / "creator").iterdir()) == [
        "avatar.png",
        "consent.json",
        "content",
        "persona.yaml",
    ]
    assert sorted(p.name for p in (staged / "creator" / "content").iterdir()) == DEMO_FILES
    assert not (staged / "assets" / "demo").exists() and (staged / "assets" / "instruments" / "study.yaml").is_file()
    assert (staged / "clone" / "ui" / "app.py").is_file() and not list(staged.rglob("__pycache__"))
    state = [staged / "data", staged / "creator" / "data"]  # CLONE_HOME folders (clone/data/ is package data)
    never = [p for p in staged.rglob("*") if p.suffix in (".sqlite3", ".ed25519", ".pem") or p.name == "keys"]
    never += [p for p in state if p.exists()]
    assert never == [] and not list(staged.rglob(".env*"))
    # The prebuilt index: CURRENT names a build that holds vectors and a FAISS index.
    build = staged / "index" / (staged / "index" / "CURRENT").read_text().strip()
    assert (build / "index.faiss").is_file() and (build / "vectors.npy").is_file()

    readme = (staged / "README.md").read_text()
    import gradio

    assert readme.startswith("---\n") and f"\nsdk_version: {gradio.__version__}\n" in readme
    assert all(line in readme.split("---")[1] for line in ("sdk: gradio", "app_file: app.py", "pinned: false"))
    reqs = (staged / "requirements.txt").read_text().splitlines()
    assert not any(r.startswith("torch") for r in reqs) and any(r.startswith("gradio==") for r in reqs)
    assert any(r.startswith("pandas==") for r in reqs)  # the Researchers tab charts use it
    assert not any(r.split("==")[0] in ("pytest", "playwright", "ruff", "fpdf2") for r in reqs)
    assert CANARY.encode() not in all_bytes(staged)


def test_generate_dir_stages_without_secrets_and_calls_no_api(tmp_path, monkeypatch):
    folder = creator_with_junk(tmp_path)
    monkeypatch.setenv("CLONE_HOME", str(fake_home(tmp_path)))
    monkeypatch.setenv("CLONE_BACKEND", "extractive")
    monkeypatch.setenv("OPENAI_API_KEY", CANARY)
    monkeypatch.setenv("MY_SECRET", CANARY + "-2")

    def no_network(*args, **kwargs):
        raise AssertionError("--generate-dir must not talk to the Hub")

    monkeypatch.setattr("huggingface_hub.HfApi", no_network)
    out = tmp_path / "space"
    args = ["deploy", str(folder), "--space", "rosa/clone", "--generate-dir", str(out), "--secret", "MY_SECRET"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert (out / "app.py").is_file() and (out / "index" / "CURRENT").is_file()
    assert CANARY.encode() not in all_bytes(out)


def test_a_secret_in_a_staged_file_is_refused(tmp_path):
    (tmp_path / "notes.md").write_text(f"my key is {CANARY}")
    with pytest.raises(ConfigError, match="notes.md contains the value of OPENAI_API_KEY"):
        check_staged(tmp_path, {"OPENAI_API_KEY": CANARY})
    (tmp_path / "notes.md").write_text("nothing to see")
    check_staged(tmp_path, {"OPENAI_API_KEY": CANARY})
    (tmp_path / "key.txt").write_text(PEM)
    with pytest.raises(ConfigError, match="key.txt looks like a private key"):
        check_staged(tmp_path, {})


def test_staging_refuses_content_that_holds_a_secret(tmp_path):
    folder = creator_with_junk(tmp_path)
    (folder / "content" / "leak.md").write_text(f"# Oops\n\nMy token is {CANARY}.\n")
    with pytest.raises(ConfigError, match="leak.md contains the value of MY_SECRET"):
        stage_space(
            folder,
            tmp_path / "space",
            make_settings(tmp_path / "home"),
            secret_names=["MY_SECRET"],
            env={"MY_SECRET": CANARY},
        )


@pytest.mark.slow
def test_staged_space_starts_offline_and_answers_from_the_prebuilt_index(staged, tmp_path):
    space = tmp_path / "space"
    shutil.copytree(staged, space)
    port = free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("CLONE_")},
        "CLONE_BACKEND": "extractive",
        "GRADIO_SERVER_NAME": "127.0.0.1",
        "GRADIO_SERVER_PORT": str(port),
        "GRADIO_ANALYTICS_ENABLED": "False",
        "HF_HUB_OFFLINE": "1",
    }
    log_path = tmp_path / "space.log"
    with running([sys.executable, "app.py"], env=env, cwd=space, log_path=log_path) as url:
        data = Client(url, verbose=False).predict(message="How do you get rid of aphids?", api_name="/chat")
        assert data["sources"] and data["text"]
        assert "Embedding" not in log_path.read_text()  # the staged index was reused, not rebuilt
        assert (space / "data" / "index" / "CURRENT").read_text() == (space / "index" / "CURRENT").read_text()
        assert (space / "data" / "keys").is_dir()  # the deployment key is made on the Space, at first start


class FakeHfApi:
    """Records every call ``upload_space`` makes on it, in order, with its arguments."""

    def __init__(self):
        self.calls: list[tuple[str, tuple, dict]] = []

    def __getattr__(self, name):
        def record(*args, **kwargs):
            self.calls.append((name, args, kwargs))

        return record


def test_upload_creates_the_space_uploads_the_folder_and_sets_secrets(tmp_path):
    folder = tmp_path / "space"
    folder.mkdir()
    (folder / "app.py").write_text("print('hi')\n")
    api = FakeHfApi()
    env = {"OPENAI_API_KEY": CANARY, "CLONE_RESEARCH_TOKEN": "research-" + CANARY}
    done = upload_space(
        folder,
        "rosa/clone",
        private=True,
        secret_names=["OPENAI_API_KEY", "CLONE_RESEARCH_TOKEN", "OPENAI_API_KEY"],
        env=env,
        api=api,
    )
    names = [name for name, _, _ in api.calls]
    assert names == ["create_repo", "add_space_secret", "add_space_secret", "upload_folder"]
    _, args, kwargs = api.calls[0]
    assert args == ("rosa/clone",)
    assert kwargs == {"repo_type": "space", "space_sdk": "gradio", "exist_ok": True, "private": True}
    assert api.calls[-1][2] == {"folder_path": str(folder), "repo_id": "rosa/clone", "repo_type": "space"}
    assert [c[1] for c in api.calls if c[0] == "add_space_secret"] == [
        ("rosa/clone", "OPENAI_API_KEY", CANARY),
        ("rosa/clone", "CLONE_RESEARCH_TOKEN", "research-" + CANARY),
    ]
    # Secret values reach add_space_secret only: no other call, and no file.
    assert not any(CANARY in repr(c) for c in api.calls if c[0] != "add_space_secret")
    assert CANARY.encode() not in all_bytes(tmp_path)
    assert done.url == "https://huggingface.co/spaces/rosa/clone" and done.bucket is None


@pytest.mark.skipif(not volumes_supported(), reason="this huggingface_hub cannot mount Space volumes")
def test_persist_mounts_a_private_bucket_at_clone_home(tmp_path):
    from huggingface_hub import Volume

    api = FakeHfApi()
    done = upload_space(tmp_path, "rosa/clone", persist=True, env={}, api=api)
    assert [c[0] for c in api.calls] == ["create_bucket", "create_repo", "add_space_variable", "upload_folder"]
    assert api.calls[0][1:] == (("rosa/clone-data",), {"private": True, "exist_ok": True})
    (volume,) = api.calls[1][2]["space_volumes"]
    assert isinstance(volume, Volume)
    assert (volume.type, volume.source, volume.mount_path) == ("bucket", "rosa/clone-data", PERSIST_MOUNT)
    assert api.calls[2][1] == ("rosa/clone", "CLONE_HOME", PERSIST_MOUNT)
    assert done.bucket == "rosa/clone-data"


def test_a_missing_secret_variable_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.delenv("NOT_SET_ANYWHERE", raising=False)
    api = FakeHfApi()
    with pytest.raises(ConfigError, match="environment variable NOT_SET_ANYWHERE is not set"):
        upload_space(tmp_path, "rosa/clone", secret_names=["NOT_SET_ANYWHERE"], env={}, api=api)
    assert api.calls == []
    args = ["deploy", str(DEMO_CREATOR_DIR), "--space", "rosa/clone", "--secret", "NOT_SET_ANYWHERE"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 1 and "NOT_SET_ANYWHERE is not set" in result.output


def test_a_revoked_clone_stays_revoked_when_deployed(tmp_path):
    from clone.trust.killswitch import revoke

    folder = tmp_path / "rosa"
    shutil.copytree(DEMO_CREATOR_DIR, folder)
    revoke(folder, None, "taking a break")
    out = stage_space(folder, tmp_path / "space", make_settings(tmp_path / "home"), env={})
    assert (out / "creator" / "revoked.json").read_bytes() == (folder / "revoked.json").read_bytes()


def test_a_database_url_in_the_content_stops_the_deploy(tmp_path):
    folder = creator_with_junk(tmp_path)
    url = "postgresql://clone:s3cret-password@db.example.org:5432/clone"
    (folder / "content" / "setup.md").write_text(f"# My setup\n\nThe database is at {url}.\n")
    with pytest.raises(ConfigError, match="setup.md contains the value of DATABASE_URL"):
        stage_space(folder, tmp_path / "space", make_settings(tmp_path / "home"), env={"DATABASE_URL": url})
