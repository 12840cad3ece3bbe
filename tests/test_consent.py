"""The signed consent manifest and the kill switch: real files, real Ed25519 keys, the real CLI."""

from __future__ import annotations

import base64
import json
import shutil
import stat
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from clone.cli import cli
from clone.config import DEMO_CREATOR_DIR, load_settings
from clone.errors import ConfigError, ConsentError
from clone.persona import load_persona
from clone.trust.consent import (
    canonical_json,
    fingerprint,
    init_consent,
    summary_markdown,
    verify_consent,
)
from clone.trust.killswitch import KillSwitch, revocation_paths

from .conftest import make_settings

INIT = "python -m clone consent init"


@pytest.fixture
def creator(tmp_path) -> Path:
    """A creator folder of our own: a copy of the demo persona card, without its consent.json."""
    folder = tmp_path / "creator"
    folder.mkdir()
    shutil.copy(DEMO_CREATOR_DIR / "persona.yaml", folder / "persona.yaml")
    return folder


@pytest.fixture
def env(tmp_path) -> dict[str, str]:
    """Environment for CLI runs: HOME and CLONE_HOME inside tmp_path, so no test touches the real ~/.config."""
    return {
        "HOME": str(tmp_path / "userhome"),
        "CLONE_HOME": str(tmp_path / "clonehome"),
        "CLONE_CONSENT_PUBLIC_KEY": "",
        "CLONE_REVOKED": "",
    }


def run(args: list[str], env: dict[str, str]):
    return CliRunner().invoke(cli, args, env=env, catch_exceptions=False)


def key_file(tmp_path) -> Path:
    return tmp_path / "keys" / "creator.ed25519"


def sign(creator: Path, tmp_path: Path, **kwargs):
    return init_consent(creator, key_path=kwargs.pop("key_path", key_file(tmp_path)), **kwargs)


def rewrite(creator: Path, change) -> None:
    """Apply ``change`` to the parsed consent.json and write it back (the signature is left as it was)."""
    path = creator / "consent.json"
    data = json.loads(path.read_text(encoding="utf-8"))
    change(data)
    path.write_text(json.dumps(data, indent=2), encoding="utf-8")


def test_init_then_verify_round_trip(creator, tmp_path):
    result = sign(creator, tmp_path, channels=["web", "embed"], voice=True, days=30)
    assert result.key_created
    persona = load_persona(creator)
    consent = verify_consent(creator, persona, channel="embed")
    m = consent.manifest
    assert (m.persona_id, m.subject_name, m.consented_by) == (
        "rosa-lindqvist",
        "Rosa Lindqvist",
        "Rosa Lindqvist (the creator)",
    )
    assert m.scope.channels == ["web", "embed"]
    assert m.scope.allowed_uses == ["answer fan questions from published content"]
    assert m.scope.topics_off_limits == persona.topics_to_avoid and persona.topics_to_avoid
    assert (m.scope.voice, m.scope.likeness) == (True, False)
    assert m.expires_at - m.issued_at == timedelta(days=30)
    assert m.issued_at.tzinfo is not None and m.issued_at.utcoffset() == timedelta(0)

    # The signature is plain Ed25519 over the canonical JSON of the manifest, as the docstring says.
    data = json.loads((creator / "consent.json").read_text(encoding="utf-8"))
    raw = base64.b64decode(data["public_key"])
    key = serialization.load_pem_private_key(key_file(tmp_path).read_bytes(), password=None)
    assert key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw) == raw
    key.public_key().verify(base64.b64decode(data["signature"]), canonical_json(data["manifest"]))
    assert canonical_json({"b": 1, "a": "å"}) == '{"a":"å","b":1}'.encode()
    assert consent.public_key == data["public_key"]
    assert consent.fingerprint == fingerprint(raw)
    assert len(consent.fingerprint.replace(" ", "")) == 16

    # A second init reuses the same key.
    again = sign(creator, tmp_path, force=True)
    assert not again.key_created and again.consent.public_key == consent.public_key


