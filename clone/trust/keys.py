"""Ed25519 private keys on disk, one rule for all of them: PEM PKCS#8, created with mode 0600 from the first
byte (never chmod after), never overwritten by a second process, and refused when other users can read them.

Used by the creator's consent key and the deployment's receipt key alike.
"""

from __future__ import annotations

from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from clone.errors import CloneError
from clone.files import readable_by_others, write_atomic


def private_pem(key: Ed25519PrivateKey) -> bytes:
    """The key as unencrypted PEM (PKCS#8): what is written to disk."""
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def read_private(path: Path, *, error: type[CloneError] = CloneError, fix: str = "") -> Ed25519PrivateKey:
    """The Ed25519 key at ``path``; ``error`` (with ``fix`` appended) if it is unreadable, not such a key,
    or readable by other users (like ssh, a private key others can read is refused)."""
    path = Path(path)
    if not path.is_file():
        raise error(f"The key path {path} is not a file. {fix}".strip())
    if readable_by_others(path):
        raise error(f"The private key {path} can be read by other users. Fix it with: chmod 600 {path}")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise error(f"Cannot read the private key {path}: {exc.strerror}. Check its owner.") from None
    if not data:
        raise error(f"{path} is empty. It never signed anything: delete it and start again.")
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError):
        key = None
    if not isinstance(key, Ed25519PrivateKey):
        raise error(f"{path} is not an unencrypted Ed25519 private key in PEM (PKCS#8). {fix}".strip())
    return key


def load_or_create(
    path: Path, *, error: type[CloneError] = CloneError, fix: str = ""
) -> tuple[Ed25519PrivateKey, bool]:
    """The key at ``path``, or a new one written there; returns (key, created now).

    Creation is a complete file linked into place only if none exists, so when several processes start
    at once exactly one key is made and every process reads that whole key, never a half-written one.
    """
    path = Path(path).expanduser()
    if path.exists():
        return read_private(path, error=error, fix=fix), False
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    key = Ed25519PrivateKey.generate()
    try:
        write_atomic(path, private_pem(key), mode=0o600, exclusive=True)
    except FileExistsError:
        return read_private(path, error=error, fix=fix), False
    except OSError as exc:
        raise error(f"Cannot create the private key {path}: {exc.strerror}. {fix}".strip()) from None
    return key, True


def replace_private(path: Path, key: Ed25519PrivateKey) -> None:
    """Write ``key`` over the key at ``path`` (a rotation), atomically and with mode 0600."""
    write_atomic(path, private_pem(key), mode=0o600)
