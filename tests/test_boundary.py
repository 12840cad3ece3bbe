"""The content folder is a boundary: nothing outside it, and no database, key or secret inside it, reaches
the index, a fan's reply or a staged Space; `serve DIR` and `deploy DIR` read DIR/.env."""

import io
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner
from gradio_client import Client

from clone.cli import cli
from clone.config import DEMO_CREATOR_DIR, PROJECT_ROOT, load_settings
from clone.deploy import stage_space
from clone.errors import ConfigError, ContentError
from clone.ingest import scan_folder
from clone.pipeline import Clone
from tests.conftest import make_settings
from tests.harness import free_port, running

CANARY = "canary-outside-5d1e88b04a"
# Built from parts so that no file of this project holds a private-key line.
KEY = "PRIVATE" + " KEY-----"
PEM = f"-----BEGIN OPENSSH {KEY}\nb3BlbnNzaC1rZXktdjEAAAAA{CANARY}\n-----END OPENSSH {KEY}\n"
SQLITE = b"SQLite format 3\x00" + b"\x10\x00\x01\x01" + b"\x00" * 80 + CANARY.encode()


def outside_with_secrets(root: Path) -> Path:
    """A folder outside any content folder: the creator's secrets, their notes, their key."""
    outside = root / "outside"
    (outside / "private").mkdir(parents=True)
    (outside / "home.env").write_text(f"OPENAI_API_KEY={CANARY}\n")
    (outside / "diary.md").write_text(f"# Diary\n\nThe vault phrase is {CANARY}. I hide it under the stairs.\n")
    (outside / "private" / "letters.md").write_text(f"The vault phrase {CANARY} opens the stairs box.\n")
    (outside / "id_ed25519").write_text(PEM)
    return outside


def booby_trap(content: Path, outside: Path) -> None:
    """Links out of ``content`` and secrets inside it under innocent names."""
    (content / "diary.md").symlink_to(outside / "diary.md")
    (content / "settings.md").symlink_to(outside / "home.env")
    (content / "key.md").symlink_to(outside / "id_ed25519")
    (content / "letters").symlink_to(outside / "private", target_is_directory=True)
    (content / "sub").mkdir(exist_ok=True)
    (content / "sub" / "deep.md").symlink_to(Path("..") / ".." / "outside" / "diary.md")
    (content / "notes.txt").write_bytes(SQLITE)  # a database under a text name
    (content / "answers.db").write_bytes(SQLITE)
    (content / "recipe.md").write_text(PEM)  # a private key under a recipe's name
    (content / "config.txt").write_text(f"# my settings\nHF_HOME=/tmp/hf\nMY_PASSWORD={CANARY}\n")
    (content / "token.md").write_text("My token: hf_" + "aB3dE5fG7hJ9kL1mN3pQ5rS7tU9vW1xY3z\n")


def test_ingest_never_reads_through_a_link_nor_a_secret_and_says_which(tiny_content, tmp_path):
    booby_trap(tiny_content, outside_with_secrets(tmp_path))
    (tiny_content / "again.md").symlink_to("bread.md")  # a link inside the folder is not followed either
    os.mkfifo(tiny_content / "pipe.md")  # reading a pipe would hang the ingest
    scan = scan_folder(tiny_content)
    assert sorted(f.path for f in scan.files) == ["bikes.txt", "bread.md"]
    reasons = {s.path: s.reason for s in scan.skipped}
    for link in ("diary.md", "settings.md", "key.md", "sub/deep.md"):
        assert "symbolic link to a file outside the content folder" in reasons[link], link
    assert "symbolic link to a folder outside" in reasons["letters"]
    assert reasons["again.md"].startswith("a symbolic link to a file; links are not followed")
    assert "not a regular file" in reasons["pipe.md"]
    assert "SQLite database" in reasons["notes.txt"] and "database" in reasons["answers.db"]
    assert "private key" in reasons["recipe.md"]
    assert ".env file of secrets" in reasons["config.txt"]
    assert "access token (hf_" in reasons["token.md"]
    everything = "".join(f.text for f in scan.files) + "".join(s.reason for s in scan.skipped)
    assert CANARY not in everything and "hf_aB3" not in everything


def test_a_zip_member_that_is_a_secret_or_a_database_is_not_indexed(tiny_content):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("talks/intro.md", "I started baking bread in a tiny kitchen.\n")
        archive.writestr("talks/recipe.md", PEM)
        archive.writestr("talks/notes.txt", SQLITE)
        archive.writestr("prod.env", f"API_TOKEN={CANARY}\n")
    (tiny_content / "talks.zip").write_bytes(buffer.getvalue())
    scan = scan_folder(tiny_content)
    reasons = {s.path: s.reason for s in scan.skipped}
    assert "talks.zip/talks/intro.md" in {f.path for f in scan.files}
    assert "private key" in reasons["talks.zip/talks/recipe.md"]
    assert "SQLite database" in reasons["talks.zip/talks/notes.txt"]
    assert ".env" in reasons["talks.zip/prod.env"]
    assert CANARY not in "".join(f.text for f in scan.files)


