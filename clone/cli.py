"""The command line: a thin click group over library functions.

Domain errors become ``click.ClickException`` (exit 1, ``Error: ...``).
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from clone.config import is_set, load_settings
from clone.errors import CloneError


def _settings(creator_dir: Path | None = None):
    try:
        return load_settings(creator_dir=creator_dir)
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
    from clone.services import Services

    settings = _settings()
    try:
        # The creator's answers from the inbox are documents too (only if a database already exists).
        extra = Services.published_answers(settings)
        report = ensure_index(content_dir, settings, force=force, progress=click.echo, show_progress=True, extra=extra)
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


@cli.group()
def consent() -> None:
    """Sign, check, revoke and restore the creator's consent to this clone."""


_CREATOR_DIR = click.argument("creator_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))


@consent.command("init")
@_CREATOR_DIR
@click.option("--consented-by", default=None, help='Who consents, with their role. Default: "<name> (the creator)".')
@click.option("--days", default=365, show_default=True, type=click.IntRange(1, 3650), help="Days until it expires.")
@click.option("--channel", "channels", multiple=True, help="Where the clone may run: web, embed, api. Default: web.")
@click.option(
    "--allowed-use",
    "allowed_uses",
    multiple=True,
    help='What the clone may do. Default: "answer fan questions from published content".',
)
@click.option(
    "--off-limits", "off_limits", multiple=True, help="Topic off limits. Default: the persona's topics_to_avoid."
)
@click.option("--voice/--no-voice", default=False, show_default=True, help="May the creator's voice be used?")
@click.option("--likeness/--no-likeness", default=False, show_default=True, help="May their face or avatar be shown?")
@click.option("--notes", default=None, help="Optional free text kept in the manifest.")
@click.option(
    "--key",
    "key_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="The creator's private key (created if missing). Default: ~/.config/creator-clone/keys/<persona-id>.ed25519",
)
@click.option("--force", is_flag=True, help="Replace an existing consent.json.")
def consent_init(
    creator_dir: Path,
    consented_by: str | None,
    days: int,
    channels: tuple[str, ...],
    allowed_uses: tuple[str, ...],
    off_limits: tuple[str, ...],
    voice: bool,
    likeness: bool,
    notes: str | None,
    key_path: Path | None,
    force: bool,
) -> None:
    """Sign CREATOR_DIR/consent.json with the creator's key (created on first use, kept outside the folder)."""
    from clone.trust.consent import init_consent, summary_text

    try:
        result = init_consent(
            creator_dir,
            consented_by=consented_by,
            days=days,
            channels=channels,
            allowed_uses=allowed_uses,
            topics_off_limits=off_limits or None,
            voice=voice,
            likeness=likeness,
            notes=notes,
            key_path=key_path,
            force=force,
        )
    except CloneError as exc:
        raise click.ClickException(str(exc)) from None
    if result.key_created:
        click.echo(f"Created your private signing key at {result.key_path} (mode 0600). Keep it private, back it up,")
        click.echo("and never put it in the creator folder or a repository: anyone holding it can sign consent.")
    else:
        click.echo(f"Signed with your key at {result.key_path}.")
    click.echo(f"Wrote {result.consent.path}")
    click.echo(summary_text(result.consent))
    click.echo("Publish the fingerprint on your own channels; pin the key on the server with")
    click.echo(f"CLONE_CONSENT_PUBLIC_KEY={result.consent.public_key}")


@consent.command("show")
@_CREATOR_DIR
def consent_show(creator_dir: Path) -> None:
    """Verify CREATOR_DIR/consent.json and print what it allows (exit 1 if it is not valid)."""
    from clone.persona import load_persona
    from clone.trust.consent import summary_text, verify_consent
    from clone.trust.killswitch import KillSwitch, revocation_paths

    settings = _settings()
    try:
        result = verify_consent(
            creator_dir, load_persona(creator_dir), channel=None, trusted_key=settings.consent_public_key or None
        )
    except CloneError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(summary_text(result))
    if settings.consent_public_key:
        click.echo("  The key matches CLONE_CONSENT_PUBLIC_KEY.")
    off = KillSwitch(revocation_paths(creator_dir, settings.home), setting=settings.revoked).revoked()
    if off is not None:
        when = f" on {off.revoked_at:%Y-%m-%d %H:%M} UTC" if off.revoked_at else ""
        click.echo(f"  Status: REVOKED by {off.source}{when}. Undo with: python -m clone consent restore {creator_dir}")


@consent.command("revoke")
@_CREATOR_DIR
@click.option("--reason", default="", help="Why, for your own records (at most 500 characters; fans never see it).")
def consent_revoke(creator_dir: Path, reason: str) -> None:
    """Switch the clone off: write revoked.json into CLONE_HOME and CREATOR_DIR. A running app stops within seconds."""
    from clone.trust.killswitch import MAX_REASON, revoke

    if len(reason) > MAX_REASON:
        raise click.ClickException(f"--reason may have at most {MAX_REASON} characters, got {len(reason)}.")
    settings = _settings()
    for path in revoke(creator_dir, settings.home, reason):
        click.echo(f"Wrote {path}")
    click.echo("The clone is switched off: it answers no more questions and shows a notice instead.")
    click.echo("Deployed copies stop once the folder is redeployed, or set CLONE_REVOKED=true there now.")
    click.echo(f"Undo with: python -m clone consent restore {creator_dir}")


@consent.command("restore")
@_CREATOR_DIR
def consent_restore(creator_dir: Path) -> None:
    """Switch the clone back on: remove the revocation files written by `consent revoke`."""
    from clone.trust.killswitch import restore

    settings = _settings()
    removed = restore(creator_dir, settings.home)
    for path in removed:
        click.echo(f"Removed {path}")
    if settings.revoked:
        raise click.ClickException("CLONE_REVOKED=true is still set, so the clone stays off: unset it to restore.")
    if not removed:
        click.echo(f"The clone of {creator_dir} is not revoked: there was nothing to restore.")
    else:
        click.echo("The clone is switched back on.")


@cli.command("init")
@click.argument("folder", type=click.Path(file_okay=False, path_type=Path))
@click.option("--name", default=None, help="The creator's name, as fans will see it.")
@click.option("--bio", default=None, help="One paragraph about the creator (editable later in persona.yaml).")
@click.option(
    "--key",
    "key_path",
    default=None,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Where the creator's private signing key lives. Default: ~/.config/creator-clone/keys/.",
)
@click.option(
    "--channel",
    "channels",
    multiple=True,
    help="Where the creator agrees the clone may answer: web (the page), embed (/widget), api (/chat). Default: web.",
)
def init(folder: Path, name: str | None, bio: str | None, key_path: Path | None, channels: tuple[str, ...]) -> None:
    """Create a new creator FOLDER: persona card, signed consent, content/ and .env.example."""
    from clone.scaffold import scaffold

    if not name:
        if not sys.stdin.isatty():
            raise click.ClickException('--name is required (for example --name "Sam Berg").')
        name = click.prompt("Creator's name")
    try:
        made = scaffold(folder, name, bio=bio, key_path=key_path, channels=channels)
    except CloneError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"Created {folder}: persona.yaml, consent.json, content/, .env.example")
    click.echo(
        f"Consent signed with your key {made.consent.key_path} (fingerprint {made.consent.consent.fingerprint})."
    )
    click.echo(f"Next: copy your transcripts, posts and FAQs into {folder / 'content'}, then run")
    click.echo(f"  python -m clone serve {folder}")