def test_cli_init_and_show_print_the_summary(creator, env, tmp_path):
    init = run(
        ["consent", "init", str(creator), "--channel", "web", "--channel", "api", "--allowed-use", "answer questions",
         "--likeness", "--days", "90", "--consented-by", "Sam Berg (agent for Rosa Lindqvist)"],
        env,
    )  # fmt: skip
    assert init.exit_code == 0, init.output
    assert str(tmp_path / "userhome" / ".config" / "creator-clone" / "keys" / "rosa-lindqvist.ed25519") in init.output
    assert "PRIVATE KEY" not in init.output
    pem = (tmp_path / "userhome/.config/creator-clone/keys/rosa-lindqvist.ed25519").read_text()
    assert pem.startswith("-----BEGIN PRIVATE KEY-----") and pem.split("\n")[1] not in init.output

    show = run(["consent", "show", str(creator)], env)
    assert show.exit_code == 0, show.output
    consent = verify_consent(creator, load_persona(creator), channel="api")
    for text in (
        "Who is cloned: Rosa Lindqvist (rosa-lindqvist)",
        "Consent given by: Sam Berg (agent for Rosa Lindqvist)",
        "Channels: web, api",
        "Allowed uses: answer questions",
        "Voice: no",
        "Likeness (face, avatar): yes",
        f"Issued: {consent.manifest.issued_at:%Y-%m-%d %H:%M} UTC",
        f"Expires: {consent.manifest.expires_at:%Y-%m-%d %H:%M} UTC",
        f"Key fingerprint: {consent.fingerprint}",
    ):
        assert text in show.output


def test_show_fails_with_the_error(creator, env):
    result = run(["consent", "show", str(creator)], env)
    assert result.exit_code == 1
    assert "Error: No consent manifest" in result.output and INIT in result.output


def test_missing_file_says_how_to_make_one(creator):
    with pytest.raises(ConsentError, match=f"No consent manifest at .*{INIT} {creator}"):
        verify_consent(creator, load_persona(creator))


@pytest.mark.parametrize("text", ["{not json", "[]", '{"manifest": {}, "public_key": "", "signature": "", "x": 1}'])
def test_unreadable_file_says_how_to_fix_it(creator, text):
    (creator / "consent.json").write_text(text, encoding="utf-8")
    with pytest.raises(ConsentError, match=INIT):
        verify_consent(creator, load_persona(creator))


def test_expired_manifest(creator, tmp_path):
    issued = datetime(2020, 1, 1, tzinfo=UTC)
    sign(creator, tmp_path, days=10, now=issued)
    persona = load_persona(creator)
    assert verify_consent(creator, persona, now=issued + timedelta(days=9))
    with pytest.raises(ConsentError, match=f"expired on 2020-01-11 00:00 UTC.*{INIT}"):
        verify_consent(creator, persona, now=issued + timedelta(days=10))


def test_not_yet_valid_manifest(creator, tmp_path):
    issued = datetime.now(UTC) + timedelta(days=2)
    sign(creator, tmp_path, now=issued)
    with pytest.raises(ConsentError, match=f"not valid yet.*{INIT}"):
        verify_consent(creator, load_persona(creator))
    assert verify_consent(creator, load_persona(creator), now=issued + timedelta(seconds=1))


@pytest.mark.parametrize(
    "change",
    [
        lambda d: d["manifest"]["scope"].update(voice=True),
        lambda d: d["manifest"].update(expires_at="2099-01-01T00:00:00Z"),
        lambda d: d["manifest"]["scope"]["channels"].append("api"),
        lambda d: d["manifest"].update(notes="added later"),
    ],
)
def test_tampered_manifest_has_a_bad_signature(creator, tmp_path, change):
    sign(creator, tmp_path)
    rewrite(creator, change)
    with pytest.raises(ConsentError, match=f"bad signature.*{INIT}"):
        verify_consent(creator, load_persona(creator), channel=None)


