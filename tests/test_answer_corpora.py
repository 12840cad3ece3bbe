"""The answer-quality corpora (benchmarks/corpora/answer_corpora.py) hold together: every question's
evidence document is a file the corpus writes, and every key phrase is in that file's text, so the
benchmark's key-phrase and cited-source rows can be scored at all."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from benchmarks.corpora.answer_corpora import CORPORA, QUESTIONS, ROLE, _records, document_names, write_corpus


def _questions(name: str) -> list[dict]:
    return [json.loads(line) for line in QUESTIONS[name].read_text(encoding="utf-8").splitlines() if line.strip()]


def _text(path: Path) -> str:
    """What a reader sees in a written file: the cues' words for YouTube JSON (no JSON escapes), else the file."""
    raw = path.read_text(encoding="utf-8")
    if path.suffix == ".json":
        return "\n".join(cue["text"] for cue in json.loads(raw))
    return raw


def test_every_corpus_has_questions_and_a_role():
    assert set(CORPORA) == set(QUESTIONS) == set(ROLE)
    assert set(ROLE.values()) == {"calibration", "report"}
    assert list(ROLE.values()).count("report") == 1  # one corpus stays untouched for the final table
    assert ROLE["sierra"] == "report" and ROLE["listening"] == "calibration"  # listening was run once


@pytest.mark.parametrize("name", sorted(CORPORA))
def test_key_phrases_are_in_their_evidence_documents(name: str, tmp_path: Path):
    written = {p.name: p for p in write_corpus(name, tmp_path)}
    assert list(written) == document_names(name)
    assert len(written) >= 20
    questions = _questions(name)
    grounded = [q for q in questions if q["kind"] == "factual"]
    offtopic = [q for q in questions if q["kind"] == "offtopic"]
    assert len(grounded) >= 40 and len(offtopic) >= 12
    assert len({q["id"] for q in questions}) == len(questions)
    assert {q["split"] for q in questions} == {ROLE[name]}
    texts = {doc: _text(path).lower() for doc, path in written.items()}
    missing = []
    for q in grounded:
        assert q["evidence_doc"] in written, q["id"]
        assert 1 <= len(q["answer_keywords"]) <= 3, q["id"]
        missing += [(q["id"], k) for k in q["answer_keywords"] if k.lower() not in texts[q["evidence_doc"]]]
    assert not missing
    assert all(not q.get("answer_keywords") and not q.get("evidence_doc") for q in offtopic)


def test_a_key_phrase_missing_from_its_document_is_caught(tmp_path: Path):
    """The check above reads the written files, not the source records: a phrase only in another file fails."""
    written = {p.name: p for p in write_corpus("candle", tmp_path)}
    texts = {doc: _text(path).lower() for doc, path in written.items()}
    assert "royal george" in texts["candle-lecture1-part1.srt"]
    assert "royal george" not in texts["platinum-lecture-part4.json"]


@pytest.mark.parametrize("name", ["listening", "sierra"])
def test_posts_arrive_as_a_creators_posts_and_episodes(name: str, tmp_path: Path):
    """Each post of the guide and of the diary is named from its title and says it where its format can:
    Markdown front matter (quoted, so YAML reads a colon in it), the plain text's first line; the timed files
    hold the words."""
    records = _records(name)
    written = write_corpus(name, tmp_path)
    assert len({p.name for p in written}) == len(written)
    assert {p.suffix for p in written} == {".md", ".txt", ".srt", ".vtt", ".json"}
    for record, path in zip(records, written, strict=True):
        raw = path.read_text(encoding="utf-8")
        if path.suffix == ".md":
            front = raw.split("---\n")[1]
            assert yaml.safe_load(front) == {"title": record["title"]}
        elif path.suffix == ".txt":
            assert raw.splitlines()[0] == record["title"]
        last = record["paragraphs"][-1].split()[-1]
        assert last in _text(path), path.name
