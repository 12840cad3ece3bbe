"""Five public-domain corpora of different genres for measuring answers (benchmarks/answer_quality.py).

``federalist`` -- a **calibration** corpus: 30 of *The Federalist* essays (Hamilton, Madison, Jay,
1787-88; public domain). The text comes from the Mosteller & Wallace reconstruction
(github.com/ariddell/corpora-mosteller-wallace-federalist, ``originals/federalist.csv``), whose
punctuation tags (``<c>``, ``<S>``, ``<p>``, ``<Q>``, ``<d>``) were turned back into punctuation and
sentences grouped four to a paragraph. Written as Markdown, one file per essay.

``inaugural`` -- a **calibration** corpus (it was the report corpus until it had been looked at while
tuning): the 31 US presidential inaugural addresses from 1901 to 2021 (works of the US federal
government, public domain; text from NLTK's ``inaugural`` corpus, compiled from C-SPAN). Written
transcript-style, the way a creator's videos arrive: in turn SubRip (``.srt``), WebVTT (``.vtt``) and
YouTube transcript JSON, one cue per sentence, timed at a speaking rate of 2.5 words a second (the
times are synthetic; the words are the speeches'). No file has a URL, so citations must carry the
moment themselves.

``candle`` -- a **calibration** corpus: it was the report corpus until one keep-or-drop choice was made
on it (docs/answer-quality.md). Michael Faraday's six Christmas
lectures *The Chemical History of a Candle* (Royal Institution, 1860-61) and his *Lecture on Platinum*
(22 February 1861), as edited by William Crookes (Chatto & Windus, 1908; public domain: Faraday died
in 1867, Crookes in 1919). Text from Project Gutenberg eBook #14474, via the GITenberg snapshot
github.com/GITenberg/The-Chemical-History-of-a-Candle_14474 (``14474.txt``; "Public domain in the
USA"): the Gutenberg header and licence, the title page, preface, contents, figure captions,
footnote markers and the editor's notes were dropped, italics underscores removed and ``--`` turned
into dashes; the lecturer's words and the bracketed accounts of his demonstrations are unchanged.
Each lecture is cut at paragraph boundaries into four parts of about equal length (28 documents of
1,000-1,800 words), written as a lecture series' files arrive: in turn SubRip, WebVTT, YouTube
transcript JSON (timed as above), a Markdown transcript with a title and a plain-text transcript with
a time stamp before each paragraph.

``listening`` -- a **calibration** corpus: it was the report corpus until the shipped version was
measured on it once. A how-to guide, Henry Edward
Krehbiel's *How to Listen to Music: Hints and Suggestions to Untaught Lovers of the Art* (Charles
Scribner's Sons, 7th edition, 1897; first published 1896; public domain: Krehbiel died in 1923). Text
from Project Gutenberg eBook #17474, via the GITenberg snapshot
github.com/GITenberg/How-to-Listen-to-Music-7th-ed.Hints-and-Suggestions-to-Untaught-Lovers-of-the-Art_17474
(``17474.txt``; "Public domain in the USA"): chapters III-VIII (of nine) with the Gutenberg header and
licence, the title page, dedication, author's note, contents, sidenotes, the music examples and their
captions, the one table (the orchestras' strengths), the footnotes and their markers, the plates and the
index dropped; italics underscores removed, ``--`` turned into dashes and the transcriber's ``[Greek: …]``
left as its transliteration. Each chapter is cut where a sidenote starts a section into four to six parts
of about equal length (30 documents of 1,257-1,654 words), each titled the way a creator titles a post or
an episode, and written as a creator's files arrive: in turn a Markdown post with a ``title:`` front
matter, a plain-text post (the title on its first line), SubRip, WebVTT and YouTube transcript JSON
(timed as above), each named from its title (``does-music-have-a-meaning-what-composers-say.md``).

``sierra`` -- the **report** corpus, never tuned on, run once for the final table: a travel and nature
diary, John Muir's *My First Summer in the Sierra* (Houghton Mifflin, 1911; the Sierra Edition text of
1917; public domain: published before 1929, Muir died in 1914). Text from Project Gutenberg eBook
#32540, via the GITenberg snapshot github.com/GITenberg/My-First-Summer-in-the-Sierra_32540
(``32540-8.txt``, ISO-8859-1; "Public domain in the USA"): chapters I-VIII (of eleven; the diary of June
3 to August 14, 1869) with the Gutenberg header and licence, the title page, dedication, contents, list
of illustrations, the illustrations' captions, the section rule and the index dropped; italics
underscores removed and ``--`` turned into dashes. Each chapter is cut at paragraph boundaries, at the
start of a day's entry where one falls near the cut, into two to six parts of about equal length (31
documents of 827-1,783 words), each titled from its chapter and the days it covers ("The Yosemite: July
16-19"), and written as a creator's files arrive, in the same turn of formats as ``listening``
(``the-yosemite-july-15.txt``).

    python benchmarks/corpora/answer_corpora.py federalist|inaugural|candle|listening|sierra [TARGET_DIR]"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tempfile
from pathlib import Path

DATA = Path(__file__).resolve().parents[1] / "data"
CORPORA = {
    "federalist": DATA / "federalist-essays.jsonl",
    "inaugural": DATA / "inaugural-addresses.jsonl",
    "candle": DATA / "candle-lectures.jsonl",
    "listening": DATA / "listening-guide.jsonl",
    "sierra": DATA / "sierra-diary.jsonl",
}
QUESTIONS = {
    "federalist": DATA / "federalist_questions.jsonl",
    "inaugural": DATA / "inaugural_questions.jsonl",
    "candle": DATA / "candle_questions.jsonl",
    "listening": DATA / "listening_questions.jsonl",
    "sierra": DATA / "sierra_questions.jsonl",
}
ROLE = {
    "federalist": "calibration",
    "inaugural": "calibration",
    "candle": "calibration",
    "listening": "calibration",
    "sierra": "report",
}
WORDS_PER_SECOND = 2.5
_FORMATS = ("srt", "vtt", "json")
_LECTURE_FORMATS = ("srt", "vtt", "json", "md", "txt")
_POST_FORMATS = ("md", "txt", "srt", "vtt", "json")
_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[\"'A-Z0-9])")


def _records(name: str) -> list[dict]:
    return [json.loads(line) for line in CORPORA[name].read_text(encoding="utf-8").splitlines() if line.strip()]


def federalist_name(number: int) -> str:
    """The file an essay is written to."""
    return f"federalist-{number:02d}.md"


def inaugural_name(index: int, year: int, president: str) -> str:
    """The file an address is written to: its format turns with its position (srt, vtt, json)."""
    return f"{year}-{president.lower()}.{_FORMATS[index % len(_FORMATS)]}"


def candle_name(index: int, lecture: int | str, part: int) -> str:
    """The file a part of a lecture is written to: its format turns with its position (srt, vtt, json, md, txt)."""
    stem = "platinum-lecture" if lecture == "platinum" else f"candle-lecture{lecture}"
    return f"{stem}-part{part}.{_LECTURE_FORMATS[index % len(_LECTURE_FORMATS)]}"


def listening_name(index: int, title: str) -> str:
    """The file a post of the guide (or an entry of the diary) is written to: named from its title, its format
    turning with its position (md, txt, srt, vtt, json)."""
    stem = re.sub(r"[^a-z0-9]+", "-", title.lower().replace("'", "")).strip("-")
    return f"{stem}.{_POST_FORMATS[index % len(_POST_FORMATS)]}"


def document_names(name: str) -> list[str]:
    """Every document the corpus ``name`` writes, in order."""
    if name in ("listening", "sierra"):
        return [listening_name(i, r["title"]) for i, r in enumerate(_records(name))]
    if name == "federalist":
        return [federalist_name(r["number"]) for r in _records(name)]
    if name == "candle":
        return [candle_name(i, r["lecture"], r["part"]) for i, r in enumerate(_records(name))]
    return [inaugural_name(i, r["year"], r["president"]) for i, r in enumerate(_records(name))]


def _clock(seconds: float, sep: str) -> str:
    ms = int(round(seconds * 1000))
    return f"{ms // 3_600_000:02d}:{ms // 60_000 % 60:02d}:{ms // 1000 % 60:02d}{sep}{ms % 1000:03d}"


def _cues(paragraphs: list[str]) -> list[tuple[float, float, str]]:
    """(start, duration, sentence) for every sentence, at WORDS_PER_SECOND."""
    out, t = [], 0.0
    for paragraph in paragraphs:
        for sentence in _SENTENCE.split(paragraph):
            if sentence.strip():
                duration = max(1.0, len(sentence.split()) / WORDS_PER_SECOND)
                out.append((round(t, 3), round(duration, 3), sentence.strip()))
                t += duration
    return out


def _timed(fmt: str, cues: list[tuple[float, float, str]]) -> str:
    if fmt == "json":
        return json.dumps([{"text": s, "start": a, "duration": d} for a, d, s in cues], ensure_ascii=False, indent=0)
    sep = "," if fmt == "srt" else "."
    blocks = [
        (f"{n}\n" if fmt == "srt" else "") + f"{_clock(a, sep)} --> {_clock(a + d, sep)}\n{s}\n"
        for n, (a, d, s) in enumerate(cues, 1)
    ]
    return ("" if fmt == "srt" else "WEBVTT\n\n") + "\n".join(blocks)


def _lecture_text(fmt: str, record: dict) -> str:
    """A part of a lecture as a Markdown or plain-text transcript (``md``, ``txt``) or timed cues."""
    title = f"{record['title']} (part {record['part']} of {record['parts']})"
    if fmt == "md":
        return f"---\ntitle: {title}\n---\n\n" + "\n\n".join(record["paragraphs"]) + "\n"
    if fmt == "txt":  # a transcript export: a time stamp before each paragraph, at WORDS_PER_SECOND
        lines, t = [title, ""], 0.0
        for paragraph in record["paragraphs"]:
            lines += [f"[{_clock(t, ',')[:8]}] {paragraph}", ""]
            t += len(paragraph.split()) / WORDS_PER_SECOND
        return "\n".join(lines)
    return _timed(fmt, _cues(record["paragraphs"]))


def _post_text(fmt: str, record: dict) -> str:
    """A post of the guide or the diary as a Markdown post with its title in the front matter, a plain-text post
    with the title on its first line, or timed cues (a podcast episode's transcript)."""
    body = "\n\n".join(record["paragraphs"]) + "\n"
    if fmt == "md":  # the title quoted: YAML would misread the colon in "Brass and drums: horn, ..."
        return f"---\ntitle: {json.dumps(record['title'], ensure_ascii=False)}\n---\n\n" + body
    if fmt == "txt":
        return record["title"] + "\n\n" + body
    return _timed(fmt, _cues(record["paragraphs"]))


def write_corpus(name: str, target: Path) -> list[Path]:
    """Write corpus ``name`` into ``target``; returns the files written."""
    target.mkdir(parents=True, exist_ok=True)
    written = []
    for i, r in enumerate(_records(name)):
        if name in ("listening", "sierra"):
            path = target / listening_name(i, r["title"])
            path.write_text(_post_text(path.suffix[1:], r), encoding="utf-8")
        elif name == "candle":
            path = target / candle_name(i, r["lecture"], r["part"])
            path.write_text(_lecture_text(path.suffix[1:], r), encoding="utf-8")
        elif name == "federalist":
            path = target / federalist_name(r["number"])
            front = f"---\ntitle: The Federalist No. {r['number']} ({r['author'].title()})\n---\n\n"
            path.write_text(front + r["salutation"] + "\n\n" + "\n\n".join(r["paragraphs"]) + "\n", encoding="utf-8")
        else:
            path = target / inaugural_name(i, r["year"], r["president"])
            path.write_text(_timed(path.suffix[1:], _cues(r["paragraphs"])), encoding="utf-8")
        written.append(path)
    return written


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("corpus", choices=sorted(CORPORA))
    parser.add_argument("target", nargs="?", type=Path)
    args = parser.parse_args(argv)
    target = args.target or Path(tempfile.mkdtemp(prefix=f"{args.corpus}-"))
    files = write_corpus(args.corpus, target)
    print(f"{len(files)} files in {target}", file=sys.stderr)
    print(target)


if __name__ == "__main__":
    main()