def test_a_content_folder_that_is_a_link_is_refused(tmp_path):
    outside = outside_with_secrets(tmp_path)
    (tmp_path / "content").symlink_to(outside, target_is_directory=True)
    with pytest.raises(ContentError, match="is a symbolic link"):
        scan_folder(tmp_path / "content")


def test_the_clone_never_quotes_a_linked_file_to_a_fan(tmp_path):
    folder = tmp_path / "rosa"
    shutil.copytree(DEMO_CREATOR_DIR, folder)
    booby_trap(folder / "content", outside_with_secrets(tmp_path))
    settings = make_settings(tmp_path / "home", CLONE_CREATOR_DIR=str(folder))
    clone = Clone.from_settings(settings)
    said: list[str] = []
    report = clone.reindex(progress=said.append)  # the creator's re-index goes through the same walk
    assert {"diary.md", "letters", "recipe.md", "notes.txt"} <= {s.path for s in report.skipped}
    assert any(line.startswith("Skipped diary.md: a symbolic link") for line in said)
    for question in ("What is the vault phrase?", "Where do you hide the vault phrase under the stairs?"):
        assert CANARY not in clone.answer(question).markdown()
    stored = b"".join(p.read_bytes() for p in settings.index_dir.rglob("*") if p.is_file())
    assert CANARY.encode() not in stored and b"PRIVATE KEY" not in stored


def _parent_listing(out: Path) -> list[str]:
    return sorted(p.name for p in out.parent.iterdir())


def test_deploy_stages_no_link_and_no_database_and_reports_them(tmp_path):
    folder = tmp_path / "rosa"
    shutil.copytree(DEMO_CREATOR_DIR, folder)
    content = folder / "content"
    outside = outside_with_secrets(tmp_path)
    (content / "diary.md").symlink_to(outside / "diary.md")
    (content / "key.md").symlink_to(outside / "id_ed25519")
    (content / "letters").symlink_to(outside / "private", target_is_directory=True)
    (content / "notes.txt").write_bytes(SQLITE)
    (content / "answers.db").write_bytes(SQLITE)
    (content / "cache.sqlite-wal").write_bytes(b"\x00" * 32)
    said: list[str] = []
    out = stage_space(
        folder, tmp_path / "spaces" / "space", make_settings(tmp_path / "home"), env={}, progress=said.append
    )
    staged = out / "creator" / "content"
    assert sorted(p.name for p in staged.iterdir()) == sorted(p.name for p in (DEMO_CREATOR_DIR / "content").iterdir())
    assert not [p for p in out.rglob("*") if p.is_symlink()]
    assert CANARY.encode() not in b"".join(p.read_bytes() for p in out.rglob("*") if p.is_file())
    for name in ("diary.md", "key.md", "letters", "notes.txt", "answers.db", "cache.sqlite-wal"):
        assert any(line.startswith(f"Left out of the Space: content/{name}: ") for line in said), name
    assert _parent_listing(out) == ["space"]  # no staging folder left beside it


@pytest.mark.parametrize(
    ("name", "body", "why"),
    [
        ("recipe.md", PEM, "private key"),
        ("config.txt", f"HF_HOME=/tmp/hf\nMY_PASSWORD={CANARY}\n", ".env file of secrets"),
        ("token.md", "hf_" + "aB3dE5fG7hJ9kL1mN3pQ5rS7tU9vW1xY3z", "access token"),
    ],
)
def test_deploy_refuses_a_secret_under_an_innocent_name_and_leaves_nothing(tmp_path, name, body, why):
    folder = tmp_path / "rosa"
    shutil.copytree(DEMO_CREATOR_DIR, folder)
    (folder / "content" / name).write_text(body)
    out = tmp_path / "new" / "space"
    with pytest.raises(ConfigError, match=f"content/{name}: .*{why}"):
        stage_space(folder, out, make_settings(tmp_path / "home"), env={})
    assert not (tmp_path / "new").exists()


