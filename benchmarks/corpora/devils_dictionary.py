"""Build a retrieval test corpus from Ambrose Bierce's *The Devil's Dictionary* (1911).

The book is in the public domain (copyright expired). Its plain text is committed as
``benchmarks/data/devils-dictionary.txt`` (taken from Debian's ``dict-devil`` package). This
script splits it into its entries (``AUCTIONEER, n.  The man who ...`` up to the next headword)
and writes one Markdown file per entry, with YAML front matter the ingester understands. The
book's hard line wrapping is undone (each prose paragraph becomes one line; verse keeps one line
per verse line), so that sentences and answer keywords never straddle a line break::

    python benchmarks/corpora/devils_dictionary.py [TARGET_DIR]

Without ``TARGET_DIR`` the files go to a new temporary folder, whose path is printed.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tempfile
import unicodedata
from dataclasses import dataclass
from pathlib import Path

SOURCE = Path(__file__).resolve().parents[1] / "data" / "devils-dictionary.txt"
URL_PREFIX = "https://example.com/devils-dictionary/"

# An entry starts on an unindented line right after a blank line, with an upper-case token:
# "ABASEMENT, n.", "CUI BONO?", "LL.D.", "R.I.P.", or one of the letter entries ("I is the ...").
_START_TOKEN = re.compile(r"^[A-Z][A-Z'\-.]*(?=[ ,?]|$)")
_LETTER_ENTRIES = frozenset("IJKTWX")
# "HEADWORD, n." / "BABE or BABY, n." / "TZETZE (or TSETSE) FLY, n." / "INFERIAE,n." / "IMPOSTOR n." /
# "WHITE, adj. and n." / "MAMMALIA, n.pl." / "EXHORT, v.t."
_WITH_POS = re.compile(
    r"^(?P<hw>[A-Z](?:[A-Z'\-. (),]|or )*?)(?:,\s*|\s+)"
    r"(?:n|v|adj|adv|pro|pron|prep|conj|interj|p|pp|x)\.[a-z.]*(?:\s|$)"
)
# "ABRACADABRA." / "CUI BONO?  [Latin]" / "HABEAS CORPUS.  A writ" / "LL.D.  Letters" / "R.I.P.  A ..."
_NO_POS = re.compile(r"^(?P<hw>[A-Z][A-Z'. ]*?[A-Z.])\??(?:\s\s|$)")
_SINGLE_LETTER = re.compile(r"^(?P<hw>[A-Z])\b")


@dataclass(frozen=True)
class Entry:
    """One dictionary entry."""

    headword: str  # as printed, e.g. "AUCTIONEER" or "BABE or BABY"
    text: str  # the whole entry as printed (hard-wrapped), headword line included

    @property
    def title(self) -> str:
        return title_case(self.headword)

    @property
    def slug(self) -> str:
        return slugify(self.headword)


def title_case(headword: str) -> str:
    """``AUCTIONEER`` -> ``Auctioneer``, ``KING'S EVIL`` -> ``King's Evil``; abbreviations keep their case."""

    def word(w: str) -> str:
        if "." in w or w in {"or", "and"}:  # LL.D., R.I.P.; the lower-case joiners
            return w
        return "-".join(p[:1].upper() + p[1:].lower() for p in w.split("-"))

    return " ".join(word(w) if not w.startswith("(") else "(" + word(w[1:]) for w in headword.split())


def slugify(text: str) -> str:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    ascii_text = re.sub(r"'", "", ascii_text.lower())
    return re.sub(r"[^a-z0-9]+", "-", ascii_text).strip("-") or "entry"


def _headword(first_line: str) -> str:
    for pattern in (_WITH_POS, _NO_POS, _SINGLE_LETTER):
        match = pattern.match(first_line)
        if match:
            headword = match.group("hw").strip().rstrip(",").strip()
            # "ABRACADABRA." -> "ABRACADABRA", but abbreviations keep their dots: "LL.D.", "R.I.P."
            return headword if "." in headword.rstrip(".") else headword.rstrip(".")
    raise ValueError(f"cannot find the headword in {first_line!r}")


def _is_entry_start(line: str) -> bool:
    match = _START_TOKEN.match(line)
    if not match:
        return False
    token = match.group()
    return len(token.rstrip(".")) >= 2 or token in _LETTER_ENTRIES


def parse_entries(text: str) -> list[Entry]:
    """Split the dictionary text into entries; the header, notice and preface before the first
    headword are left out, and so is any dictfmt metadata (``00database...``) entry."""
    lines = text.splitlines()
    starts = [i for i, line in enumerate(lines) if (i == 0 or not lines[i - 1].strip()) and _is_entry_start(line)]
    entries = []
    for n, start in enumerate(starts):
        end = starts[n + 1] if n + 1 < len(starts) else len(lines)
        body = "\n".join(line.rstrip() for line in lines[start:end]).strip("\n")
        headword = _headword(lines[start])
        if headword.lower().startswith("00database"):
            continue
        entries.append(Entry(headword=headword, text=body))
    return entries


def read_entries(source: Path = SOURCE) -> list[Entry]:
    return parse_entries(source.read_text(encoding="utf-8"))


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


def _join(lines: list[str]) -> str:
    """Join hard-wrapped lines into one: ``cannon-`` + ``shot`` -> ``cannon-shot``; spaces collapsed."""
    out = ""
    for line in (" ".join(raw.split()) for raw in lines):
        if not out:
            out = line
        elif re.search(r"[A-Za-z]-$", out) and line[:1].isalpha():
            out += line
        else:
            out += " " + line
    return out


def reflow(text: str) -> str:
    """Undo the book's hard line wrapping so every prose paragraph is one line.

    The source is wrapped at 70 columns and indents verse and quotations. Blocks (separated by
    blank lines) that hold prose are joined into paragraphs (a paragraph starts at the first line
    of a block and at every line indented deeper than the block's margin); verse keeps one line
    per verse line, without its indentation.
    """
    paragraphs = []
    for block in re.split(r"\n[ \t]*\n", text.strip("\n")):
        lines = [line.rstrip() for line in block.split("\n") if line.strip()]
        if not lines:
            continue
        margin = min(_indent(line) for line in lines)
        prose = margin == 0 or (len(lines) > 1 and all(len(line) >= 55 for line in lines[:-1]))
        if not prose:
            paragraphs.append("\n".join(" ".join(line.split()) for line in lines))
            continue
        current: list[str] = []
        for line in lines:
            if current and _indent(line) > margin:
                paragraphs.append(_join(current))
                current = []
            current.append(line)
        paragraphs.append(_join(current))
    return "\n\n".join(paragraphs)


def render(entry: Entry, slug: str) -> str:
    # A JSON string is a valid YAML double-quoted scalar, so quotes and apostrophes are safe.
    return f"---\ntitle: {json.dumps(entry.title)}\nurl: {URL_PREFIX}{slug}\nkind: post\n---\n{reflow(entry.text)}\n"


def write_corpus(target_dir: Path, source: Path = SOURCE) -> list[Path]:
    """Write one ``<slug>.md`` per entry into ``target_dir``; return the paths in book order."""
    target_dir = Path(target_dir)
    target_dir.mkdir(parents=True, exist_ok=True)
    seen: dict[str, int] = {}
    paths = []
    for entry in read_entries(source):
        base = entry.slug
        seen[base] = seen.get(base, 0) + 1
        slug = base if seen[base] == 1 else f"{base}-{seen[base]}"
        path = target_dir / f"{slug}.md"
        path.write_text(render(entry, slug), encoding="utf-8")
        paths.append(path)
    return paths


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("target", nargs="?", type=Path, help="folder for the Markdown files (default: a temp folder)")
    parser.add_argument("--source", type=Path, default=SOURCE, help="the dictionary's plain text")
    args = parser.parse_args(argv)
    target = args.target or Path(tempfile.mkdtemp(prefix="devils-dictionary-"))
    paths = write_corpus(target, args.source)
    print(f"wrote {len(paths)} entries to {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