def test_pretty_printing_does_not_break_the_signature(creator, tmp_path):
    sign(creator, tmp_path)
    rewrite(creator, lambda d: None)  # re-serialised with other whitespace and key order
    assert verify_consent(creator, load_persona(creator))


@pytest.mark.parametrize("field, value", [("id", "someone-else"), ("name", "Rosa Lindqvist-Berg")])
def test_manifest_for_another_persona_is_refused(creator, tmp_path, field, value):
    sign(creator, tmp_path)
    persona = load_persona(creator).model_copy(update={field: value})
    with pytest.raises(ConsentError, match=f"is consent for 'Rosa Lindqvist' \\(rosa-lindqvist\\).*{INIT}"):
        verify_consent(creator, persona)


def test_channel_out_of_scope(creator, tmp_path):
    sign(creator, tmp_path, channels=["embed"])
    persona = load_persona(creator)
    with pytest.raises(ConsentError, match=f"does not allow the 'web' channel.*{INIT} .* --channel web"):
        verify_consent(creator, persona)  # the web app's channel is required by default
    assert verify_consent(creator, persona, channel="embed").allows("embed")
    assert verify_consent(creator, persona, channel=None)


def test_pinned_public_key_refuses_a_manifest_re_signed_with_another_key(creator, env, tmp_path):
    original = sign(creator, tmp_path).consent
    sign(creator, tmp_path, key_path=tmp_path / "deployer" / "other.ed25519", force=True)
    persona = load_persona(creator)
    assert verify_consent(creator, persona)  # a valid signature, just not the creator's
    with pytest.raises(ConsentError, match=f"not the creator's key {original.fingerprint}.*CLONE_CONSENT_PUBLIC_KEY"):
        verify_consent(creator, persona, trusted_key=original.public_key)

    result = run(["consent", "show", str(creator)], {**env, "CLONE_CONSENT_PUBLIC_KEY": original.public_key})
    assert result.exit_code == 1 and "CLONE_CONSENT_PUBLIC_KEY" in result.output

    sign(creator, tmp_path, force=True)  # the creator signs again with their own key
    result = run(["consent", "show", str(creator)], {**env, "CLONE_CONSENT_PUBLIC_KEY": original.public_key})
    assert result.exit_code == 0 and "matches CLONE_CONSENT_PUBLIC_KEY" in result.output
    assert load_settings({"CLONE_CONSENT_PUBLIC_KEY": original.public_key}, dotenv=False).consent_public_key


def test_init_refuses_to_overwrite_without_force(creator, env, tmp_path):
    key = str(key_file(tmp_path))
    assert run(["consent", "init", str(creator), "--key", key, "--days", "5"], env).exit_code == 0
    before = (creator / "consent.json").read_bytes()
    result = run(["consent", "init", str(creator), "--key", key], env)
    assert result.exit_code == 1 and "already exists" in result.output and "--force" in result.output
    assert (creator / "consent.json").read_bytes() == before
    result = run(["consent", "init", str(creator), "--key", key, "--force"], env)
    assert result.exit_code == 0 and (creator / "consent.json").read_bytes() != before


def test_key_file_is_private_and_never_inside_the_creator_folder(creator, env, tmp_path):
    result = run(["consent", "init", str(creator)], env)
    assert result.exit_code == 0, result.output
    key = tmp_path / "userhome/.config/creator-clone/keys/rosa-lindqvist.ed25519"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert not key.is_relative_to(creator)
    assert sorted(p.name for p in creator.iterdir()) == ["consent.json", "persona.yaml"]
    assert "PRIVATE KEY" not in (creator / "consent.json").read_text()

    inside = creator / "keys" / "me.ed25519"
    result = run(["consent", "init", str(creator), "--key", str(inside), "--force"], env)
    assert result.exit_code == 1 and "inside the creator folder" in result.output
    assert not inside.exists() and not inside.parent.exists()

    (tmp_path / ".git").mkdir()  # a key anywhere in the creator folder's repository is refused too
    with pytest.raises(ConsentError, match="inside the repository holding the creator folder"):
        init_consent(creator, key_path=tmp_path / "elsewhere" / "k.ed25519", force=True)
    (tmp_path / ".git").rmdir()

    key.chmod(0o644)  # a key others can read is refused, like ssh does
    result = run(["consent", "init", str(creator), "--force"], env)
    assert result.exit_code == 1 and "chmod 600" in result.output


