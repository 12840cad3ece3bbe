import re

import pytest

from clone.config import PROJECT_ROOT, SETTINGS, load_settings
from clone.errors import ConfigError


def test_defaults_put_state_under_one_home(tmp_path):
    s = load_settings({"CLONE_HOME": str(tmp_path / "h")}, dotenv=False)
    assert s.home == (tmp_path / "h").resolve()
    for path in (s.index_dir, s.survey_db, s.export_dir):
        assert path.is_relative_to(s.home)
    assert s.backend == "auto"
    assert s.max_message_chars == 2000


def test_home_defaults_to_data_folder(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    assert load_settings({}, dotenv=False).home == (tmp_path / "data").resolve()


def test_dotenv_is_read_but_environment_wins(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".env").write_text("CLONE_TOP_K=7\nCLONE_BACKEND=from-dotenv\n")
    monkeypatch.setenv("CLONE_BACKEND", "extractive")
    monkeypatch.delenv("CLONE_TOP_K", raising=False)  # restored (unset) after the test
    s = load_settings()
    assert s.top_k == 7
    assert s.backend == "extractive"


@pytest.mark.parametrize(
    "env, message",
    [
        ({"CLONE_TOP_K": "many"}, "CLONE_TOP_K='many' is not a valid int"),
        ({"CLONE_TOP_K": "0"}, "CLONE_TOP_K='0' is out of range"),
        ({"CLONE_RELEVANCE_FLOOR": "1.5"}, "CLONE_RELEVANCE_FLOOR='1.5' is out of range"),
        ({"CLONE_CHUNK_SIZE": "300", "CLONE_CHUNK_OVERLAP": "300"}, "CLONE_CHUNK_OVERLAP must be smaller"),
    ],
)
def test_bad_values_name_the_setting(env, message):
    with pytest.raises(ConfigError, match=re.escape(message)):
        load_settings(env, dotenv=False)


def test_every_setting_is_documented():
    table = (PROJECT_ROOT / "docs" / "configuration.md").read_text(encoding="utf-8")
    missing = [s.name for s in SETTINGS if f"| `{s.name}` |" not in table]
    assert not missing, f"settings missing from docs/configuration.md: {missing}"


def test_the_configuration_page_is_the_generated_reference():
    from click.testing import CliRunner

    from clone.cli import cli

    page = (PROJECT_ROOT / "docs" / "configuration.md").read_text(encoding="utf-8")
    block = page.split("<!-- settings:begin -->\n", 1)[1].split("<!-- settings:end -->", 1)[0]
    printed = CliRunner().invoke(cli, ["settings", "--markdown"])
    assert printed.exit_code == 0
    assert block == printed.output, "docs/configuration.md is out of date: paste `python -m clone settings --markdown`"


def test_each_setting_is_declared_once_as_a_field_of_settings():
    from dataclasses import fields

    from clone.config import Settings

    assert [s.field for s in SETTINGS] == [f.name for f in fields(Settings)]
    assert len({s.name for s in SETTINGS}) == len(SETTINGS)
    secret = {s.name for s in SETTINGS if s.secret}
    assert {"CLONE_CREATOR_TOKEN", "CLONE_RESEARCH_TOKEN", "DATABASE_URL"} <= secret


def test_settings_command_masks_secrets(monkeypatch):
    from click.testing import CliRunner

    from clone.cli import cli

    monkeypatch.setenv("CLONE_CREATOR_TOKEN", "a-very-secret-creator-token")
    printed = CliRunner().invoke(cli, ["settings"])
    assert printed.exit_code == 0 and "a-very-secret-creator-token" not in printed.output
    assert "CLONE_CREATOR_TOKEN=(set, hidden)" in printed.output


def test_nothing_but_config_reads_clone_settings_from_the_environment():
    import ast

    def reads(node: ast.AST) -> bool:
        """``os.environ[NAME]`` or ``os.environ.get(NAME)`` with NAME a setting's variable."""
        target, key = None, None
        if isinstance(node, ast.Subscript):
            target, key = node.value, node.slice
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "get":
            target, key = node.func.value, node.args[0] if node.args else None
        is_environ = isinstance(target, ast.Attribute) and target.attr == "environ"
        return is_environ and isinstance(key, ast.Constant) and str(key.value) in {s.name for s in SETTINGS}

    offenders = []
    for path in (PROJECT_ROOT / "clone").rglob("*.py"):
        if path.name != "config.py" and any(reads(n) for n in ast.walk(ast.parse(path.read_text(encoding="utf-8")))):
            offenders.append(str(path.relative_to(PROJECT_ROOT)))
    assert offenders == []
