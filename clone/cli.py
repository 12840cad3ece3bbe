"""The command line: a thin click group over library functions.

Domain errors become ``click.ClickException`` (exit 1, ``Error: ...``).
"""

from __future__ import annotations

from pathlib import Path

import click

from clone.config import load_settings
from clone.errors import CloneError


def _settings():
    try:
        return load_settings()
    except CloneError as exc:
        raise click.ClickException(str(exc)) from None


@click.group()
@click.version_option(package_name=None, version=__import__("clone").__version__)
def cli() -> None:
    """Run and measure an AI clone of a content creator."""


@cli.command()
@click.argument("content_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--force", is_flag=True, help="Rebuild even if the content has not changed.")
def ingest(content_dir: Path, force: bool) -> None:
    """Index CONTENT_DIR into CLONE_HOME, embedding only new or changed documents."""
    from clone.index import ensure_index

    settings = _settings()
    try:
        report = ensure_index(content_dir, settings, force=force, progress=click.echo, show_progress=True)
    except CloneError as exc:
        raise click.ClickException(str(exc)) from None
    state = "Built" if report.rebuilt else "Up to date:"
    click.echo(f"{state} {report.chunks} chunks from {report.files} documents in {report.kb.path}")
    if report.skipped:
        click.echo(f"{len(report.skipped)} file(s) skipped (see above).")


@cli.command("eval")
@click.option(
    "--content",
    "content_dir",
    required=True,
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="Folder of .md/.txt content to index.",
)
@click.option(
    "--questions",
    "questions_file",
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help='JSONL file, one {"id", "question"} object per line.',
)
@click.option(
    "--out",
    "out_file",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Where to write one JSON reply per line.",
)
@click.option("--name", default=None, help="The creator's name, used in replies.")
def evaluate(content_dir: Path, questions_file: Path, out_file: Path, name: str | None) -> None:
    """Answer a question file from a fresh index of CONTENT (never touches the app's data)."""
    from clone.evaluate import run_eval

    try:
        summary = run_eval(content_dir, questions_file, out_file, _settings(), name=name, progress=click.echo)
    except CloneError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"Wrote {out_file}")
    for line in summary.lines():
        click.echo(line)


def main() -> None:
    """Entry point for ``python -m clone``."""
    cli(prog_name="python -m clone")
