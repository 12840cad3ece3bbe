"""The inbox: fans' unanswered questions, grouped by meaning, and the creator's answers as cited sources."""

from __future__ import annotations

import threading

import gradio as gr
import pytest
from sqlalchemy import text

from clone import db, inbox
from clone.errors import InboxError
from clone.inbox import ANSWER_KIND, InboxStore
from clone.index import embedder
from clone.ui import Screens
from clone.ui.chat import MAX_LEFT_PER_SESSION
from tests.conftest import CREATOR_TOKEN, make_settings


def stored_emails(store: InboxStore) -> dict[str, str | None]:
    """Every stored question and its e-mail address (None when none is kept), straight from the table."""
    with store.engine.connect() as conn:
        return dict(conn.execute(text("SELECT question, email FROM inbox_questions")).all())


def test_the_address_is_kept_only_when_the_fan_ticks_the_box(database):
    store = InboxStore(database)
    store.leave("Do you ship seeds abroad?", notify=False, email="fan@example.org")
    store.leave("Do you sell seed kits?", notify=True, email="  Fan.Two@EXAMPLE.org ")
    assert stored_emails(store) == {"Do you ship seeds abroad?": None, "Do you sell seed kits?": "Fan.Two@example.org"}
    assert [q.wants_reply for q in store.open_questions()] == [False, True]


@pytest.mark.parametrize(
    ("question", "notify", "email", "message"),
    [
        ("   ", False, "", "Please write the question"),
        ("x" * 2001, False, "", "keep it under 2000"),
        ("Fine question?", True, "", "give your e-mail address"),
        ("Fine question?", True, "not-an-address", "does not look right"),
        ("Fine question?", True, "a@" + "b" * 260 + ".org", "longer than 254"),
    ],
)
def test_bad_input_is_refused_with_a_reason_and_stores_nothing(database, question, notify, email, message):
    store = InboxStore(database)
    with pytest.raises(InboxError, match=message):
        store.leave(question, notify=notify, email=email)
    assert store.open_questions() == []


def test_a_full_inbox_says_so(database, monkeypatch):
    monkeypatch.setattr(inbox, "MAX_OPEN", 2)
    store = InboxStore(database)
    store.leave("one?")
    store.leave("two?")
    with pytest.raises(InboxError, match="full"):
        store.leave("three?")
    assert len(store.open_questions()) == 2


@pytest.fixture(scope="module")
def embeddings(tmp_path_factory):
    return embedder(make_settings(tmp_path_factory.mktemp("inbox-home")))


def test_questions_are_grouped_by_meaning_biggest_group_first(database, embeddings):
    store = InboxStore(database)
    asked = {
        "trains": [
            "How do you travel between cities by train?",
            "Do you take the train when you travel?",
            "What is your favourite train journey?",
        ],
        "age": ["How old are you?", "What is your age?"],
        "piano": ["Can you play the piano?"],
    }
    # Interleaved, as fans would ask them.
    for n in range(3):
        for topic in ("piano", "age", "trains"):
            if n < len(asked[topic]):
                store.leave(asked[topic][n])
    groups = store.groups(embeddings)
    assert [g.count for g in groups] == [3, 2, 1]
    assert [sorted(q.question for q in g.questions) for g in groups] == [
        sorted(asked["trains"]),
        sorted(asked["age"]),
        asked["piano"],
    ]
    assert groups[0].key == groups[0].questions[0].question_id


def test_groups_of_the_same_size_are_ordered_most_recently_asked_first(database, embeddings):
    store = InboxStore(database)
    for question in ("Can you play the piano?", "How old are you?", "Do you like trains?"):
        store.leave(question)
    assert [g.question for g in store.groups(embeddings)] == [
        "Do you like trains?",
        "How old are you?",
        "Can you play the piano?",
    ]


