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