@cli.command("serve")
@click.argument("folder", type=click.Path(exists=True, file_okay=False, path_type=Path))
def serve(folder: Path) -> None:
    """Run the app for the creator in FOLDER (state in FOLDER/data unless CLONE_HOME is set)."""
    from dataclasses import replace

    from clone.ui import create_app, launch_options

    settings = _settings(folder)  # FOLDER/.env applies, under the process environment
    home = settings.home if is_set("CLONE_HOME") else folder.resolve() / "data"
    try:
        app = create_app(replace(settings, creator_dir=folder.resolve(), home=home))
    except CloneError as exc:
        raise click.ClickException(str(exc)) from None
    app.launch(**launch_options(app))


@cli.command("deploy")
@click.argument("folder", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--space", "repo_id", required=True, help="The Space to create or update, as USER/NAME.")
@click.option("--private", is_flag=True, help="Make the Space private.")
@click.option(
    "--generate-dir",
    "generate_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Only write the Space folder here (no upload, no network).",
)
@click.option(
    "--persist", is_flag=True, help="Mount a private storage bucket at /data and keep CLONE_HOME (surveys) there."
)
@click.option(
    "--secret",
    "secrets",
    multiple=True,
    help="Environment variable to set as a Space secret (repeatable), e.g. --secret HF_TOKEN.",
)
@click.option(
    "--backend",
    default="",
    help="The backend the Space answers with (CLONE_BACKEND there). `transformers` runs the open model --model.",
)
@click.option(
    "--model",
    "model_id",
    default="",
    help="With --backend transformers: the Hub id of an open chat model, downloaded by the Space at start.",
)
@click.option(
    "--zero-gpu", is_flag=True, help="Run the --model on ZeroGPU hardware (the `spaces` package's GPU decorator)."
)
def deploy(
    folder: Path,
    repo_id: str,
    private: bool,
    generate_dir: Path | None,
    persist: bool,
    secrets: tuple[str, ...],
    backend: str,
    model_id: str,
    zero_gpu: bool,
) -> None:
    """Stage the creator in FOLDER as a Hugging Face Space (with its prebuilt index and exported embedding
    model), then upload it."""
    import tempfile

    from clone.deploy import ZERO_GPU_HARDWARE, check_secrets, check_space_backend, stage_space, upload_space

    settings = _settings(folder)  # FOLDER/.env applies: --secret NAME may come from there
    backend = backend.strip().lower()
    chosen = {"backend": backend, "model": model_id.strip(), "zero_gpu": zero_gpu}
    try:
        check_space_backend(**chosen)
        check_secrets(secrets)
        if generate_dir is not None:
            out = stage_space(folder, generate_dir, settings, secret_names=secrets, progress=click.echo, **chosen)
            click.echo(f"Wrote the Space folder {out}. Upload it with the same command without --generate-dir.")
            if (out / "creator" / "revoked.json").is_file():
                click.echo("Note: this clone is revoked, so the Space shows a notice instead of answering.")
            return
        with tempfile.TemporaryDirectory(prefix="clone-space-") as tmp:
            out = stage_space(
                folder, Path(tmp) / "space", settings, secret_names=secrets, progress=click.echo, **chosen
            )
            hardware = ZERO_GPU_HARDWARE if zero_gpu else None
            done = upload_space(out, repo_id, private=private, secret_names=secrets, persist=persist, hardware=hardware)
    except CloneError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"Deployed {done.url}")
    if done.secrets:
        click.echo(f"Secrets set: {', '.join(done.secrets)}")
    if done.bucket:
        click.echo(f"CLONE_HOME=/data on the private storage bucket {done.bucket}.")
    else:
        click.echo("The Space's disk is ephemeral: survey answers are lost on restart unless you use --persist.")