def test_a_secret_in_a_zip_refuses_the_deploy(tmp_path):
    folder = tmp_path / "rosa"
    shutil.copytree(DEMO_CREATOR_DIR, folder)
    with zipfile.ZipFile(folder / "content" / "talks.zip", "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("talks/intro.md", "I started baking bread in a tiny kitchen.\n")
        archive.writestr("talks/recipe.md", PEM)
    with pytest.raises(ConfigError, match="content/talks.zip: its member talks/recipe.md .*private key"):
        stage_space(folder, tmp_path / "space", make_settings(tmp_path / "home"), env={})
    assert not (tmp_path / "space").exists()


def test_a_deploy_interrupted_while_staging_leaves_nothing_behind(tmp_path):
    folder = tmp_path / "rosa"
    shutil.copytree(DEMO_CREATOR_DIR, folder)
    out = tmp_path / "space"
    out.mkdir()  # an empty target folder may exist beforehand, and stays as it was

    def interrupt(message: str) -> None:
        raise KeyboardInterrupt  # Ctrl-C while the index is being built

    with pytest.raises(KeyboardInterrupt):
        stage_space(folder, out, make_settings(tmp_path / "home"), env={}, progress=interrupt)
    assert not [p for p in tmp_path.iterdir() if "staging" in p.name]
    assert out.is_dir() and list(out.iterdir()) == []


def test_deploy_refuses_a_linked_persona_file(tmp_path):
    folder = tmp_path / "rosa"
    shutil.copytree(DEMO_CREATOR_DIR, folder)
    (tmp_path / "elsewhere.png").write_bytes((folder / "avatar.png").read_bytes())
    (folder / "avatar.png").unlink()
    (folder / "avatar.png").symlink_to(tmp_path / "elsewhere.png")
    with pytest.raises(ConfigError, match="avatar.png is a symbolic link"):
        stage_space(folder, tmp_path / "space", make_settings(tmp_path / "home"), env={})
    assert not (tmp_path / "space").exists()


def test_the_creator_folder_env_applies_under_the_process_environment(tmp_path, monkeypatch):
    folder = tmp_path / "sam"
    folder.mkdir()
    (folder / ".env").write_text("CLONE_TOP_K=7\nCLONE_MAX_NEW_TOKENS=100\n")
    (tmp_path / ".env").write_text("CLONE_TOP_K=3\nCLONE_CHUNK_SIZE=500\n")  # the working folder's, read after
    for name in ("CLONE_TOP_K", "CLONE_CHUNK_SIZE"):
        monkeypatch.delenv(name, raising=False)  # restored after the test, whatever dotenv sets
    monkeypatch.setenv("CLONE_MAX_NEW_TOKENS", "200")
    monkeypatch.chdir(tmp_path)
    settings = load_settings(creator_dir=Path("sam"))
    assert (settings.top_k, settings.max_new_tokens, settings.chunk_size) == (7, 200, 500)


@pytest.mark.slow
def test_serve_dir_from_the_parent_folder_reads_dir_env(tmp_path):
    """The README's flow: `serve my-creator` from the folder above, with settings in my-creator/.env."""
    port = free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("CLONE_", "GRADIO_"))},
        "HOME": str(tmp_path / "home"),
        "PYTHONPATH": str(PROJECT_ROOT),
        "GRADIO_ANALYTICS_ENABLED": "False",
    }
    python = [sys.executable, "-m", "clone"]
    init = [*python, "init", "sam", "--name", "Sam Berg", "--channel", "web", "--channel", "api"]  # the test asks /chat
    subprocess.run(init, env=env, cwd=tmp_path, check=True)
    (tmp_path / "sam" / "content" / "kayak.md").write_text("I paddle a red sea kayak that I built from plywood.\n")
    # Only sam/.env says where to listen and which backend to use: a server elsewhere fails the test.
    (tmp_path / "sam" / ".env").write_text(
        f"GRADIO_SERVER_NAME=127.0.0.1\nGRADIO_SERVER_PORT={port}\nCLONE_BACKEND=extractive\n"
    )
    # The port is only in sam/.env: `running` waits on it, so a server listening elsewhere fails the test.
    log = tmp_path / "serve.log"
    with running([*python, "serve", "sam"], env=env, cwd=tmp_path, log_path=log, timeout=120, port=port) as url:
        data = Client(url, verbose=False).predict(message="What kind of kayak do you paddle?", api_name="/chat")
        assert "plywood" in data["text"]


def test_deploy_dir_reads_dir_env_for_its_secrets(tmp_path, monkeypatch):
    folder = tmp_path / "rosa"
    shutil.copytree(DEMO_CREATOR_DIR, folder)
    token = "creator-token-from-the-folder-env-42"
    (folder / ".env").write_text(f"CLONE_CREATOR_TOKEN={token}\nCLONE_BACKEND=extractive\n")
    (folder / "content" / "faq.md").write_text(f"# FAQ\n\nThe admin token is {token}.\n")
    monkeypatch.delenv("CLONE_CREATOR_TOKEN", raising=False)
    monkeypatch.delenv("CLONE_BACKEND", raising=False)
    monkeypatch.setenv("CLONE_HOME", str(tmp_path / "home"))
    args = ["deploy", str(folder), "--space", "rosa/clone", "--generate-dir", str(tmp_path / "space")]
    result = CliRunner().invoke(cli, [*args, "--secret", "CLONE_CREATOR_TOKEN"])
    assert result.exit_code == 1, result.output
    assert "content/faq.md contains the value of CLONE_CREATOR_TOKEN" in result.output
    assert not (tmp_path / "space").exists()


def test_ingest_command_names_each_skipped_file(tiny_content, tmp_path, monkeypatch):
    booby_trap(tiny_content, outside_with_secrets(tmp_path))
    monkeypatch.setenv("CLONE_HOME", str(tmp_path / "home"))
    result = CliRunner().invoke(cli, ["ingest", str(tiny_content)])
    assert result.exit_code == 0, result.output
    assert "Skipped diary.md: a symbolic link to a file outside the content folder" in result.output
    assert "Skipped recipe.md: it holds a private key" in result.output
    assert "from 2 documents" in result.output and CANARY not in result.output
