"""One dataset from several sites: the exports of creators' deployments that ran the same study package, merged
under one codebook with a ``site`` column (``python -m clone study pool FOLDER --out DIR``).

Each site keeps its export under ``sites/SITE/`` of the shared dataset (see :mod:`clone.survey.sync`); FOLDER is
a copy of it (e.g. ``huggingface-cli download --repo-type dataset … --local-dir FOLDER``), or any folder whose
sub-folders hold sites' exports (a site is named by its folder). A site whose study package differs from the
others' (its ``study-package.json``, or the ``study_package_sha256`` of any of its rows) is refused by name and
nothing is written: answers to different studies are not one dataset. Participant ids are random, so they stay
as they are (they are also the participants' deletion codes); the ``site`` column says where each took part,
and an id found at two sites (the same export copied twice) is refused too.

The pooled files keep each site's rows byte for byte, behind the site's name: ``pooled-wide.csv`` and
``pooled-long.csv`` (CSV as the exports are: UTF-8, CRLF, cells already neutralised against formulas), the
codebook (``pooled-codebook.csv`` and ``.json``, the sites' codebook with ``site`` first) and the package.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path

from clone.config import SITE_PATTERN
from clone.errors import SurveyError
from clone.files import write_atomic
from clone.survey.export import CODEBOOK_COLUMNS, CodebookEntry, _cell

WIDE, LONG, CODEBOOK, PACKAGE = "study-wide.csv", "study-long.csv", "study-codebook.json", "study-package.json"
SITE_FILES = (WIDE, LONG, CODEBOOK, PACKAGE)
SITE_ENTRY = CodebookEntry(
    "site",
    "The deployment (site) where the participant took part: its CLONE_STUDY_SITE, by default the creator's persona id",
    "string",
)
OUTPUTS = ("pooled-wide.csv", "pooled-long.csv", "pooled-codebook.csv", "pooled-codebook.json", PACKAGE)


@dataclass
class Site:
    """One site's export, read from its folder."""

    name: str
    folder: Path
    package_sha256: str
    package: bytes
    codebook: dict
    wide: list[list[str]]
    long: list[list[str]]
    # Package hashes the site's participants' rows carry (an empty one, from before packages, is not counted).
    row_packages: set[str] = field(default_factory=set)

    @property
    def participants(self) -> list[str]:
        """The participant ids of the wide file, in order."""
        at = self.wide[0].index("participant_id")
        return [row[at] for row in self.wide[1:]]


@dataclass(frozen=True)
class PoolReport:
    """What was pooled: the sites (in order), participants per site, the package's sha256, the files written."""

    sites: list[str]
    participants: dict[str, int]
    package_sha256: str
    files: list[Path]


def _rows(path: Path) -> list[list[str]]:
    with path.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.reader(fh))
    if not rows:
        raise SurveyError(f"{path} is empty: it needs at least its header row.")
    return rows


def read_site(folder: Path) -> Site:
    """Read a site's export from ``folder`` (its name is the site's); ``SurveyError`` names a missing file."""
    name = folder.name
    missing = [f for f in SITE_FILES if not (folder / f).is_file()]
    if missing:
        raise SurveyError(
            f"Site {name} ({folder}) lacks {', '.join(missing)}; each site needs {', '.join(SITE_FILES)}."
        )
    if not re.fullmatch(SITE_PATTERN, name):
        raise SurveyError(f"Site folder {folder} is not a site name (lower-case letters, digits, - and _).")
    package = (folder / PACKAGE).read_bytes()
    try:
        codebook = json.loads((folder / CODEBOOK).read_text(encoding="utf-8"))
    except ValueError as exc:
        raise SurveyError(f"{folder / CODEBOOK} is not valid JSON: {exc}.") from None
    site = Site(
        name, folder, hashlib.sha256(package).hexdigest(), package, codebook, _rows(folder / WIDE), _rows(folder / LONG)
    )
    header = site.wide[0]
    if "participant_id" not in header or "study_package_sha256" not in header:
        raise SurveyError(f"{folder / WIDE} is not a study's wide file (no participant_id or study_package_sha256).")
    at = header.index("study_package_sha256")
    site.row_packages = {row[at] for row in site.wide[1:] if len(row) > at and row[at]}
    return site


def find_sites(folder: Path) -> list[Path]:
    """Every folder under ``folder`` (itself included) that holds a site's wide file, by site name."""
    return sorted((p.parent for p in Path(folder).rglob(WIDE)), key=lambda p: (p.name, str(p)))