@pytest.mark.parametrize(
    "args, message",
    [
        (["--days", "0"], "0 is not in the range 1<=x<=3650"),
        (["--days", "3651"], "3651 is not in the range 1<=x<=3650"),
        ([arg for i in range(21) for arg in ("--channel", f"c{i}")], "--channel: at most 20 values, got 21"),
        ([arg for i in range(21) for arg in ("--allowed-use", f"use {i}")], "--allowed-use: at most 20 values"),
        (["--allowed-use", "x" * 201], "at most 200 characters, got 201"),
        (["--consented-by", "y" * 201], "--consented-by must be 1 to 200 characters"),
        (["--channel", "Web Site"], "use a short lowercase name"),
    ],
)
def test_cli_inputs_are_validated(creator, env, tmp_path, args, message):
    result = run(["consent", "init", str(creator), "--key", str(key_file(tmp_path)), *args], env)
    assert result.exit_code != 0
    assert message in result.output
    assert not (creator / "consent.json").exists()


def test_the_demo_manifest_verifies_against_the_demo_persona():
    persona = load_persona(DEMO_CREATOR_DIR)
    consent = verify_consent(DEMO_CREATOR_DIR, persona, channel="web")
    m = consent.manifest
    assert persona.fictional and "fictional" in m.consented_by and "throwaway key" in m.consented_by
    assert m.scope.channels == ["web", "embed", "api"]
    assert m.expires_at > datetime.now(UTC) + timedelta(days=365 * 8)
    # No private key anywhere near the demo.
    assert not any("PRIVATE KEY" in p.read_text(errors="ignore") for p in DEMO_CREATOR_DIR.glob("*") if p.is_file())


def test_summary_markdown_tells_fans_who_what_and_how_to_check(creator, tmp_path):
    consent = sign(creator, tmp_path, channels=["web"], voice=False, likeness=True).consent
    text = summary_markdown(consent)
    for part in (
        "**Rosa Lindqvist**",
        "**Consent given by:** Rosa Lindqvist (the creator)",
        "**Channels:** web",
        "**Allowed uses:** answer fan questions from published content",
        f"**Topics off limits:** {'; '.join(consent.manifest.scope.topics_off_limits)}",
        "**Voice:** no",
        "**Likeness (face, avatar):** yes",
        f"**Issued:** {consent.manifest.issued_at:%Y-%m-%d %H:%M} UTC",
        f"**Expires:** {consent.manifest.expires_at:%Y-%m-%d %H:%M} UTC",
        f"`{consent.public_key}`",
        f"`{consent.fingerprint}`",
        "python -m clone consent show",
        "canonical JSON",
    ):
        assert part in text


# The kill switch


def test_revoke_and_restore_via_the_cli(creator, env, tmp_path):
    settings = make_settings(tmp_path / "clonehome", CLONE_CREATOR_DIR=str(creator))
    switch = KillSwitch.from_settings(settings)
    assert switch.revoked() is None

    result = run(["consent", "revoke", str(creator), "--reason", "taking a break"], env)
    assert result.exit_code == 0, result.output
    for path in (tmp_path / "clonehome" / "revoked.json", creator / "revoked.json"):
        data = json.loads(path.read_text(encoding="utf-8"))
        assert data["reason"] == "taking a break"
        assert abs(datetime.fromisoformat(data["revoked_at"]) - datetime.now(UTC)) < timedelta(minutes=1)
    fresh = KillSwitch.from_settings(settings).revoked()
    assert fresh is not None and fresh.reason == "taking a break" and not fresh.malformed

    result = run(["consent", "restore", str(creator)], env)
    assert result.exit_code == 0 and "switched back on" in result.output
    assert not (creator / "revoked.json").exists() and not (tmp_path / "clonehome" / "revoked.json").exists()
    assert KillSwitch.from_settings(settings).revoked() is None

    result = run(["consent", "restore", str(creator)], env)
    assert result.exit_code == 0 and "not revoked" in result.output


