import re

import pytest
from click.testing import CliRunner

from clone.cli import cli
from clone.errors import ContentError, IndexNotBuiltError
from clone.index import ensure_index, load_index


def test_ingest_then_reload_without_rebuilding(tiny_content, settings):
    first = ensure_index(tiny_content, settings)
    assert first.rebuilt and first.files == 2
    assert (settings.index_dir / "CURRENT").is_file()
    top = first.kb.search("What do you feed your sourdough starter?", k=1)[0]
    assert top.source == "bread.md" and top.title == "Sourdough basics" and top.url == "https://example.com/bread"

    again = ensure_index(tiny_content, settings)
    assert not again.rebuilt
    assert again.kb.path == first.kb.path
    reloaded = load_index(settings.index_dir, settings)
    assert reloaded.search("What do you feed your sourdough starter?", k=1)[0].id == top.id
    assert 0.3 < reloaded.search("What do you feed your sourdough starter?", k=1)[0].score <= 1.0


def test_changed_content_rebuilds_and_old_build_is_removed(tiny_content, settings):
    first = ensure_index(tiny_content, settings)
    (tiny_content / "tea.md").write_text("I drink smoky lapsang souchong tea while editing my videos.")
    second = ensure_index(tiny_content, settings)
    assert second.rebuilt and second.files == 3
    assert second.kb.search("what tea do you drink", k=1)[0].source == "tea.md"
    assert not first.kb.path.exists()


def test_interrupted_build_leaves_previous_index_in_place(tiny_content, settings):
    ensure_index(tiny_content, settings)
    current = (settings.index_dir / "CURRENT").read_text()
    (tiny_content / "tea.md").write_text("I drink smoky lapsang souchong tea while editing my videos.")

    def interrupt(message: str) -> None:
        if message.startswith("Embedding"):
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        ensure_index(tiny_content, settings, progress=interrupt)
    assert (settings.index_dir / "CURRENT").read_text() == current
    kb = load_index(settings.index_dir, settings)
    assert kb.size > 0 and all(p.source != "tea.md" for p in kb.search("tea", k=10))


def test_missing_index_and_empty_folder_have_clear_errors(tmp_path, settings):
    with pytest.raises(IndexNotBuiltError, match="python -m clone ingest"):
        load_index(settings.index_dir, settings)
    (tmp_path / "empty").mkdir()
    with pytest.raises(ContentError, match="No readable content files"):
        ensure_index(tmp_path / "empty", settings)


def test_cli_ingest_reports_skipped_files(tiny_content, settings, monkeypatch):
    (tiny_content / "broken.txt").write_bytes(b"\0\0\0binary")
    monkeypatch.setenv("CLONE_HOME", str(settings.home))
    runner = CliRunner()
    result = runner.invoke(cli, ["ingest", str(tiny_content)])
    assert result.exit_code == 0, result.output
    assert "Skipped broken.txt: the file looks binary" in result.output
    assert "Built" in result.output and "from 2 documents" in result.output
    assert re.search(r"Embedding: 100%\|.*\| 2/2", result.output)  # the tqdm progress bar
    result = runner.invoke(cli, ["ingest", str(tiny_content)])
    assert "Up to date:" in result.output


def test_cli_ingest_error_exits_1(tmp_path, monkeypatch):
    (tmp_path / "nothing").mkdir()
    monkeypatch.setenv("CLONE_HOME", str(tmp_path / "home"))
    result = CliRunner().invoke(cli, ["ingest", str(tmp_path / "nothing")])
    assert result.exit_code == 1
    assert "Error: No readable content files" in result.output
