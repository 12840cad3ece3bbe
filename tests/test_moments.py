"""Every source from a timed format (subtitles, transcripts) carries its moment, with or without a URL."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from clone.evaluate import run_eval
from clone.ingest import url_at_time
from clone.reply import Reply, Source, reply_markdown
from clone.ui import Screens
from tests.conftest import clone_over, services_for


@pytest.fixture
def timed_folder(tmp_path) -> Path:
    folder = tmp_path / "timed"
    folder.mkdir()
    (folder / "sourdough.srt").write_text(SRT, encoding="utf-8")
    (folder / "chili.vtt").write_text(VTT, encoding="utf-8")
    (folder / "worms.json").write_text(json.dumps(YOUTUBE), encoding="utf-8")
    return folder


def test_timed_sources_without_url_carry_start_in_chat_api_and_eval(timed_folder, settings, tmp_path):
    clone = clone_over(timed_folder, settings)
    chat = Screens.of(services_for(clone, settings)).chat
    for path, (question, start) in TIMED.items():
        data = chat.chat_api(question)
        source = next(s for s in data["sources"] if s["document"] == path)
        assert source["url"] == "" and source["start"] == pytest.approx(start)
        assert f", at {int(start) // 60}:{int(start) % 60:02d}" in data["markdown"]

    questions = tmp_path / "q.jsonl"
    questions.write_text(
        "".join(json.dumps({"id": p, "question": q, "evidence_doc": p}) + "\n" for p, (q, _) in TIMED.items())
    )
    out = tmp_path / "out.jsonl"
    summary = run_eval(timed_folder, questions, out, settings)
    assert summary.source_hit_rate == 1.0
    for line in out.read_text().splitlines():
        record = json.loads(line)
        source = next(s for s in record["sources"] if s["path"] == record["id"])
        assert source["start"] == pytest.approx(TIMED[record["id"]][1])


def test_ui_label_shows_the_moment_without_url():
    reply = Reply(text="Rye flour. [1]", sources=[Source("sourdough.srt", "Sourdough", "", start=123.4)])
    shown = reply_markdown(reply)
    assert "1. Sourdough, at 2:03" in shown
    assert "](" not in shown.split("**Sources**")[1].splitlines()[1]  # no link where there is no URL


def test_links_open_at_the_moment():
    assert (
        url_at_time("https://www.youtube.com/watch?v=abc123", 123.9) == "https://www.youtube.com/watch?v=abc123&t=123s"
    )
    assert url_at_time("https://youtu.be/abc123", 65) == "https://youtu.be/abc123?t=65s"
    assert url_at_time("https://example.com/ep1.mp3", 65) == "https://example.com/ep1.mp3#t=65"
    reply = Reply(
        text="x [1]", sources=[Source("v.json", "Video", url_at_time("https://www.youtube.com/watch?v=a", 5), 5)]
    )
    assert "[Video, at 0:05](https://www.youtube.com/watch?v=a&t=5s)" in reply.markdown()


# --- the moment ---------------------------------------------------------------------------------

# Clips cut from longer videos: the first cue starts well into the video. A passage's moment is the
# start of its first cue, so the fan lands at (or just before) the sentence quoted.
SRT = """1
00:02:03,000 --> 00:02:09,000
My sourdough starter gets rye flour and water every evening.

2
00:02:09,000 --> 00:02:12,000
Thanks for watching this one.
"""
VTT = """WEBVTT

00:01:05.000 --> 00:01:10.000
The chili plants spend the winter on the bedroom windowsill at fifteen degrees.

00:01:10.000 --> 00:01:15.000
See you next week.
"""
YOUTUBE = [
    {"text": "The worm bin is emptied with the migration method every spring.", "start": 95.5, "duration": 5.0},
    {"text": "Bye for now.", "start": 100.5, "duration": 2.0},
]
TIMED = {
    "sourdough.srt": ("What flour do you feed your sourdough starter?", 123.0),
    "chili.vtt": ("Where do the chili plants spend the winter?", 65.0),
    "worms.json": ("How do you empty the worm bin?", 95.5),
}
