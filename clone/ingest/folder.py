"""Containers: the content folder (through :mod:`clone.boundary`) and zip archives read in memory."""

from __future__ import annotations

import io
import re
import stat
import zipfile
import zlib
from collections.abc import Callable
from pathlib import Path, PurePosixPath

from clone import boundary
from clone.ingest.documents import (
    SIDECAR_SUFFIXES,
    SUPPORTED_SUFFIXES,
    ContentScan,
    SkippedFile,
    SourceFile,
    _ArchiveTooLarge,
    _Entry,
    _Limits,
    _read_sidecar,
)
from clone.ingest.formats import (
    _READERS,
    _short,
)

# ---------------------------------------------------------------------------------------------
# Containers: the content folder and zip archives


def _is_sidecar(name: str) -> bool:
    return name.lower().endswith(SIDECAR_SUFFIXES)


def _sidecar_for(name: str, sidecars: dict[str, _Entry]) -> str | None:
    """``talk.srt.meta.yaml`` first, then ``talk.meta.yaml``, for ``talk.srt``."""
    path = PurePosixPath(name)
    for base in (name, str(path.with_suffix("")) if path.suffix else None):
        for suffix in SIDECAR_SUFFIXES:
            if base and f"{base}{suffix}" in sidecars:
                return f"{base}{suffix}"
    return None


def _limit(limits: _Limits) -> str:
    return f"{limits.file_bytes / 1e6:g} MB limit"


def _mb(n: float) -> str:
    return f"{n / 1e6:.1f} MB" if n >= 100_000 else f"{n / 1e6:.2g} MB"


def _scan_entries(
    entries: list[_Entry], prefix: str, limits: _Limits, *, in_archive: bool
) -> tuple[list[SourceFile], list[SkippedFile]]:
    """Read every entry of one container; ``prefix`` turns an entry name into a document path."""
    files: list[SourceFile] = []
    skipped: list[SkippedFile] = []
    sidecars = {e.name: e for e in entries if _is_sidecar(e.name)}
    documents = [e for e in entries if not _is_sidecar(e.name)]
    matched = {e.name: _sidecar_for(e.name, sidecars) for e in documents}
    for name in sorted(set(sidecars) - set(matched.values())):
        skipped.append(SkippedFile(prefix + name, "metadata file with no document of the same name beside it"))
    sidecar_cache: dict[str, dict[str, str]] = {}
    for entry in documents:
        path = prefix + entry.name
        suffix = PurePosixPath(entry.name).suffix.lower()
        try:
            # Databases, keys and .env files are never read, whatever their suffix.
            found = boundary.by_name(entry.name)
            if found:
                raise ValueError(found.reason)
            if suffix == ".zip":
                if in_archive:
                    raise ValueError("archives inside archives are not opened; unpack the inner one first")
                got = _read_zip(entry, path, limits)
            elif suffix not in _READERS:
                raise ValueError(
                    f"unsupported file type {suffix or '(none)'}; use one of {', '.join(SUPPORTED_SUFFIXES)}"
                )
            else:
                if entry.size == 0:
                    raise ValueError("the file is empty")
                if entry.size > limits.file_bytes:
                    raise ValueError(f"the file is {_mb(entry.size)}, over the {_limit(limits)} (CLONE_MAX_FILE_MB)")
                data = entry.read()
                found = boundary.sensitive(entry.name, data)
                if found:  # a database or a secret under an innocent name: never indexed, never quoted
                    raise ValueError(found.reason)
                side = matched[entry.name]
                if side and side not in sidecar_cache:
                    if sidecars[side].size > limits.file_bytes:
                        raise ValueError(f"its metadata file {PurePosixPath(side).name} is over the {_limit(limits)}")
                    sidecar_cache[side] = _read_sidecar(side, sidecars[side].read())
                got = list(_READERS[suffix](path, entry.name, data, sidecar_cache.get(side or "", {})))
        except (ValueError, OSError) as exc:
            skipped.append(SkippedFile(path, str(exc)))
            continue
        files.extend(d for d in got if isinstance(d, SourceFile))
        skipped.extend(d for d in got if isinstance(d, SkippedFile))
    return files, skipped


def _unsafe_member(name: str) -> str | None:
    """Why a zip member's name could escape the folder it would be unpacked into, if it could."""
    parts = name.replace("\\", "/").split("/")
    if name.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", name):
        return "an absolute path"
    if ".." in parts:
        return "a path that climbs out of the archive (..)"
    if "\0" in name:
        return "a name with a NUL byte"
    return None


