"""A creator goes from nothing to a running clone in three commands: init, copy content, serve."""

import os
import subprocess
import sys

import pytest
from click.testing import CliRunner
from gradio_client import Client

from clone.cli import cli
from clone.config import PROJECT_ROOT, SETTINGS
from clone.persona import load_persona
from clone.trust.consent import verify_consent
from tests.harness import free_port, running


def test_init_creates_a_valid_creator_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    folder = tmp_path / "sam"
    result = CliRunner().invoke(cli, ["init", str(folder), "--name", "Sam Berg"])
    assert result.exit_code == 0, result.output
    persona = load_persona(folder)
    assert (persona.id, persona.name) == ("sam-berg", "Sam Berg")
    assert verify_consent(folder, persona).manifest.subject_name == "Sam Berg"
    assert (folder / "content").is_dir()
    env = (folder / ".env.example").read_text()
    assert all(f"# {s.name}=" in env for s in SETTINGS)
    key = tmp_path / "home" / ".config" / "creator-clone" / "keys" / "sam-berg.ed25519"
    assert key.is_file() and not any(p.suffix == ".ed25519" for p in folder.rglob("*"))
    assert "python -m clone serve" in result.output

    again = CliRunner().invoke(cli, ["init", str(folder), "--name", "Sam Berg"])
    assert again.exit_code == 1 and "already exists" in again.output


def test_init_without_a_name_outside_a_terminal_is_a_clear_error(tmp_path):
    result = CliRunner().invoke(cli, ["init", str(tmp_path / "x")])
    assert result.exit_code == 1 and "--name is required" in result.output


@pytest.mark.slow
def test_three_commands_to_a_running_clone(tmp_path):
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("CLONE_")},
        "HOME": str(tmp_path / "home"),
        "CLONE_BACKEND": "extractive",
        "GRADIO_SERVER_PORT": str(free_port()),
        "GRADIO_ANALYTICS_ENABLED": "False",
    }
    folder = tmp_path / "sam"
    python = [sys.executable, "-m", "clone"]
    # The consent lists the /chat API this test talks to (the default is the web page only).
    init = [*python, "init", str(folder), "--name", "Sam Berg", "--channel", "web", "--channel", "api"]
    subprocess.run(init, env=env, cwd=PROJECT_ROOT, check=True)
    (folder / "content" / "kayak.srt").write_text(
        "1\n00:00:01,000 --> 00:00:05,000\nI paddle a red sea kayak that I built myself from plywood.\n\n"
        "2\n00:00:05,000 --> 00:00:09,000\nIt took me two winters in my garage to finish it.\n",
        encoding="utf-8",
    )
    with running([*python, "serve", str(folder)], env=env, log_path=tmp_path / "serve.log", timeout=120) as url:
        data = Client(url, verbose=False).predict(message="What kind of kayak do you paddle?", api_name="/chat")
        assert "plywood" in data["text"] and data["sources"][0]["document"] == "kayak.srt"
        assert (folder / "data" / "index" / "CURRENT").is_file()  # state lives with the creator folder
