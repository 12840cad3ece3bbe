"""Every content format, timestamps, cue-boundary chunking and bad input, on real files in tmp_path."""

from __future__ import annotations

import json
import re
import struct
import zipfile
from pathlib import Path

import pytest
from fpdf import FPDF

from clone.config import load_settings
from clone.ingest import Segment, chunk_segments, scan_folder, split_documents, url_at_time

CHUNK_KEYS = {"source", "title", "url", "doc_url", "kind", "date", "start", "page", "chunk", "id"}


def write_pdf(path: Path, pages: list[str], *, title: str | None = None) -> Path:
    """A real PDF with one page per string (an empty string draws a box and no text)."""
    pdf = FPDF()
    if title:
        pdf.set_title(title)
    pdf.set_font("helvetica", size=12)
    for text in pages:
        pdf.add_page()
        if text:
            pdf.multi_cell(0, 8, text)
        else:
            pdf.rect(20, 20, 80, 80)
    pdf.output(str(path))
    return path


def write_zip(path: Path, members: dict[str, str | bytes]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path


def srt_text(cues: list[tuple[float, str]]) -> str:
    def stamp(t: float) -> str:
        ms = round(t * 1000)
        return f"{ms // 3_600_000:02d}:{ms // 60_000 % 60:02d}:{ms // 1000 % 60:02d},{ms % 1000:03d}"

    blocks = [f"{n}\n{stamp(t)} --> {stamp(t + 2)}\n{text}\n" for n, (t, text) in enumerate(cues, 1)]
    return "\n".join(blocks)


def scan(folder: Path, **limits):
    result = scan_folder(folder, **limits)
    return result, {f.path: f for f in result.files}, {s.path: s.reason for s in result.skipped}


def chunks_of(files, path: str, **kw) -> list:
    return [d for d in split_documents(files, **kw) if d.metadata["source"] == path]


@pytest.fixture
def content(tmp_path) -> Path:
    folder = tmp_path / "content"
    folder.mkdir()
    return folder


# --- formats and their metadata -------------------------------------------------------------


def test_markdown_date_and_every_chunk_carries_the_same_keys(content):
    (content / "note.md").write_text("---\ntitle: Notes\ndate: 2025-04-10\n---\nSome notes here.\n")
    (content / "plain.txt").write_text("Plain words.\n")
    write_pdf(content / "guide.pdf", ["A page of text."])
    (content / "talk.srt").write_text(srt_text([(1, "Spoken words.")]))
    result, files, skipped = scan(content)
    assert skipped == {}
    assert files["note.md"].metadata["date"] == "2025-04-10"
    docs = split_documents(result.files)
    assert {d.metadata["source"] for d in docs} == {"note.md", "plain.txt", "guide.pdf", "talk.srt"}
    for d in docs:
        assert set(d.metadata) == CHUNK_KEYS, d.metadata["source"]
    by_source = {d.metadata["source"]: d.metadata for d in docs}
    assert by_source["note.md"]["date"] == "2025-04-10"
    assert by_source["plain.txt"]["date"] == ""
    # Untimed documents carry start=None, non-PDFs page=None: the keys are always there.
    assert by_source["note.md"]["start"] is None and by_source["note.md"]["page"] is None
    assert by_source["guide.pdf"]["start"] is None and by_source["guide.pdf"]["page"] == 1
    assert by_source["talk.srt"]["start"] == 1.0 and by_source["talk.srt"]["page"] is None


def test_pdf_pages_title_and_page_links(content):
    write_pdf(
        content / "guide.pdf",
        ["Worm bins need shredded cardboard. Keep them moist like a wrung sponge.", "", "Tomatoes need deep pots."],
        title="Compost guide",
    )
    (content / "guide.pdf.meta.yaml").write_text("url: https://example.com/guide.pdf\ndate: 2024-11-02\n")
    result, files, skipped = scan(content)
    assert skipped == {}
    doc = files["guide.pdf"]
    assert doc.metadata == {
        "title": "Compost guide",
        "url": "https://example.com/guide.pdf",
        "kind": "document",
        "date": "2024-11-02",
    }
    assert [n for n, _ in doc.pages] == [1, 3]  # the blank page 2 has no text; numbering stays physical
    chunks = chunks_of(result.files, "guide.pdf")
    pages = {d.metadata["page"]: d for d in chunks}
    assert "cardboard" in pages[1].page_content and "Tomatoes" in pages[3].page_content
    assert pages[3].metadata["url"] == "https://example.com/guide.pdf#page=3"
    assert pages[3].metadata["doc_url"] == "https://example.com/guide.pdf"


def test_html_text_title_canonical_url_and_date(content):
    (content / "chili.html").write_text(
        """<!doctype html><html><head><title>Balcony Harvest | Chili</title>
        <meta property="og:title" content="Chili peppers indoors">
        <link rel="canonical" href="https://example.com/chili">
        <meta property="article:published_time" content="2025-03-01T08:00:00Z">
        <style>p { color: red }</style><script>var tracking = "SCRIPTTEXT";</script></head>
        <body><nav><a href="/">NAVHOME</a></nav>
        <article><h1>Chili   peppers</h1><p>I grow <b>chili</b> peppers
        on my windowsill.</p><p>They love the sun.</p><!-- COMMENTTEXT --></article></body></html>""",
        encoding="utf-8",
    )
    (content / "plain.htm").write_text(
        '<html><head><title>Just a title</title><meta property="og:url" content="https://example.com/plain">'
        '</head><body><nav><a href="/">NAVTWO</a></nav><div role="navigation">MENU</div><p>Body text.</p>'
        "<style>.x { color: blue }</style><script>SCRIPTTWO()</script><noscript>NOSCRIPT</noscript></body></html>"
    )
    _, files, skipped = scan(content)
    assert skipped == {}
    page = files["chili.html"]
    assert page.metadata == {
        "title": "Chili peppers indoors",
        "url": "https://example.com/chili",
        "kind": "article",
        "date": "2025-03-01T08:00:00Z",
    }
    assert page.text == "Chili peppers\n\nI grow chili peppers on my windowsill.\n\nThey love the sun."
    for noise in ("SCRIPTTEXT", "color: red", "NAVHOME", "COMMENTTEXT"):
        assert noise not in page.text
    assert files["plain.htm"].text == "Body text."  # no <main> or <article>: the body, less scripts and navigation
    assert files["plain.htm"].metadata["title"] == "Just a title"
    assert files["plain.htm"].metadata["url"] == "https://example.com/plain"


def test_srt_with_sidecar_has_cue_times_and_youtube_links(content):
    (content / "tour.srt").write_text(
        "1\n00:00:01,000 --> 00:00:02,500\n<i>Hello</i> and welcome\n\n"
        "2\n00:00:02,500 --> 00:00:04,000\nto my balcony.\n\n"
        "3\n00:01:05,250 --> 00:01:07,000\n[Music]\n\n"
        "4\n00:02:03,750 --> 00:02:06,000\nToday we plant beans.\n",
        encoding="utf-8",
    )
    (content / "tour.srt.meta.yaml").write_text(
        "title: Balcony tour\nurl: https://www.youtube.com/watch?v=abc123&t=99s\ndate: 2025-01-02\n"
    )
    result, files, skipped = scan(content)
    assert skipped == {}
    doc = files["tour.srt"]
    assert doc.metadata["title"] == "Balcony tour" and doc.metadata["kind"] == "video"
    assert doc.segments == [
        Segment(1.0, "Hello and welcome"),
        Segment(2.5, "to my balcony."),
        Segment(123.75, "Today we plant beans."),
    ]
    chunks = chunks_of(result.files, "tour.srt", chunk_size=200, chunk_overlap=0)
    assert len(chunks) == 1  # the tiny cues are merged into one paragraph of speech
    first = chunks[0].metadata
    assert first["start"] == 1.0
    assert first["url"] == "https://www.youtube.com/watch?v=abc123&t=1s"  # the old t= is replaced
    assert first["doc_url"] == "https://www.youtube.com/watch?v=abc123&t=99s"
    assert first["date"] == "2025-01-02"
    later = chunks_of(result.files, "tour.srt", chunk_size=40, chunk_overlap=0)[-1].metadata
    assert later["start"] == 123.75 and later["url"].endswith("&t=123s")


def test_vtt_gets_media_fragment_links_and_clean_text(content):
    (content / "clip.vtt").write_text(
        "WEBVTT\n\nNOTE recorded on the balcony\n\n"
        "00:00:10.000 --> 00:00:12.000 align:start\n<v Rosa>Seeds &amp; soil\n\n"
        "00:12.500 --> 00:14.000\nmatter most.\n"
    )
    (content / "clip.meta.json").write_text(json.dumps({"url": "https://example.com/clip.mp4#old", "title": "Clip"}))
    result, files, skipped = scan(content)
    assert skipped == {}
    assert files["clip.vtt"].segments == [Segment(10.0, "Seeds & soil"), Segment(12.5, "matter most.")]
    [chunk] = chunks_of(result.files, "clip.vtt")
    assert chunk.page_content == "Seeds & soil matter most."
    assert chunk.metadata["start"] == 10.0
    assert chunk.metadata["url"] == "https://example.com/clip.mp4#t=10"
    assert chunk.metadata["title"] == "Clip"


def test_youtube_transcript_json_list_and_object(content):
    cues = [{"text": "worms eat", "start": 0.0, "duration": 1.5}, {"text": "cardboard.", "start": 61.2, "duration": 2}]
    (content / "worms.json").write_text(json.dumps(cues))
    (content / "worms.meta.yaml").write_text("title: Worm bins\nurl: https://youtu.be/w0rm5\n")
    (content / "seeds.json").write_text(
        json.dumps({"title": "Seed swap", "url": "https://example.com/seeds", "date": "2024-05-05", "transcript": cues})
    )
    result, files, skipped = scan(content)
    assert skipped == {}
    assert files["worms.json"].metadata["title"] == "Worm bins"
    assert files["worms.json"].segments == [Segment(0.0, "worms eat"), Segment(61.2, "cardboard.")]
    assert files["seeds.json"].metadata == {
        "title": "Seed swap",
        "url": "https://example.com/seeds",
        "kind": "video",
        "date": "2024-05-05",
    }
    worms = chunks_of(result.files, "worms.json", chunk_size=200, chunk_overlap=0)
    assert worms[0].metadata["url"] == "https://youtu.be/w0rm5?t=0s"
    late = chunks_of(result.files, "seeds.json", chunk_size=12, chunk_overlap=0)[-1].metadata
    assert late["start"] == 61.2 and late["url"] == "https://example.com/seeds#t=61"


@pytest.mark.parametrize(
    "url, seconds, expected",
    [
        ("https://www.youtube.com/watch?v=abc", 123.9, "https://www.youtube.com/watch?v=abc&t=123s"),
        ("https://www.youtube.com/watch?t=5s&v=abc", 7, "https://www.youtube.com/watch?v=abc&t=7s"),
        ("https://youtu.be/abc", 42, "https://youtu.be/abc?t=42s"),
        ("https://m.youtube.com/watch?v=abc", 3, "https://m.youtube.com/watch?v=abc&t=3s"),
        ("https://example.com/ep1.mp3", 90.5, "https://example.com/ep1.mp3#t=90"),
        ("https://example.com/v?id=1#chapter", 12, "https://example.com/v?id=1#t=12"),
        ("https://notyoutube.com/watch?v=abc", 4, "https://notyoutube.com/watch?v=abc#t=4"),
        ("", 12, ""),
    ],
)
def test_url_at_time(url, seconds, expected):
    assert url_at_time(url, seconds) == expected


# --- chunking at cue boundaries --------------------------------------------------------------


def _as_cue_runs(chunk_text: str, texts: list[str]) -> list[int]:
    """The indexes of the consecutive whole cues a chunk is made of; fails if a cue is cut."""
    for first in range(len(texts)):
        run, joined = [], ""
        for k in range(first, len(texts)):
            joined = f"{joined} {texts[k]}".strip()
            run.append(k)
            if joined == chunk_text:
                return run
            if not chunk_text.startswith(joined):
                break
    raise AssertionError(f"chunk is not a run of whole cues: {chunk_text!r}")


def test_cue_chunks_hold_whole_cues_start_at_their_first_cue_and_overlap_by_whole_cues():
    # 60 cues of 2-6 words, as subtitle files have them; a sentence ends every third cue.
    words = "we water the tomatoes early every single morning".split()
    texts = []
    for n in range(60):
        text = f"c{n:02d} " + " ".join(words[: 1 + n % 5])
        texts.append(text + ("." if n % 3 == 2 else ""))
    segments = [Segment(round(n * 1.7, 3), t) for n, t in enumerate(texts)]
    chunks = chunk_segments(segments, chunk_size=200, chunk_overlap=50)
    assert 5 <= len(chunks) < 20  # fragments merged into paragraphs, not one chunk per cue
    runs = [_as_cue_runs(c.text, texts) for c in chunks]
    covered = set()
    for chunk, run, previous in zip(chunks, runs, [None, *runs[:-1]], strict=True):
        assert len(chunk.text) <= 200
        assert chunk.start == segments[run[0]].start
        assert run == list(range(run[0], run[-1] + 1))
        if previous is not None:
            shared = [k for k in run if k in previous]
            assert shared == run[: len(shared)]  # the overlap is the previous chunk's last whole cues
            assert len(" ".join(texts[k] for k in shared)) <= 50
            assert run[-1] > previous[-1]
        covered.update(run)
    assert covered == set(range(60))
    # Each chunk but the last ends where a sentence ends.
    assert all(c.text.endswith(".") for c in chunks[:-1])
    assert chunks[1].text.startswith(texts[runs[1][0]]) and runs[1][0] < runs[0][-1] + 1  # overlap exists


def test_an_over_long_cue_is_split_at_sentences_and_keeps_its_start():
    long_cue = " ".join(f"Sentence number {n} is about compost." for n in range(12))
    segments = [Segment(0.0, "Short intro."), Segment(30.0, long_cue), Segment(95.0, "Short outro.")]
    chunks = chunk_segments(segments, chunk_size=120, chunk_overlap=0)
    assert all(len(c.text) <= 120 for c in chunks)
    starts = {"Short intro.": 0.0, "Sentence number": 30.0, "Short outro.": 95.0}
    for c in chunks:  # each chunk starts when the cue its text begins with starts
        assert c.start == next(t for prefix, t in starts.items() if c.text.startswith(prefix))
    assert [c.start for c in chunks].count(30.0) >= 3  # the long cue was split, each part keeping its start
    said = " ".join(c.text for c in chunks)
    assert said == f"Short intro. {long_cue} Short outro."  # no sentence cut, nothing lost or repeated


def test_long_paragraphs_split_at_sentence_ends_without_artifacts(content):
    sentences = [f"Sentence {n} tells you something about balcony compost." for n in range(20)]
    (content / "long.txt").write_text(" ".join(sentences) + "\n\nA second paragraph.\n")
    chunks = chunks_of(scan(content)[0].files, "long.txt", chunk_size=200, chunk_overlap=0)
    assert len(chunks) >= 6
    for c in chunks:
        assert re.fullmatch(
            r"(Sentence \d+ tells you something about balcony compost\. ?)+|A second paragraph\.", c.page_content
        )


def test_rolling_youtube_captions_are_not_repeated(content):
    (content / "auto.vtt").write_text(
        "WEBVTT\nKind: captions\nLanguage: en\n\n"
        "00:00:00.000 --> 00:00:02.000\nso today we are\n\n"
        "00:00:02.000 --> 00:00:02.010\nso today we are\n\n"
        "00:00:02.010 --> 00:00:04.000\nso today we are\ngoing to repot\n\n"
        "00:00:04.000 --> 00:00:06.000\ngoing to repot\nthe basil\n"
    )
    _, files, _ = scan(content)
    assert files["auto.vtt"].text == "so today we are going to repot the basil"
    assert [s.start for s in files["auto.vtt"].segments] == [0.0, 2.01, 4.0]


# --- exports of posts ------------------------------------------------------------------------


def test_csv_posts_become_one_document_each_with_url_and_date(content):
    (content / "posts.csv").write_text(
        "id,caption,permalink,timestamp\n"
        '17,"Basil loves heat, so keep it inside until June.",https://insta.example/p/17,2025-01-01T10:00:00\n'
        ',"Mint spreads.\nGrow it in its own pot.",https://insta.example/p/2,1712345678\n'
        "18,,https://insta.example/p/18,2025-01-03\n"
        "19,Too,many,fields,https://insta.example/p/19,2025-01-04\n",
        encoding="utf-8",
    )
    (content / "semicolon.csv").write_text("Text;URL;Date;Title\nHello from Excel;https://x.example/1;2024-02-02;Hi\n")
    result, files, skipped = scan(content)
    assert sorted(files) == ["posts.csv#2", "posts.csv#post-17", "semicolon.csv#1"]
    basil = files["posts.csv#post-17"]
    assert basil.text == "Basil loves heat, so keep it inside until June."
    assert basil.metadata == {
        "title": "Basil loves heat, so keep it inside until June.",
        "url": "https://insta.example/p/17",
        "kind": "post",
        "date": "2025-01-01T10:00:00",
    }
    mint = files["posts.csv#2"]
    assert mint.metadata["date"] == "2024-04-05T19:34:38Z"  # a Unix timestamp, as ISO UTC
    assert mint.metadata["title"] == "Mint spreads."
    assert files["semicolon.csv#1"].metadata["title"] == "Hi"
    assert "no text" in skipped["posts.csv#post-18"]
    assert "has 6 fields but the header has 4" in skipped["posts.csv#4"]
    assert len({f.sha256 for f in result.files}) == 3
    docs = split_documents(result.files)
    assert {d.metadata["id"] for d in docs} >= {"posts.csv#post-17#0", "posts.csv#2#0"}
    assert {d.metadata["url"] for d in docs if d.metadata["source"].startswith("posts.csv")} == {
        "https://insta.example/p/17",
        "https://insta.example/p/2",
    }


def test_json_posts_accept_common_field_names(content):
    (content / "tweets.json").write_text(
        json.dumps(
            [
                {
                    "id": "9001",
                    "full_text": "Compost is alive.",
                    "link": "https://x.example/9001",
                    "created_at": "2024",
                },
                {"content": "No id here.", "url": "https://x.example/2", "published": "2024-06-01"},
            ]
        )
    )
    (content / "export.json").write_text(
        json.dumps({"posts": [{"body": "From a wrapper.", "permalink": "https://f.example/1", "title": "Wrapped"}]})
    )
    (content / "export.json.meta.yaml").write_text("kind: facebook post\nurl: https://f.example/profile\n")
    _, files, skipped = scan(content)
    assert skipped == {}
    assert files["tweets.json#post-9001"].metadata["url"] == "https://x.example/9001"
    assert files["tweets.json#post-9001"].metadata["date"] == "2024"
    assert files["tweets.json#2"].metadata["date"] == "2024-06-01"
    wrapped = files["export.json#1"].metadata
    assert wrapped == {
        "title": "Wrapped",
        "url": "https://f.example/1",
        "kind": "facebook post",
    }  # the post's own link wins over the sidecar's default


# --- zip archives ----------------------------------------------------------------------------


def test_zip_of_mixed_formats_ingests_with_member_paths(content, tmp_path):
    pdf = write_pdf(tmp_path / "guide.pdf", ["Guide text in a zip."])
    write_zip(
        content / "archive.zip",
        {
            "videos/intro.srt": srt_text([(3, "Intro words."), (5, "More words.")]),
            "videos/intro.srt.meta.yaml": "title: Intro video\nurl: https://youtu.be/intro\n",
            "notes.md": "---\ntitle: Notes\n---\nSome notes.\n",
            "posts.csv": "text,url\nA zipped post.,https://p.example/1\n",
            "page.html": "<title>Zipped page</title><p>Zipped HTML.</p>",
            "docs/guide.pdf": pdf.read_bytes(),
            "__MACOSX/._notes.md": b"\0\0resource fork",
            ".DS_Store": b"\0\0",
            "inner.zip": b"PK\x05\x06" + b"\0" * 18,
        },
    )
    result, files, skipped = scan(content)
    assert sorted(files) == [
        "archive.zip/docs/guide.pdf",
        "archive.zip/notes.md",
        "archive.zip/page.html",
        "archive.zip/posts.csv#1",
        "archive.zip/videos/intro.srt",
    ]
    assert skipped == {"archive.zip/inner.zip": "archives inside archives are not opened; unpack the inner one first"}
    assert files["archive.zip/videos/intro.srt"].metadata["title"] == "Intro video"
    assert files["archive.zip/docs/guide.pdf"].pages == [(1, "Guide text in a zip.")]
    intro = chunks_of(result.files, "archive.zip/videos/intro.srt")[0]
    assert intro.metadata["start"] == 3.0 and intro.metadata["url"] == "https://youtu.be/intro?t=3s"
    assert sorted(p.name for p in content.iterdir()) == ["archive.zip"]  # nothing unpacked


def test_zip_slip_names_are_reported_and_nothing_is_written(content, tmp_path):
    outside = tmp_path / "escaped.md"
    absolute = str(outside)  # /tmp/.../escaped.md
    with zipfile.ZipFile(content / "evil.zip", "w") as archive:
        archive.writestr("../evil.md", "climbs out")
        archive.writestr("../../escaped.md", "climbs further")
        archive.writestr("Z" + absolute[1:], "absolute")  # zipfile drops a leading "/" when writing: patched below
        archive.writestr("..\\windows.md", "windows style")
        archive.writestr("C:/Windows/x.md", "drive letter")
        link = zipfile.ZipInfo("link.md")
        link.external_attr = (0o120777 << 16) | 0x20  # a symbolic link to /etc/passwd
        archive.writestr(link, "/etc/passwd")
        archive.writestr("ok.md", "A fine member.")
    raw = (content / "evil.zip").read_bytes()
    (content / "evil.zip").write_bytes(raw.replace(("Z" + absolute[1:]).encode(), absolute.encode()))
    assert absolute in zipfile.ZipFile(content / "evil.zip").namelist()
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    _, files, skipped = scan(content)
    assert sorted(files) == ["evil.zip/ok.md"]
    assert "climbs out of the archive" in skipped["evil.zip/../evil.md"]
    assert "climbs out of the archive" in skipped["evil.zip/../../escaped.md"]
    assert "absolute path" in skipped[f"evil.zip/{absolute}"]
    assert "climbs out of the archive" in skipped["evil.zip/..\\windows.md"]
    assert "absolute path" in skipped["evil.zip/C:/Windows/x.md"]
    assert "symbolic link" in skipped["evil.zip/link.md"]
    assert all("nothing written" in r for p, r in skipped.items())
    assert sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*")) == before
    assert not outside.exists() and not (tmp_path / "evil.md").exists()


def test_zip_with_too_many_files_is_skipped_whole(content):
    write_zip(content / "many.zip", {f"note{n}.md": f"Note {n}." for n in range(5)})
    (content / "good.md").write_text("Still here.")
    _, files, skipped = scan(content, max_zip_files=4)
    assert sorted(files) == ["good.md"]
    assert skipped == {"many.zip": "the archive holds 5 files, over the limit of 4 (CLONE_MAX_ZIP_FILES)"}
    _, files, _ = scan(content, max_zip_files=5)
    assert len(files) == 6


def test_zip_that_unpacks_too_large_is_skipped_whole(content):
    write_zip(content / "big.zip", {"a.txt": "compost " * 100_000, "b.txt": "tiny"})  # 0.8 MB unpacked, tiny packed
    (content / "good.md").write_text("Still here.")
    assert (content / "big.zip").stat().st_size < 10_000
    _, files, skipped = scan(content, max_zip_mb=0.5)
    assert sorted(files) == ["good.md"]
    assert skipped["big.zip"].startswith("the archive unpacks to 0.8 MB, over the 0.5 MB limit (CLONE_MAX_ZIP_MB)")
    _, files, _ = scan(content, max_zip_mb=1)
    assert "big.zip/a.txt" in files


def test_zip_bomb_with_lying_sizes_is_not_ingested(content):
    write_zip(content / "bomb.zip", {"bomb.txt": "all work and no play " * 200_000})  # 4.2 MB of text
    data = bytearray((content / "bomb.zip").read_bytes())
    # Claim 1,000 bytes unpacked, in the central directory and the local header alike.
    struct.pack_into("<I", data, data.find(b"PK\x01\x02") + 24, 1000)
    struct.pack_into("<I", data, data.find(b"PK\x03\x04") + 22, 1000)
    (content / "bomb.zip").write_bytes(bytes(data))
    (content / "good.md").write_text("Still here.")
    _, files, skipped = scan(content, max_zip_mb=1)
    assert sorted(files) == ["good.md"]
    assert "damaged" in skipped["bomb.zip/bomb.txt"] or "CLONE_MAX_ZIP_MB" in skipped["bomb.zip"]


# --- sidecars, hashes and ids ----------------------------------------------------------------


def test_sidecars_override_name_and_front_matter_and_bad_ones_are_reported(content):
    (content / "a.md").write_text("---\ntitle: From front matter\n---\nText.\n")
    (content / "a.meta.yaml").write_text("title: From sidecar\nkind: faq\n")
    (content / "b.srt").write_text(srt_text([(0, "Words.")]))
    (content / "b.srt.meta.yaml").write_text("title: [unclosed\n")
    (content / "c.vtt").write_text("WEBVTT\n\n00:01.000 --> 00:02.000\nHi.\n")
    (content / "c.vtt.meta.json").write_text('["not", "a", "mapping"]')
    (content / "orphan.meta.yaml").write_text("title: Nobody\n")
    _, files, skipped = scan(content)
    assert files["a.md"].metadata["title"] == "From sidecar" and files["a.md"].metadata["kind"] == "faq"
    assert "b.srt.meta.yaml cannot be read" in skipped["b.srt"]
    assert "c.vtt.meta.json must be a mapping" in skipped["c.vtt"]
    assert "no document of the same name" in skipped["orphan.meta.yaml"]
    assert "a.meta.yaml" not in skipped


def test_every_document_has_its_own_path_and_hash(content):
    (content / "posts.csv").write_text("text\nSame text.\nSame text.\nOther text.\n")
    (content / "talk.srt").write_text(srt_text([(0, "Words.")]))
    result, files, _ = scan(content)
    assert sorted(files) == ["posts.csv#1", "posts.csv#2", "posts.csv#3", "talk.srt"]
    assert files["posts.csv#1"].sha256 == files["posts.csv#2"].sha256  # same content, same metadata
    assert files["posts.csv#1"].sha256 != files["posts.csv#3"].sha256
    before = result.fingerprint
    talk_hash = files["talk.srt"].sha256
    # Metadata that lives outside the file still changes the document's hash.
    (content / "talk.srt.meta.yaml").write_text("url: https://youtu.be/x\n")
    result, files, _ = scan(content)
    assert files["talk.srt"].sha256 != talk_hash
    assert files["posts.csv#3"].sha256 == files["posts.csv#3"].sha256
    assert result.fingerprint != before
    # Timings are content too.
    (content / "talk.srt").write_text(srt_text([(5, "Words.")]))
    assert scan(content)[1]["talk.srt"].sha256 != files["talk.srt"].sha256


# --- bad input -------------------------------------------------------------------------------


def test_bad_files_are_reported_by_name_and_the_rest_ingests(content):
    (content / "good.md").write_text("A good file.")
    write_pdf(content / "good.pdf", ["A good PDF."])
    (content / "corrupt.pdf").write_bytes(b"%PDF-1.4\n1 0 obj << /Type /Catalog >> garbage")
    write_pdf(content / "scanned.pdf", ["", ""])
    (content / "image.txt").write_bytes(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR")
    (content / "empty.srt").write_bytes(b"")
    (content / "huge.srt").write_text(srt_text([(n, "word " * 40) for n in range(200)]))
    (content / "latin1.csv").write_bytes("text\nCaf\xe9 au lait.\n".encode("latin-1"))
    (content / "broken.json").write_text('[{"text": "hi", "start": 0}')
    (content / "badstart.json").write_text('[{"text": "hi", "start": "soon"}]')
    (content / "other.json").write_text('{"name": "package", "version": 1}')
    (content / "quote.csv").write_text('text,url\n"never closed,https://x.example\n')
    (content / "table.csv").write_text("price,item\n3,apples\n")
    (content / "broken.srt").write_text("this is not a subtitle file\nat all\n")
    (content / "badtime.srt").write_text(
        "1\n00:00:01,000 --> 00:00:02,000\nFine.\n\n2\n00:0x:03,000 --> 00:00:05,000\nNo\n"
    )
    (content / "broken.vtt").write_text("1\n00:00:01.000 --> 00:00:02.000\nno WEBVTT header\n")
    (content / "badcue.vtt").write_text("WEBVTT\n\n00:00:01.000 --> 00:00:0x.000\nHello\n")
    (content / "empty.vtt").write_text("WEBVTT\n\n")
    (content / "notazip.zip").write_bytes(b"this is not a zip archive at all")
    (content / "photo.jpg").write_bytes(b"\xff\xd8\xff")
    result, files, skipped = scan(content, max_file_mb=0.02)
    assert sorted(files) == ["good.md", "good.pdf"]
    expected = {
        "corrupt.pdf": "the PDF is damaged and cannot be read",
        "scanned.pdf": "the PDF has no extractable text",
        "image.txt": "the file looks binary, not text",
        "empty.srt": "the file is empty",
        "huge.srt": "over the 0.02 MB limit (CLONE_MAX_FILE_MB)",
        "latin1.csv": "the file is not UTF-8 text",
        "broken.json": "the file is not valid JSON (line 1, column 28",
        "badstart.json": "cue 1 has no valid start time",
        "other.json": "the JSON is neither a transcript",
        "quote.csv": "the file is not valid CSV",
        "table.csv": "the CSV has no text column",
        "broken.srt": "the file is not valid SRT",
        "badtime.srt": "the file is not valid SRT (cue 1 holds an unreadable timing line)",
        "broken.vtt": "the file is not valid WebVTT (it must start with WEBVTT)",
        "badcue.vtt": "the file is not valid WebVTT (Invalid cue block",
        "empty.vtt": "the file has no cues with text",
        "notazip.zip": "the file is not a readable zip archive",
        "photo.jpg": "unsupported file type .jpg",
    }
    assert set(skipped) == set(expected)
    for path, reason in expected.items():
        assert reason in skipped[path], (path, skipped[path])
    assert split_documents(result.files)  # the good files still make chunks


def test_bad_members_of_a_zip_are_reported_by_member_path(content):
    write_zip(
        content / "mixed.zip",
        {
            "good.md": "Good member.",
            "empty.txt": "",
            "bad.json": "{not json",
            "latin1.md": "Caf\xe9".encode("latin-1"),
            "photo.png": b"\x89PNG",
        },
    )
    _, files, skipped = scan(content)
    assert sorted(files) == ["mixed.zip/good.md"]
    assert "empty" in skipped["mixed.zip/empty.txt"]
    assert "not valid JSON" in skipped["mixed.zip/bad.json"]
    assert "not UTF-8" in skipped["mixed.zip/latin1.md"]
    assert "unsupported file type .png" in skipped["mixed.zip/photo.png"]


# --- settings --------------------------------------------------------------------------------


def test_zip_settings_have_defaults_and_can_be_set(content):
    defaults = load_settings({}, dotenv=False)
    assert (defaults.max_zip_files, defaults.max_zip_mb) == (2000, 200.0)
    custom = load_settings({"CLONE_MAX_ZIP_FILES": "3", "CLONE_MAX_ZIP_MB": "0.5"}, dotenv=False)
    assert (custom.max_zip_files, custom.max_zip_mb) == (3, 0.5)
    write_zip(content / "a.zip", {f"n{n}.md": "Note." for n in range(4)})
    # The call index.py makes today (max_file_mb only) keeps working, with the default zip limits.
    assert len(scan_folder(content, max_file_mb=20).files) == 4
    assert scan_folder(content, max_file_mb=20, max_zip_files=custom.max_zip_files).files == []