def test_a_revocation_file_in_the_creator_folder_alone_is_enough(creator, tmp_path):
    (creator / "revoked.json").write_text('{"revoked_at": "2025-01-01T00:00:00Z", "reason": ""}', encoding="utf-8")
    revocation = KillSwitch.from_settings(make_settings(tmp_path / "h", CLONE_CREATOR_DIR=str(creator))).revoked()
    assert revocation is not None and revocation.revoked_at == datetime(2025, 1, 1, tzinfo=UTC)


def test_revoke_via_the_setting(creator, env, tmp_path):
    settings = make_settings(tmp_path / "h", CLONE_CREATOR_DIR=str(creator), CLONE_REVOKED="true")
    revocation = KillSwitch.from_settings(settings).revoked()
    assert revocation is not None and revocation.source == "CLONE_REVOKED"
    assert KillSwitch.from_settings(make_settings(tmp_path / "h", CLONE_REVOKED="false")).revoked() is None
    with pytest.raises(ConfigError, match="CLONE_REVOKED='maybe' is not a valid bool"):
        make_settings(tmp_path / "h", CLONE_REVOKED="maybe")

    result = run(["consent", "restore", str(creator)], {**env, "CLONE_REVOKED": "true"})
    assert result.exit_code == 1 and "CLONE_REVOKED=true is still set" in result.output


@pytest.mark.parametrize("content", [b"", b"{oops", b"[]", b'{"reason": "no date"}', b"\xff\xfe"])
def test_a_malformed_revocation_file_still_counts(tmp_path, content):
    (tmp_path / "revoked.json").write_bytes(content)
    revocation = KillSwitch(revocation_paths(tmp_path / "creator", tmp_path)).revoked()
    assert revocation is not None and revocation.malformed


def test_a_revocation_directory_still_counts(tmp_path):
    (tmp_path / "revoked.json").mkdir()
    assert KillSwitch(revocation_paths(tmp_path / "creator", tmp_path)).revoked() is not None


def test_kill_switch_notices_a_revocation_within_a_second(creator, env, tmp_path):
    switch = KillSwitch(revocation_paths(creator, tmp_path / "clonehome"))
    assert switch.revoked() is None
    assert run(["consent", "revoke", str(creator)], env).exit_code == 0
    deadline = time.monotonic() + 1.0
    while switch.revoked() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    assert switch.revoked() is not None

    assert run(["consent", "restore", str(creator)], env).exit_code == 0
    deadline = time.monotonic() + 1.0
    while switch.revoked() is not None and time.monotonic() < deadline:
        time.sleep(0.02)
    assert switch.revoked() is None


def test_kill_switch_is_cheap_to_ask(tmp_path):
    switch = KillSwitch(revocation_paths(tmp_path / "creator", tmp_path))
    start = time.perf_counter()
    for _ in range(10_000):
        switch.revoked()
    assert time.perf_counter() - start < 1.0


def test_notice_names_the_creator():
    switch = KillSwitch([])
    assert switch.notice("Rosa Lindqvist") == (
        "Rosa Lindqvist has switched this AI clone off. It no longer answers questions."
    )


def test_another_key_pair_is_not_accepted_as_the_same_signer(creator, tmp_path):
    """Swapping in another key's public key without re-signing fails the signature check."""
    sign(creator, tmp_path)
    other = (
        Ed25519PrivateKey.generate()
        .public_key()
        .public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    )
    rewrite(creator, lambda d: d.update(public_key=base64.b64encode(other).decode()))
    with pytest.raises(ConsentError, match="bad signature"):
        verify_consent(creator, load_persona(creator))