def _read_zip(entry: _Entry, path: str, limits: _Limits) -> list[SourceFile | SkippedFile]:
    """Read an archive's members in memory, within the file-count and unpacked-size limits."""
    limit_mb = f"{limits.zip_bytes / 1e6:g} MB"
    if entry.size == 0:
        raise ValueError("the file is empty")
    if entry.size > limits.zip_bytes:
        raise ValueError(f"the archive is {_mb(entry.size)}, over the {limit_mb} limit (CLONE_MAX_ZIP_MB)")
    source = boundary.open_file(entry.path) if entry.path else io.BytesIO(entry.read())
    try:
        archive = zipfile.ZipFile(source)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, ValueError) as exc:
        source.close()
        raise ValueError(f"the file is not a readable zip archive ({_short(exc)})") from None
    with source, archive:
        members = [i for i in archive.infolist() if not i.is_dir()]
        if len(members) > limits.zip_files:
            raise ValueError(
                f"the archive holds {len(members)} files, over the limit of {limits.zip_files} (CLONE_MAX_ZIP_FILES)"
            )
        declared = sum(i.file_size for i in members)
        if declared > limits.zip_bytes:
            raise ValueError(f"the archive unpacks to {_mb(declared)}, over the {limit_mb} limit (CLONE_MAX_ZIP_MB)")
        left = [limits.zip_bytes]

        def reader(info: zipfile.ZipInfo) -> Callable[[], bytes]:
            def read() -> bytes:
                # Declared sizes can lie (zip bombs): count the bytes actually unpacked as well.
                cap = min(limits.file_bytes, left[0])
                try:
                    with archive.open(info) as fh:
                        data = fh.read(cap + 1)
                except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, RuntimeError) as exc:
                    raise ValueError(f"the archive member is damaged and cannot be unpacked ({_short(exc)})") from None
                if len(data) > left[0]:
                    raise _ArchiveTooLarge(f"the archive unpacks to more than {limit_mb} (CLONE_MAX_ZIP_MB)")
                left[0] -= len(data)
                if len(data) > limits.file_bytes:
                    raise ValueError(f"the file is over the {_limit(limits)} (CLONE_MAX_FILE_MB)")
                return data

            return read

        entries: list[_Entry] = []
        out: list[SourceFile | SkippedFile] = []
        for info in members:
            name = info.filename
            why = _unsafe_member(name)
            if not why and any(part.startswith(".") or part == "__MACOSX" for part in name.split("/")):
                continue  # hidden files and macOS resource forks, as in the content folder
            if why is None and stat.S_ISLNK(info.external_attr >> 16):
                why = "a symbolic link"
            if why is None and info.flag_bits & 0x1:
                why = "an encrypted member; unpack it with its password first"
            if why:
                out.append(SkippedFile(f"{path}/{name}", f"unsafe archive member: {why}; left out, nothing written"))
                continue
            entries.append(_Entry(name, info.file_size, reader(info)))
        try:
            files, skipped = _scan_entries(entries, f"{path}/", limits, in_archive=True)
        except _ArchiveTooLarge as exc:
            raise ValueError(str(exc)) from None
    return [*out, *files, *skipped]


def scan_folder(
    folder: Path, *, max_file_mb: float = 20, max_zip_files: int = 2000, max_zip_mb: float = 200
) -> ContentScan:
    """Read every supported file under ``folder`` (recursively, hidden files excluded) into documents.

    ``max_file_mb`` caps each file (and each archive member), ``max_zip_files`` the number of
    files in one zip archive and ``max_zip_mb`` what one archive unpacks to. Files and documents
    that cannot be used are listed in ``skipped`` with a reason; nothing is ever written.
    """
    folder = Path(folder)
    root = folder.resolve()
    limits = _Limits(int(max_file_mb * 1_000_000), int(max_zip_files), int(max_zip_mb * 1_000_000))
    # The folder is a boundary: links are reported and never followed, files are opened without following one.
    names, outside = boundary.walk(folder)
    entries = [
        _Entry(name, (root / name).stat().st_size, lambda p=root / name: boundary.read_bytes(p), root / name)
        for name in names
    ]
    files, skipped = _scan_entries(entries, "", limits, in_archive=False)
    skipped = [*(SkippedFile(name, reason) for name, reason in outside), *skipped]
    unique: list[SourceFile] = []
    seen: set[str] = set()
    for f in files:
        if f.path in seen:
            skipped.append(SkippedFile(f.path, "another document has the same path (a name repeated in an archive?)"))
            continue
        seen.add(f.path)
        unique.append(f)
    return ContentScan(files=unique, skipped=skipped)
