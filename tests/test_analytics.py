"""Creator analytics: one anonymous row per reply, counted per day and per topic."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import gradio as gr
import pytest
from bs4 import BeautifulSoup
from sqlalchemy import text

from clone.analytics import EventLog, rates_long
from clone.reply import Reply, Source
from clone.ui import Screens
from tests.conftest import make_settings, services_for

TODAY = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def reply(topic: str | None = None, *, abstained: bool = False, refused: bool = False) -> Reply:
    sources = [Source("a.md", topic, "")] if topic else []
    return Reply("text", sources, abstained=abstained, refused=refused)


def test_per_day_counts_conversations_replies_and_rates(database):
    log = EventLog(database)
    yesterday = TODAY - timedelta(days=1)
    log.record(reply("Worm bins"), conversation="c1", at=yesterday)
    log.record(reply("Worm bins"), conversation="c1", at=yesterday)
    log.record(reply(abstained=True), conversation="c2", at=yesterday)
    log.record(reply(abstained=True, refused=True), conversation="c3", at=yesterday)
    log.record(reply("Seeds"), conversation="c4", at=TODAY)
    days = log.per_day(3, today=TODAY)
    assert days.values.tolist() == [
        ["2026-11-23", 0, 0, 0.0, 0.0],
        ["2026-11-24", 3, 4, 0.5, 0.25],
        ["2026-11-25", 1, 1, 0.0, 0.0],
    ]
    assert log.totals(days=3, today=TODAY) == {
        "conversations": 4,
        "replies": 5,
        "abstention_rate": 0.4,
        "refusal_rate": 0.2,
    }
    long = rates_long(days)
    assert long[long["day"] == "2026-11-24"].values.tolist() == [
        ["2026-11-24", 0.5, "abstained"],
        ["2026-11-24", 0.25, "refused"],
    ]


def test_topics_are_the_first_cited_source_most_asked_first(database):
    log = EventLog(database)
    for topic, n in (("Seeds", 1), ("Worm bins", 3), ("Containers", 2)):
        for _ in range(n):
            log.record(reply(topic), conversation="c", at=TODAY)
    log.record(reply(abstained=True), conversation="c", at=TODAY)  # no answer: no topic
    log.record(reply("Old topic"), conversation="c", at=TODAY - timedelta(days=40))  # outside the window
    assert log.topics(10, days=30, today=TODAY).values.tolist() == [["Worm bins", 3], ["Containers", 2], ["Seeds", 1]]
    assert log.topics(1, days=30, today=TODAY).values.tolist() == [["Worm bins", 3]]


def test_a_row_holds_nothing_about_the_fan_or_the_message(database):
    log = EventLog(database)
    log.record(reply("Seeds"), conversation="c1", at=TODAY)
    with log.engine.connect() as conn:
        row = conn.execute(text("SELECT * FROM chat_events")).mappings().one()
    assert set(row) == {"event_id", "at", "day", "conversation", "channel", "abstained", "refused", "topic"}
    assert (row["at"], row["topic"], row["channel"]) == ("2026-11-25T12:00:00Z", "Seeds", "web")


def test_the_chat_records_a_reply_and_the_creator_sees_it_in_the_charts(demo_clone, settings):
    creator = make_settings(settings.home, CLONE_CREATOR_TOKEN="creator-token-0123456789")
    h = Screens.of(services_for(demo_clone, creator))
    session = None
    for question in ("What is your cat called?", "Which football team do you support?"):
        *_, (_, _, session) = h.chat.respond(question, [], session)
    h.chat.chat_api("What is your cat called?")
    with pytest.raises(gr.Error):
        h.creator.analytics("wrong")
    per_day, rates, topics, survey, summary = h.creator.analytics_data("creator-token-0123456789", 7)
    assert len(per_day) == 7
    assert per_day.iloc[-1][["conversations", "replies", "abstention_rate"]].tolist() == [2, 3, round(1 / 3, 4)]
    assert topics["replies"].sum() == 2 and len(topics) >= 1
    assert set(rates["kind"]) == {"abstained", "refused"}
    assert set(survey.columns) >= {"condition", "status", "n", "condition_label"}
    assert "2 conversations, 3 replies" in summary
    # The charts the creator sees: bars for daily counts, percentages for rates, topics as wrapped row labels.
    days, shares, topic_chart, participants, _ = h.creator.analytics("creator-token-0123456789", 7)
    days, shares, topic_chart = (BeautifulSoup(x, "html.parser") for x in (days, shares, topic_chart))
    assert len(days.select(".clone-col")) == 7 and days.select_one(".clone-ytick").get_text() == "0"
    assert [td.get_text() for td in days.select("tbody td")][-1] == "2"
    assert "Without an answer: 33%" in shares.get_text() and "Refused: 0%" in shares.get_text()
    assert [t.get_text() for t in topic_chart.select(".clone-axis .clone-tick")][0] == "0"
    assert {th.get_text() for th in topic_chart.select("tbody th")} == set(topics["topic"])
    assert "Nobody has taken part yet." in participants