def test_each_question_is_embedded_once_per_process(database, embeddings):
    class Counting:
        """The real embeddings, counting the texts they are given."""

        texts = 0

        def embed_documents(self, texts):
            Counting.texts += len(texts)
            return embeddings.embed_documents(texts)

    store = InboxStore(database)
    store.leave("How old are you?")
    store.leave("What is your age?")
    first = store.groups(Counting())
    assert Counting.texts == 2
    assert [g.count for g in store.groups(Counting())] == [g.count for g in first] == [2]
    assert Counting.texts == 2
    store.leave("Can you play the piano?")
    assert [g.count for g in store.groups(Counting())] == [2, 1]
    assert Counting.texts == 3


def test_publishing_closes_the_group_returns_the_addresses_once_and_erases_them(database):
    store = InboxStore(database)
    ids = [
        store.leave("Do you sell seed kits?", notify=True, email="one@example.org"),
        store.leave("Can I buy your seeds?", notify=False),
        store.leave("Where can I buy seeds from you?", notify=True, email="two@example.org"),
    ]
    other = store.leave("Unrelated question?", notify=True, email="three@example.org")
    published = store.publish(ids, "Do you sell seeds?", "I don't sell seeds; I swap them at the spring fair.")
    assert published.closed == 3
    assert published.emails == ["one@example.org", "two@example.org"]
    assert [q.question_id for q in store.open_questions()] == [other]
    assert [e for e in stored_emails(store).values() if e] == ["three@example.org"]
    [answer] = store.answers()
    assert (answer.question, answer.asked_by) == ("Do you sell seeds?", 3)
    with pytest.raises(InboxError, match="already answered"):
        store.publish(ids, "Do you sell seeds?", "Again.")
    assert len(store.answers()) == 1


def test_an_empty_or_overlong_answer_is_refused_and_the_questions_stay_open(database):
    store = InboxStore(database)
    qid = store.leave("Do you sell seed kits?")
    for answer, message in (("  ", "Write your answer"), ("x" * 10_001, "under 10000")):
        with pytest.raises(InboxError, match=message):
            store.publish([qid], "Do you sell seed kits?", answer)
    assert [q.question_id for q in store.open_questions()] == [qid]
    assert store.answers() == []


def test_two_replicas_answering_one_group_at_once_publish_it_once(database):
    ids = [InboxStore(database).leave(f"Question {n}?") for n in range(5)]
    db.dispose_all()
    stores = [InboxStore(database), InboxStore(database)]
    stores[1].engine = db._create(db.database_url(database))  # a second pool, as a second process has
    outcomes: list[str] = []
    barrier = threading.Barrier(2)

    def answer(store: InboxStore) -> None:
        barrier.wait()
        try:
            store.publish(ids, "Questions?", "Answers.")
            outcomes.append("published")
        except InboxError:
            outcomes.append("refused")

    threads = [threading.Thread(target=answer, args=(s,)) for s in stores]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    stores[1].engine.dispose()
    assert sorted(outcomes) == ["published", "refused"]
    assert len(stores[0].answers()) == 1


def test_dismissing_closes_questions_and_erases_addresses(database):
    store = InboxStore(database)
    qid = store.leave("Buy cheap watches?", notify=True, email="spam@example.org")
    assert store.dismiss([qid]) == 1
    assert store.open_questions() == []
    assert stored_emails(store) == {"Buy cheap watches?": None}
    assert store.answers() == []


def test_an_answer_becomes_a_creator_answer_document():
    answer = inbox.Answer("a1", "2026-11-25T10:00:00Z", "Do you sell seeds?", "I swap them at the fair.", 3)
    doc = answer.document()
    assert doc.path == "creator-answers/a1.md"
    assert doc.metadata == {
        "title": "Creator answer: Do you sell seeds?",
        "url": "",
        "kind": ANSWER_KIND,
        "date": "2026-11-25T10:00:00Z",
    }
    assert doc.text == "# Do you sell seeds?\n\nI swap them at the fair."


# --- through the app's handlers, with the demo clone ---------------------------------------------------------


@pytest.fixture
def handlers(screens):
    return screens


def ask(h: Screens, question: str, session: dict | None = None) -> tuple[str, dict]:
    *_, (chat, _, session) = h.chat.respond(question, [], session)
    return chat[-1]["content"], session


