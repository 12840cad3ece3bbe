"""Ratings of single replies (the /feedback API and the chat's thumbs), clicks on sources, simulated participants:
what is stored where, and what is refused. Real SQLite, the real index and the deployment's real key."""

from __future__ import annotations

import csv
import io

import gradio as gr
import pytest

from clone.survey.export import codebook, long_csv, wide_csv
from clone.survey.store import MIGRATIONS
from clone.trust.receipts import Notary
from clone.ui.feedback import MAX_REASON_CHARS, NOT_A_REPLY
from tests.conftest import RESEARCH_TOKEN


def reply(screens, message: str = "How big is your balcony?") -> dict:
    """A reply of the /chat API, with its receipt."""
    return screens.chat.chat_api(message)


def rows(text: str) -> list[dict]:
    return list(csv.DictReader(io.StringIO(text)))


def participant(screens, request: gr.Request | None = None) -> dict:
    """A participant who consented and answered the pre-chat questions (stage: chat)."""
    h = screens.survey
    study, *_ = h.consent(True, False, None, request)
    pre = [4] * len(h.shown(study, "pre"))
    study, *_ = h.submit_pre(study, *pre)
    assert study["participant"]["stage"] == "chat"
    return study


def chat(screens, study: dict, message: str = "How big is your balcony?") -> str:
    """One chat turn of a participant in the fan app; returns the receipt of the reply."""
    *_, (messages, _box, _session) = screens.chat.respond(message, [], None, study)
    return messages[-1]["content"].split("`")[-2]  # the receipt token inside the AI mark


def test_the_schema_has_every_migration(services):
    assert services.store.schema_version == len(MIGRATIONS)


def test_a_fans_rating_of_a_genuine_reply_counts_once_with_no_identifier(screens, services):
    first, second = reply(screens), reply(screens, "What is your cat called?")
    done = screens.feedback.feedback_api(first["receipt"]["receipt"], "up", "Clear")
    assert done == {"status": "recorded", "reply": first["receipt"]["code"], "rating": "up", "reason": "Clear"}
    screens.feedback.feedback_api(second["receipt"]["receipt"], "down")
    counted = services.events.feedback()
    assert (counted["up"], counted["down"]) == (1, 1)
    assert [r[1:] for r in counted["reasons"]] == [("up", "Clear")]
    # A second rating of the same reply changes it; "none" takes it back.
    screens.feedback.feedback_api(first["receipt"]["receipt"], "down", "Not what I asked")
    assert {k: v for k, v in services.events.feedback().items() if k != "reasons"} == {"up": 0, "down": 2}
    screens.feedback.feedback_api(first["receipt"]["receipt"], "none")
    assert services.events.feedback()["down"] == 1
    # Nothing of it is research data: no participant exists.
    assert services.store.records(include_simulated=True) == []


def test_altered_foreign_and_malformed_receipts_are_refused(screens, services, tmp_path):
    token = reply(screens)["receipt"]["receipt"]
    body, signature = token.split(".")
    altered = body[:-2] + ("A" if body[-2] != "A" else "B") + body[-1] + "." + signature
    foreign = Notary.load(tmp_path / "elsewhere").sign("Hello", "someone", [], "extractive").token
    cases = [
        (altered, "cannot be confirmed"),
        (foreign, "another deployment"),
        ("not a receipt", "not a receipt"),
        (reply(screens)["receipt"]["code"], "short code"),
        ("", "No receipt was given"),
        ("x" * 5000, "at most"),
    ]
    for receipt, said in cases:
        with pytest.raises(gr.Error, match=said):
            screens.feedback.feedback_api(receipt, "up")
    with pytest.raises(gr.Error, match="`rating` must be one of up, down, none"):
        screens.feedback.feedback_api(token, "love")
    with pytest.raises(gr.Error, match=f"at most {MAX_REASON_CHARS} characters"):
        screens.feedback.feedback_api(token, "up", "x" * (MAX_REASON_CHARS + 1))
    with pytest.raises(gr.Error, match="must be text"):
        screens.feedback.feedback_api(token, "up", 7)
    with pytest.raises(gr.Error, match="not valid text"):
        screens.feedback.feedback_api(token, "up", "\ud800")
    assert services.events.feedback() == {"up": 0, "down": 0, "reasons": []}


