"""The answer benchmark prints the same table for the LLM path when an OpenAI-compatible server is configured
(issue 13): here a real local server speaking the protocol (tests/chat_server.py), whose fixed reply cites
the first passage, answers through ``Clone.answer`` beside the offline path, in one run."""

from __future__ import annotations

from benchmarks import answer_quality
from benchmarks.corpora.answer_corpora import QUESTIONS
from clone.evaluate import read_questions
from tests.chat_server import ChatServer


def test_the_llm_path_gets_the_same_rows_from_a_local_server(monkeypatch, tmp_path):
    server = ChatServer().start()
    server.pieces = ["I talked about that", " here [1]."]
    try:
        monkeypatch.setenv("CLONE_OPENAI_BASE_URL", f"{server.url}/v1")
        monkeypatch.setenv("CLONE_OPENAI_MODEL", "tiny-chat")
        results = answer_quality.run("candle", tmp_path, ["this project", "this project, LLM"], tmp_path / "dump")
    finally:
        server.stop()
    offline, llm = results["this project"], results["this project, LLM"]
    assert set(llm) == set(offline)
    questions = read_questions(QUESTIONS["candle"])
    grounded = [q for q in questions if q.evidence_doc]
    answered = round(len(grounded) * (1 - llm["grounded wrongly declined"]))
    # Every question past the guards and the relevance floor went to the server, and only those.
    asked = [r["body"]["messages"][-1]["content"] for r in server.requests]
    assert len(asked) == answered + round((len(questions) - len(grounded)) * (1 - llm["off-topic declined"]))
    assert set(asked) <= {q.question for q in questions}
    # The floor and the guards decide before any backend: both paths decline the same questions.
    assert llm["off-topic declined"] == offline["off-topic declined"] == 1.0
    assert llm["grounded wrongly declined"] == offline["grounded wrongly declined"]
    # The server's reply is what is measured: five words with the marker removed, citing the first passage.
    assert llm["median words"] == 5
    assert 0 < llm["cited-source hit"] <= llm["retriever hit@1"] + 1e-9
    assert llm["key phrase"] == 0.0 and offline["key phrase"] > 0.3
    dumped = (tmp_path / "dump" / "candle-this_project_LLM.jsonl").read_text(encoding="utf-8")
    assert "I talked about that here." in dumped