def test_the_creators_answer_is_cited_after_the_fan_left_the_question(handlers):
    h = handlers
    question = "What is your favourite board game?"
    reply, session = ask(h, question)
    assert "I haven't talked about that" in reply
    form, prefilled, _ = h.chat.inbox_offer(session)
    assert form["visible"] is True and prefilled == question
    result, session, _ = h.chat.leave_question(prefilled, True, "fan@example.org", session)
    assert "inbox" in result

    rows, picker, title, summary = h.creator.inbox_view(CREATOR_TOKEN)
    assert rows[0][:2] == [1, question] and rows[0][3] == 1
    assert "1 open question in 1 group." in summary and title == question
    key = picker["value"]
    done, cleared = h.creator.inbox_answer(
        CREATOR_TOKEN, key, title, "Carcassonne is my favourite board game; we play it on the balcony table."
    )
    assert "closed 1 question " in done and "1 fan asked" in done and "fan@example.org" in done and cleared == ""

    answer = h.services.clone.answer(question)
    assert not answer.abstained
    assert "Carcassonne" in answer.text
    assert [s.title for s in answer.sources][:1] == [f"Creator answer: {question}"]
    assert h.services.inbox.open_questions() == []
    # The answer lives in the database: a clone rebuilt from scratch indexes it again.
    rebuilt = h.services.clone.reindex()
    assert any(c["metadata"]["kind"] == ANSWER_KIND for c in rebuilt.kb.chunks)


def test_the_form_is_offered_only_when_the_content_had_no_answer(handlers):
    _, session = ask(handlers, "What is your cat called?")
    assert handlers.chat.inbox_offer(session)[0]["visible"] is False
    _, session = ask(handlers, "Which stocks should I invest in this year?")  # a refusal, not a content gap
    assert handlers.chat.inbox_offer(session)[0]["visible"] is False


def test_the_inbox_needs_the_creator_token_and_limits_questions_per_session(handlers):
    with pytest.raises(gr.Error):
        handlers.creator.inbox_view("wrong")
    with pytest.raises(gr.Error):
        handlers.creator.inbox_answer("", None, "q", "a")
    session = None
    for n in range(MAX_LEFT_PER_SESSION):
        _, session, _ = handlers.chat.leave_question(f"Question number {n}?", False, "", session)
    with pytest.raises(gr.Error, match="limit"):
        handlers.chat.leave_question("One more?", False, "", session)
    assert len(handlers.services.inbox.open_questions()) == MAX_LEFT_PER_SESSION


def test_published_answers_are_indexed_when_the_app_starts_and_by_the_cli(settings, demo_index_home):
    import json
    import shutil

    from click.testing import CliRunner

    from clone.cli import cli
    from clone.ui import create_app
    from tests.conftest import DEMO_CONTENT

    shutil.copytree(demo_index_home / "index", settings.index_dir)
    store = InboxStore(settings.database)
    qid = store.leave("Do you play chess?")
    answer = store.publish([qid], "Do you play chess?", "Only on rainy days, against my neighbour.").answer

    def indexed() -> set[str]:
        current = (settings.index_dir / "CURRENT").read_text().strip()
        return set(json.loads((settings.index_dir / current / "manifest.json").read_text())["documents"])

    create_app(settings)  # a restart: the answer comes from the database, not from a file
    assert f"creator-answers/{answer.answer_id}.md" in indexed()

    store.delete_answer(answer.answer_id)
    qid = store.leave("Do you play golf?")
    second = store.publish([qid], "Do you play golf?", "Never; the balcony is too small for a putting green.").answer
    env = {"CLONE_HOME": str(settings.home), "CLONE_BACKEND": "extractive"}
    result = CliRunner().invoke(cli, ["ingest", str(DEMO_CONTENT)], env=env)
    assert result.exit_code == 0, result.output
    assert {p for p in indexed() if p.startswith("creator-answers/")} == {f"creator-answers/{second.answer_id}.md"}