def test_a_participants_ratings_and_clicks_are_research_data(screens, services):
    study = participant(screens)
    pid = study["participant"]["id"]
    liked, disliked = chat(screens, study), chat(screens, study, "What is your cat called?")
    screens.feedback.feedback_api(liked, "down")
    screens.feedback.feedback_api(liked, "up", "=SUM(A1)")  # the second rating replaces the first
    screens.feedback.feedback_api(disliked, "down")
    screens.feedback.source_click("https://example.com/balcony", study)
    screens.feedback.source_click("https://example.com/balcony", {})  # not a participant: not counted
    assert services.events.feedback() == {"up": 0, "down": 0, "reasons": []}  # not in the creator's analytics
    [record] = services.store.records()
    assert record.participant_id == pid and not record.simulated
    assert sorted((f.rating, f.reason) for f in record.feedback) == [("down", ""), ("up", "=SUM(A1)")]
    [row] = rows(wide_csv(services.study, [record]))
    assert (row["feedback_up"], row["feedback_down"], row["sources_clicked"], row["simulated"]) == ("1", "1", "1", "0")
    events = [r for r in rows(long_csv(services.study, [record])) if r["phase"] == "chat"]
    assert {(e["instrument"], e["value"]) for e in events} == {
        ("feedback", "up"),
        ("feedback", "down"),
        ("feedback_reason", "'=SUM(A1)"),  # neutralised on export, stored raw
        ("source_click", "1"),
    }
    # Withdrawal deletes the ratings and clicks with the answers.
    assert services.store.delete(pid)
    assert services.store.reply_owner(services.notary.authentic(liked)) is None


def test_the_chat_thumbs_rate_the_reply_they_sit_under(screens, services):
    *_, (messages, _box, session) = screens.chat.respond("How big is your balcony?", [], None)
    liked = gr.LikeData(None, {"index": len(messages) - 1, "value": [messages[-1]["content"]], "liked": True})
    session, form, _reason, note = screens.feedback.like(session, "web", liked)
    assert form["visible"] is True and "What did you like" in note["value"]
    session, form, _reason, note = screens.feedback.give_reason("Lovely", session, "web")
    assert form["visible"] is False and services.events.feedback()["reasons"][0][1:] == ("up", "Lovely")
    undone = gr.LikeData(None, {"index": len(messages) - 1, "value": [messages[-1]["content"]], "liked": ""})
    screens.feedback.like(session, "web", undone)
    assert services.events.feedback()["up"] == 0
    greeting = gr.LikeData(None, {"index": 1, "value": ["Hi! Ask me anything."], "liked": False})
    assert screens.feedback.like({}, "web", greeting)[3]["value"] == NOT_A_REPLY


def test_only_the_research_token_makes_a_simulated_participant(screens, services):
    simulated = participant(screens, gr.Request(headers={"authorization": f"Bearer {RESEARCH_TOKEN}"}))
    assert simulated["participant"]["simulated"] is True
    refused = screens.survey.consent(True, False, None, gr.Request(headers={"authorization": "Bearer guess"}))
    assert "need the research token" in refused[3] and "participant" not in refused[0]
    person = participant(screens)
    assert person["participant"]["simulated"] is False
    assert [r.participant_id for r in services.store.records()] == [person["participant"]["id"]]
    both = services.store.records(include_simulated=True)
    assert {r.participant_id: r.simulated for r in both} == {
        person["participant"]["id"]: False,
        simulated["participant"]["id"]: True,
    }
    # A simulated participant holds no slot of the randomization log, so people's arms stay balanced.
    assert [a.participant_id for a in services.store.assignments()] == [person["participant"]["id"]]
    header = next(csv.reader(io.StringIO(wide_csv(services.study, both))))
    assert header == [e.column for e in codebook(services.study)] and "simulated" in header