def _reference(sites: list[Site], package: Path | None) -> str:
    """The package every site must have run: ``package``'s sha256, else the one most sites ran."""
    if package is not None:
        return hashlib.sha256(Path(package).read_bytes()).hexdigest()
    counts = Counter(s.package_sha256 for s in sites).most_common()
    if len(counts) > 1 and counts[0][1] == counts[1][1]:
        split = "; ".join(f"{h[:12]}…: {', '.join(s.name for s in sites if s.package_sha256 == h)}" for h, _ in counts)
        raise SurveyError(
            f"The sites ran different study packages and no package has a majority ({split}). Nothing was written. "
            "Name the package to pool with --package FILE.json, or leave sites out with --exclude SITE."
        )
    return counts[0][0]


def check(sites: list[Site], reference: str) -> None:
    """Refuse (``SurveyError``, naming them) sites whose package differs, codebooks that differ, shared ids."""
    if not sites:
        raise SurveyError("No sites to pool.")
    refused = [s.name for s in sites if s.package_sha256 != reference or s.row_packages - {reference}]
    if refused:
        raise SurveyError(
            f"Refused: site{'s' if len(refused) > 1 else ''} {', '.join(refused)} ran a different study package "
            f"(its study-package.json or its rows' study_package_sha256 is not {reference}). Nothing was written. "
            "Only sites that ran the same package pool into one dataset; leave the others out with --exclude SITE."
        )
    first = sites[0]
    for s in sites[1:]:
        for what, mine, theirs in (
            ("codebook", s.codebook, first.codebook),
            ("wide file's header", s.wide[0], first.wide[0]),
            ("long file's header", s.long[0], first.long[0]),
        ):
            if mine != theirs:
                raise SurveyError(
                    f"Site {s.name}'s {what} differs from site {first.name}'s, though they ran the same package: "
                    "export both again with the same app version. Nothing was written."
                )
    seen: dict[str, str] = {}
    names = Counter(s.name for s in sites)
    twice = sorted(n for n, k in names.items() if k > 1)
    if twice:
        raise SurveyError(f"Two folders are named as the same site: {', '.join(twice)}. Nothing was written.")
    for s in sites:
        for pid in s.participants:
            if pid in seen:
                raise SurveyError(
                    f"Participant {pid} is in the exports of both {seen[pid]} and {s.name}: the same data copied "
                    "under two sites? Nothing was written."
                )
            seen[pid] = s.name


def _csv(rows: list[list[str]]) -> str:
    """Rows as the exports write them (RFC 4180, CRLF). The cells were neutralised at export: kept as they are."""
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL).writerows(rows)
    return buffer.getvalue()


def pooled_files(sites: list[Site], reference: str) -> dict[str, str | bytes]:
    """The pooled files' contents by name (the sites already checked with :func:`check`)."""
    first = sites[0]
    wide = [["site", *first.wide[0]]] + [[s.name, *row] for s in sites for row in s.wide[1:]]
    long = [["site", *first.long[0]]] + [[s.name, *row] for s in sites for row in s.long[1:]]
    entries = [asdict(SITE_ENTRY), *first.codebook["columns"]]
    codebook_rows = [CODEBOOK_COLUMNS] + [[_cell(e.get(c)) for c in CODEBOOK_COLUMNS] for e in entries]
    codebook = first.codebook | {
        "sites": [s.name for s in sites],
        "study_package_sha256": reference,
        "columns": entries,
    }
    return {
        "pooled-wide.csv": _csv(wide),
        "pooled-long.csv": _csv(long),
        "pooled-codebook.csv": _csv([[str(c) for c in row] for row in codebook_rows]),
        "pooled-codebook.json": json.dumps(codebook, ensure_ascii=False, indent=2),
        PACKAGE: first.package,
    }


def pool(folder: Path, out: Path, *, package: Path | None = None, exclude: tuple[str, ...] = ()) -> PoolReport:
    """Merge the sites' exports found under ``folder`` into ``out`` (see the module's docstring).

    ``package`` names the study package every site must have run (default: the one most sites ran); sites named
    in ``exclude`` are left out. Every check runs before anything is written: a refusal writes nothing.
    """
    folders = [f for f in find_sites(Path(folder)) if f.name not in exclude]
    if not folders:
        raise SurveyError(
            f"No site exports under {folder}: each site's folder (sites/SITE/ in the dataset) holds {WIDE} and "
            f"{', '.join(SITE_FILES[1:])}."
        )
    sites = [read_site(f) for f in folders]
    reference = _reference(sites, package)
    check(sites, reference)
    files = pooled_files(sites, reference)
    Path(out).mkdir(parents=True, exist_ok=True)
    # Private (0600): the files hold participants' answers.
    written = [write_atomic(Path(out) / name, content, mode=0o600) for name, content in files.items()]
    return PoolReport(
        [s.name for s in sites], {s.name: len(s.wide) - 1 for s in sites}, reference, [Path(p) for p in written]
    )
