"""Reply receipts with real Ed25519 keys in each test's own home: no mocks."""

from __future__ import annotations

import base64
import json
import logging
import stat
import threading
from datetime import UTC, datetime, timedelta, timezone

import pytest

from clone.errors import DeploymentKeyError
from clone.trust.receipts import KEY_FILENAME, MAX_TEXT_CHARS, RETIRED_DIRNAME, Notary, rotate_key

REPLY = "My balcony is about four square metres [1]. I grow tomatoes, basil and a café-style herb box there."
SOURCES = ["videos/balcony-tour.md", "blog/herbs.md#t=125"]


def sign(notary: Notary, text: str = REPLY, **kwargs):
    return notary.sign(text, "rosa-lindqvist", list(SOURCES), "extractive", **kwargs)


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64url(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


@pytest.fixture
def home(tmp_path):
    return tmp_path / "home"


@pytest.fixture
def notary(home) -> Notary:
    return Notary.load(home)


def test_genuine_round_trip(notary):
    at = datetime(2025, 3, 1, 12, 30, 45, 123456, tzinfo=timezone(timedelta(hours=2)))
    receipt = sign(notary, at=at)

    result = notary.verify(REPLY, receipt.token)

    assert result.status == "genuine" and result.genuine
    assert result.persona == "rosa-lindqvist"
    assert result.sources == tuple(SOURCES)
    assert result.time == "2025-03-01T10:30:45Z"
    assert result.backend == "extractive"
    assert result.signed_by == notary.fingerprint == receipt.signed_by
    assert result.code == receipt.short
    assert result.message.startswith("Genuine: this clone (rosa-lindqvist) gave this reply on 2025-03-01 10:30:45 UTC")
    assert "citing 2 sources" in result.message


def test_token_is_canonical_json_and_a_64_byte_signature(notary):
    receipt = sign(notary, at=datetime(2025, 3, 1, 10, 30, 45, tzinfo=UTC))
    body, signature = receipt.token.split(".")
    raw = unb64url(body)
    payload = json.loads(raw)
    assert raw == json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()
    assert set(payload) == {"v", "text_sha256", "cited_sha256", "persona", "sources", "time", "backend", "key", "nonce"}
    assert payload["v"] == 2 and payload["key"] == notary.fingerprint and payload["time"] == "2025-03-01T10:30:45Z"
    # The numbered source list is inside the signature: ids, labels and links.
    assert payload["sources"] == [{"id": s, "label": s, "url": ""} for s in SOURCES]
    assert len(unb64url(signature)) == 64
    assert "=" not in receipt.token
    assert len(receipt.short) == 19 and receipt.short.count("-") == 3
    assert receipt.as_dict() == {
        "receipt": receipt.token,
        "code": receipt.short,
        "signed_by": notary.fingerprint,
        "algorithm": "Ed25519",
    }
    assert len(base64.b64decode(notary.public_key_b64)) == 32


def test_one_word_changed_is_altered(notary):
    receipt = sign(notary)

    result = notary.verify(REPLY.replace("tomatoes", "potatoes"), receipt.token)

    assert result.status == "altered" and not result.genuine
    assert result.message.startswith("Altered:")
    # The receipt itself is valid, so what it vouches for is still shown.
    assert result.persona == "rosa-lindqvist" and result.sources == tuple(SOURCES)


@pytest.mark.parametrize(
    "pasted",
    [
        "  " + REPLY.replace(". ", ".\n\n") + "\n",  # line breaks and padding from a browser copy
        REPLY.replace(" ", "\u00a0", 3).replace("basil and", "basil \t and"),  # non-breaking space, tab run
        REPLY.replace("café", "cafe\u0301"),  # same letters, decomposed (NFD) accent
    ],
    ids=["line-breaks", "nbsp-and-tabs", "nfd"],
)
def test_whitespace_and_unicode_form_do_not_matter(notary, pasted):
    assert pasted != REPLY
    assert notary.verify(pasted, sign(notary).token).status == "genuine"


def test_receipt_from_another_deployment_is_unknown(notary, tmp_path):
    other = Notary.load(tmp_path / "other-home")
    assert other.fingerprint != notary.fingerprint

    result = notary.verify(REPLY, sign(other).token)

    assert result.status == "unknown"
    assert "does not know" in result.reason
    assert result.persona is None and result.sources == ()


def test_tampered_payload_is_unknown(notary):
    body, signature = sign(notary).token.split(".")
    payload = json.loads(unb64url(body))
    payload["sources"] = list(reversed(payload["sources"]))
    forged = b64url(json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()) + "." + signature

    result = notary.verify(REPLY, forged)

    assert result.status == "unknown"
    assert "signature does not match" in result.reason
    assert result.sources == ()


def test_tampered_signature_is_unknown(notary):
    body, signature = sign(notary).token.split(".")
    raw = bytearray(unb64url(signature))
    raw[0] ^= 1
    assert notary.verify(REPLY, f"{body}.{b64url(bytes(raw))}").status == "unknown"


def _bad_tokens() -> dict[str, object]:
    junk_sig = b64url(bytes(64))
    return {
        "empty": "",
        "spaces": "   \n ",
        "garbage": "this is not a receipt at all",
        "missing-dot": "eyJ2IjoxfQ",
        "three-parts": "a.b.c",
        "bad-base64": "!!!!.####",
        "bad-padding": "a.b",
        "short-signature": b64url(b'{"key":"x"}') + "." + b64url(b"sig"),
        "not-json": b64url(b"\xff\xfe not json") + "." + junk_sig,
        "json-list": b64url(b"[1,2,3]") + "." + junk_sig,
        "deeply-nested": b64url(b"[" * 2900 + b"]" * 2900)[:4000] + "." + junk_sig,
        "short-code": "K7Q2-MZXD-AB3C-QQ7Z",
        "one-megabyte": "A" * 1_000_000 + "." + junk_sig,
        "not-a-string": None,
    }


@pytest.mark.parametrize("name", list(_bad_tokens()))
def test_malformed_tokens_are_unknown_without_raising(notary, name):
    token = _bad_tokens()[name]

    result = notary.verify(REPLY, token)

    assert result.status == "unknown"
    # The short code alone is not an unknown receipt: the person is told kindly that the full one is needed.
    kind = "Not checked yet:" if name == "short-code" else "Unknown:"
    assert result.reason and result.message.startswith(kind)
    assert result.needs_receipt is (name == "short-code")
    assert result.persona is None


def test_limits_are_explained(notary):
    token = sign(notary).token
    assert "at most 4,096 characters" in notary.verify(REPLY, "x" * 1_000_000).reason
    too_long = notary.verify("word " * MAX_TEXT_CHARS, token)
    assert too_long.status == "unknown" and "at most 20,000 characters" in too_long.reason
    assert "short code" in notary.verify(REPLY, "k7q2-mzxd-ab3c-qq7z").reason
    # A token wrapped over several lines by an e-mail client still verifies.
    assert notary.verify(REPLY, "\n".join(token[i : i + 60] for i in range(0, len(token), 60))).genuine


def test_key_is_created_once_private_and_reused(home):
    first = Notary.load(home)
    path = home / "keys" / KEY_FILENAME
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----")  # PKCS8 PEM
    before = (path.stat().st_ino, path.read_bytes())
    receipt = sign(first)

    second = Notary.load(home)

    assert second.fingerprint == first.fingerprint
    assert (path.stat().st_ino, path.read_bytes()) == before
    assert second.verify(REPLY, receipt.token).genuine


def test_simultaneous_first_loads_share_one_key(tmp_path):
    for attempt in range(10):
        home = tmp_path / f"home{attempt}"
        barrier = threading.Barrier(12)
        found: list[str] = []
        errors: list[BaseException] = []

        def load(home=home, barrier=barrier, found=found, errors=errors):
            barrier.wait()
            try:
                found.append(Notary.load(home).fingerprint)
            except BaseException as exc:  # surfaced by the assert below
                errors.append(exc)

        threads = [threading.Thread(target=load) for _ in range(12)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()

        assert not errors
        assert len(found) == 12 and len(set(found)) == 1
        assert Notary.load(home).fingerprint == found[0]
        assert [p.name for p in (home / "keys").iterdir()] == [KEY_FILENAME]


def test_rotation_keeps_old_receipts_genuine(home, tmp_path):
    old = Notary.load(home)
    old_receipt = sign(old)

    new_fingerprint = rotate_key(home)
    new = Notary.load(home)

    assert new_fingerprint == new.fingerprint != old.fingerprint
    assert new.verify(REPLY, old_receipt.token).genuine
    new_receipt = sign(new)
    assert new_receipt.signed_by == new_fingerprint
    assert new.verify(REPLY, new_receipt.token).signed_by == new_fingerprint
    assert new.known_fingerprints == [new_fingerprint, old.fingerprint]
    # Only the public half of the old key is kept.
    keys = home / "keys"
    assert sorted(p.name for p in keys.iterdir()) == sorted([KEY_FILENAME, RETIRED_DIRNAME])
    retired = list((keys / RETIRED_DIRNAME).iterdir())
    assert [p.name for p in retired] == [f"{old.fingerprint}.pub"]
    assert b"PRIVATE" not in retired[0].read_bytes()
    assert stat.S_IMODE((keys / KEY_FILENAME).stat().st_mode) == 0o600
    # Keys retired earlier still count after a second rotation; another home knows none of them.
    rotate_key(home)
    assert Notary.load(home).verify(REPLY, old_receipt.token).genuine
    assert Notary.load(home).verify(REPLY, new_receipt.token).genuine
    assert Notary.load(tmp_path / "elsewhere").verify(REPLY, old_receipt.token).status == "unknown"


def test_private_key_never_reaches_the_log(home, caplog):
    caplog.set_level(logging.DEBUG)
    notary = Notary.load(home)
    sign(notary)
    rotate_key(home)
    secret = (home / "keys" / KEY_FILENAME).read_text()
    body = "".join(secret.splitlines()[1:-1])
    assert notary.fingerprint in caplog.text  # the log does say which key is in use
    assert body not in caplog.text and "PRIVATE KEY" not in caplog.text


@pytest.mark.parametrize("content, message", [(b"", "is empty"), (b"not a key\n", "not an unencrypted Ed25519")])
def test_unreadable_key_file_says_how_to_fix(home, content, message):
    (home / "keys").mkdir(parents=True)
    (home / "keys" / KEY_FILENAME).write_bytes(content)
    (home / "keys" / KEY_FILENAME).chmod(0o600)
    with pytest.raises(DeploymentKeyError, match=message):
        Notary.load(home)


def test_a_deployment_key_others_can_read_is_refused_like_the_creators(home):
    Notary.load(home)
    (home / "keys" / KEY_FILENAME).chmod(0o640)
    with pytest.raises(DeploymentKeyError, match="chmod 600"):
        Notary.load(home)


def test_cli_shows_and_rotates_the_deployment_key(tmp_path, monkeypatch):
    from click.testing import CliRunner

    from clone.cli import cli

    monkeypatch.setenv("CLONE_HOME", str(tmp_path / "home"))
    runner = CliRunner()
    shown = runner.invoke(cli, ["keys", "show"])
    assert shown.exit_code == 0, shown.output
    old = shown.output.split("fingerprint: ")[1].split()[0]
    notary = Notary.load(tmp_path / "home")
    receipt = notary.sign("Hello there.", "p", [], "extractive")
    rotated = runner.invoke(cli, ["keys", "rotate"])
    assert rotated.exit_code == 0 and "New deployment key" in rotated.output
    new = runner.invoke(cli, ["keys", "show"]).output.split("fingerprint: ")[1].split()[0]
    assert new != old
    assert Notary.load(tmp_path / "home").verify("Hello there.", receipt.token).status == "genuine"