def test_the_store_keeps_ratings_clicks_and_the_simulated_mark_on_every_database(database):
    from clone.survey import SurveyStore, load_study

    store, study = SurveyStore(database), load_study()
    assert store.schema_version == len(MIGRATIONS)
    common = dict(consent_version="1", transcript_opt_in=False, persona_id="demo", app_version="0", backend="x")
    person, bot = store.assign(study, **common), store.assign(study, **common, simulated=True)
    store.reply_given(person.participant_id, "AAAA-BBBB-CCCC-DDDD")
    store.reply_given(bot.participant_id, "AAAA-BBBB-CCCC-DDDD")  # a code already given stays with the first
    assert store.reply_owner("AAAA-BBBB-CCCC-DDDD") == person.participant_id
    store.rate(person.participant_id, "AAAA-BBBB-CCCC-DDDD", "down")
    store.rate(person.participant_id, "AAAA-BBBB-CCCC-DDDD", "up", "good")
    store.source_clicked(person.participant_id, "https://example.com/" + "x" * 3000)
    with pytest.raises(Exception, match="A rating is one of up, down"):
        store.rate(person.participant_id, "AAAA-BBBB-CCCC-DDDD", "meh")
    [record] = store.records()
    assert [(f.rating, f.reason) for f in record.feedback] == [("up", "good")]
    assert len(record.clicks) == 1 and len(record.clicks[0].url) == 2000
    assert sorted(r.simulated for r in store.records(include_simulated=True)) == [False, True]


def test_the_creator_console_counts_fans_ratings_and_shows_reasons_as_typed(screens):
    from tests.conftest import CREATOR_TOKEN

    screens.feedback.feedback_api(reply(screens)["receipt"]["receipt"], "up", "[click](https://evil.example) *now*")
    screens.feedback.feedback_api(reply(screens, "What is your cat called?")["receipt"]["receipt"], "down")
    summary = screens.creator.analytics_data(CREATOR_TOKEN)[-1]
    assert "1 up, 1 down" in summary
    assert r"Up: \[click\]\(https://evil\.example\) \*now\*" in summary


def test_the_research_console_leaves_simulated_participants_out_unless_asked(screens, services):
    from pathlib import Path

    participant(screens, gr.Request(headers={"authorization": f"Bearer {RESEARCH_TOKEN}"}))
    h = screens.research
    assert "0 participants, 0 finished." in h.status(RESEARCH_TOKEN)
    assert "1 participants, 0 finished (1 of them simulated)." in h.status(RESEARCH_TOKEN, True)
    wide = Path(h.export_files(RESEARCH_TOKEN)[0]).read_text(encoding="utf-8")
    assert rows(wide) == []
    wide = Path(h.export_files(RESEARCH_TOKEN, True)[0]).read_text(encoding="utf-8")
    assert [r["simulated"] for r in rows(wide)] == ["1"]
    n = h.chart_data(RESEARCH_TOKEN, None)[2]
    assert n[n.status == "assigned"]["n"].sum() == 0
    n = h.chart_data(RESEARCH_TOKEN, None, True)[2]
    assert n[n.status == "assigned"]["n"].sum() == 1


def from_client(host: str) -> gr.Request:
    """The request of an event from ``host``, as Gradio hands it to a handler (a real Starlette request)."""
    from starlette.requests import Request

    scope = {"type": "http", "method": "POST", "path": "/gradio_api/call/feedback", "headers": [], "client": (host, 1)}
    return gr.Request(request=Request(scope))


def test_ratings_are_limited_per_client(tmp_path, demo_index_home):
    from clone.ui import Screens
    from tests.conftest import make_settings, open_services

    settings = make_settings(tmp_path / "home", CLONE_FEEDBACK_PER_MINUTE="2", CLONE_RESEARCH_TOKEN=RESEARCH_TOKEN)
    screens = Screens.of(open_services(settings, demo_index_home))
    receipt = reply(screens)["receipt"]["receipt"]
    for rating in ("up", "down"):
        screens.feedback.feedback_api(receipt, rating, request=from_client("203.0.113.5"))
    with pytest.raises(gr.Error, match="Too many ratings"):
        screens.feedback.feedback_api(receipt, "up", request=from_client("203.0.113.5"))
    screens.feedback.feedback_api(receipt, "up", request=from_client("198.51.100.7"))  # another client
    assert screens.services.events.feedback()["up"] == 1