@cli.group()
def keys() -> None:
    """The deployment's signing key, which signs every reply's receipt."""


@keys.command("show")
def keys_show() -> None:
    """Print the deployment key's fingerprint and public key (creating the key on first use)."""
    from clone.trust.receipts import Notary

    try:
        notary = Notary.load(_settings().home)
    except CloneError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"fingerprint: {notary.fingerprint}")
    click.echo(f"public key (Ed25519, base64): {notary.public_key_b64}")


@keys.command("rotate")
def keys_rotate() -> None:
    """Replace the deployment key; receipts signed by the old one keep verifying. Stop the app first."""
    from clone.trust.receipts import rotate_key

    try:
        fingerprint = rotate_key(_settings().home)
    except CloneError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"New deployment key: {fingerprint}. The old public key is kept under keys/deployment-retired/.")


@cli.group()
def study() -> None:
    """The research study: its preregistrable package, simulated participants for a pilot, and pooling several
    sites' data."""


@study.command("package")
@click.argument("creator_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option(
    "--out",
    "out_file",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Where to write the package (JSON).",
)
def study_package_command(creator_dir: Path, out_file: Path) -> None:
    """Write the study that CREATOR_DIR runs (CLONE_STUDY, or the bundled one) as a package to preregister.

    The package fixes study.yaml, every instrument file (version, sha256), the consent text's sha256, the
    conditions, the randomisation scheme, an analysis-plan template and the app version; its sha256 is
    printed, shown in the researcher console and stored on every participant's row.
    """
    from clone.survey import load_study
    from clone.survey.package import write_package

    settings = _settings(creator_dir)
    try:
        digest = write_package(load_study(settings.study_file), out_file)
    except CloneError as exc:
        raise click.ClickException(str(exc)) from None
    except OSError as exc:
        raise click.ClickException(f"Cannot write {out_file}: {exc.strerror}.") from None
    click.echo(f"Wrote {out_file}")
    click.echo(f"sha256 {digest}")


@study.command("pool")
@click.argument("folder", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option(
    "--out",
    "out_dir",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder for the pooled files (created if needed).",
)
@click.option(
    "--package",
    "package_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="The study package every site must have run (default: the one most sites ran).",
)
@click.option("--exclude", multiple=True, metavar="SITE", help="Leave this site out (repeatable).")
def study_pool_command(folder: Path, out_dir: Path, package_file: Path | None, exclude: tuple[str, ...]) -> None:
    """Merge the sites' exports found in FOLDER (e.g. a download of the shared dataset, sites/SITE/ each) into
    one wide and one long file with a site column, under one codebook.

    A site whose study package differs from the others' is refused by name, and then nothing is written.
    """
    from clone.survey.pool import pool

    try:
        report = pool(folder, out_dir, package=package_file, exclude=exclude)
    except CloneError as exc:
        raise click.ClickException(str(exc)) from None
    except OSError as exc:
        raise click.ClickException(f"Cannot pool into {out_dir}: {exc.strerror}.") from None
    sites = ", ".join(f"{name} ({n})" for name, n in report.participants.items())
    click.echo(f"Pooled {sum(report.participants.values())} participants from {len(report.sites)} sites: {sites}.")
    click.echo(f"Study package sha256 {report.package_sha256}")
    for path in report.files:
        click.echo(f"Wrote {path}")


@study.command("simulate")
@click.argument("url")
@click.option("--participants", "-n", type=click.IntRange(1, 10_000), default=5, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True, help="Seed for the answers, questions and ratings.")
@click.option(
    "--turns", type=click.IntRange(1, 50), default=3, show_default=True, help="Questions each participant asks."
)
@click.option(
    "--token",
    envvar="CLONE_RESEARCH_TOKEN",
    show_envvar=True,
    help="The app's research token (default: CLONE_RESEARCH_TOKEN); the app marks the participants simulated.",
)
def study_simulate_command(url: str, participants: int, seed: int, turns: int, token: str | None) -> None:
    """Pilot the study of the app running at URL with simulated participants, through its public API.

    Each one consents, answers before the chat, chats (rating replies, sometimes with a reason, and clicking
    sources), answers after the chat and some demographic questions, as a person's browser would. They are
    marked simulated: left out of the exports and charts unless asked for (?include_simulated=1, or the
    research console's checkbox).
    """
    from clone.survey.simulate import simulate

    try:
        done = simulate(url, participants, token=token or "", seed=seed, turns=turns, progress=click.echo)
    except CloneError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"{len(done)} simulated participants finished. Export them with ?include_simulated=1.")


@cli.command("settings")
@click.option("--markdown", is_flag=True, help="Print the configuration reference as Markdown (docs/configuration.md).")
def settings_command(markdown: bool) -> None:
    """Print every setting with its value here (secrets masked), or with --markdown the reference table."""
    from clone.config import SETTINGS, reference_markdown

    if markdown:
        click.echo(reference_markdown(), nl=False)
        return
    settings = _settings()
    for s in SETTINGS:
        value = getattr(settings, s.field)
        shown = ("(set, hidden)" if value else "(empty)") if s.secret else value
        click.echo(f"{s.name}={shown}")


def main() -> None:
    """Entry point for ``python -m clone``."""
    cli(prog_name="python -m clone")
