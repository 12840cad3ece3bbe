"""The survey store's schema and timestamps, answer validation, formula neutralising and the export files."""

import re
import sqlite3
from dataclasses import dataclass

import pytest
from sqlalchemy import inspect, text

from clone import db
from clone.errors import SurveyError
from clone.inbox import InboxStore
from clone.survey import (
    ChatMetrics,
    SurveyStore,
    codebook_csv,
    codebook_json,
    load_study,
    long_csv,
    wide_csv,
    write_study_export,
)
from clone.survey.export import neutralise
from clone.survey.store import MIGRATIONS
from clone.survey.tally import MAX_TRANSCRIPT_TURNS, ChatTally

LEGACY_TABLES = {"responses", "answers"}  # the single-instrument survey of the first release


@pytest.fixture
def study():
    return load_study()


@pytest.fixture
def store(database) -> SurveyStore:
    """A store on a fresh database: every test using it runs on SQLite and on PostgreSQL."""
    return SurveyStore(database)


def assign(store, study, opt_in=False):
    return store.assign(
        study, consent_version="1", transcript_opt_in=opt_in, persona_id="p", app_version="9", backend="extractive"
    )


def answers(study, phase, value=4):
    return {c.question.column: c.question.item.attention or value for c in study.columns(phase)}


def test_database_is_migrated_once(store, database):
    assert store.schema_version == len(MIGRATIONS)
    tables = set(inspect(store.engine).get_table_names())
    assert {"participants", "item_answers", "assignments"} <= tables and not tables & LEGACY_TABLES
    # Nothing that identifies a person: no IP address, name, e-mail or browser column in any survey table.
    for table in ("participants", "item_answers", "assignments"):
        columns = {c["name"] for c in inspect(store.engine).get_columns(table)}
        words = {word for column in columns for word in column.split("_")}
        assert not words & {"ip", "name", "email", "mail", "address", "agent", "host"}, table
    again = SurveyStore(database)  # reopening runs no migration twice (a second CREATE TABLE would fail)
    assert again.schema_version == store.schema_version == len(MIGRATIONS)


def test_the_sqlite_default_is_in_wal_mode(settings):
    store = SurveyStore(settings.survey_db)
    assert store.path == settings.survey_db and store.engine.dialect.name == "sqlite"
    with sqlite3.connect(settings.survey_db) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_a_database_holding_the_legacy_tables_loses_them_and_keeps_the_study(database, study):
    """A database the study release migrated (migrations 1-2), with rows in the old tables and the study's."""
    engine = db.engine_for(database)
    assert db.migrate(engine, "survey", MIGRATIONS[:2]) == 2
    pid, block = "p00000000000000a1", [c.id for c in study.conditions] * 2  # the first slot is taken
    condition, pre = block[0], answers(study, "pre")
    with db.transaction(engine) as conn:
        conn.execute(
            text("INSERT INTO responses VALUES ('a1', '2026-01-01T00:00:00Z', 'p', 'clone', '1', '0.1', 'hi')")
        )
        conn.execute(text("INSERT INTO answers VALUES ('a1', 'clone_trust_01', 6)"))
        conn.execute(
            text("INSERT INTO assignments VALUES (1, :n, :c, :pid, :at, NULL)"),
            [
                {"n": n, "c": c, "pid": pid if n == 1 else None, "at": "2026-01-02T00:00:00Z" if n == 1 else None}
                for n, c in enumerate(block, 1)
            ],
        )
        conn.execute(
            text(
                "INSERT INTO participants (participant_id, study, study_version, consent_version, consented_at, "
                "transcript_opt_in, condition, persona_id, app_version, backend, pre_at) VALUES (:pid, :study, '1', "
                "'1', '2026-01-02T00:00:00Z', 0, :c, 'demo', '0.1.0', 'extractive', '2026-01-02T00:01:00Z')"
            ),
            {"pid": pid, "study": study.id, "c": condition},
        )
        conn.execute(
            text("INSERT INTO item_answers VALUES (:pid, 'pre', 'x', :item, :value)"),
            [{"pid": pid, "item": k, "value": v} for k, v in pre.items()],
        )

    store = SurveyStore(database)
    assert store.schema_version == len(MIGRATIONS) >= 3
    assert not set(inspect(store.engine).get_table_names()) & LEGACY_TABLES
    (record,) = store.records()
    assert (record.participant_id, record.condition, record.pre_at) == (pid, condition, "2026-01-02T00:01:00Z")
    assert record.answers == {("pre", k): v for k, v in pre.items()}
    assert [(r.block, r.position, r.participant_id) for r in store.assignments()] == [(1, 1, pid)]
    # The store carries on: the next participant takes the open block's next slot; deletion by code works.
    nxt = assign(store, study)
    assert (nxt.block, nxt.condition, [r.position for r in store.assignments()]) == (1, block[1], [1, 2])
    assert store.delete(pid) and [r.participant_id for r in store.records()] == [nxt.participant_id]


def test_a_sqlite_file_from_the_first_release_is_upgraded_in_place(tmp_path, study):
    path = tmp_path / "old.sqlite3"
    with sqlite3.connect(path) as conn:  # what the first release created: migration 1 only, counted in user_version
        conn.executescript(MIGRATIONS[0])
        conn.execute("PRAGMA user_version=1")
        conn.execute("INSERT INTO responses VALUES ('a1', '2026-01-01T00:00:00Z', 'p', 'clone', '1.0', '0.1.0', 'hi')")
    store = SurveyStore(path)
    assert store.schema_version == len(MIGRATIONS)
    with sqlite3.connect(path) as conn:
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert "participants" in tables and not tables & LEGACY_TABLES
    assert store.records() == [] and store.assignments() == [] and not store.delete("a1")
    assign(store, study)
    assert len(store.records()) == 1


def test_participants_get_random_ids_and_utc_times_to_the_second(store, study):
    first, second = assign(store, study), assign(store, study)
    assert first.participant_id != second.participant_id
    assert all(re.fullmatch(r"p[0-9a-f]{16}", a.participant_id) for a in (first, second))
    store.save_phase(study, first.participant_id, "pre", answers(study, "pre"))
    record = next(r for r in store.records() if r.participant_id == first.participant_id)
    second_precision = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ"
    assert re.fullmatch(second_precision, record.consented_at) and re.fullmatch(second_precision, record.pre_at)
    assert all(re.fullmatch(second_precision, r.assigned_at) for r in store.assignments())


def test_inbox_times_keep_the_order_of_questions_asked_in_one_second(database):
    inbox = InboxStore(database)
    ids = [inbox.leave(f"Question number {n}?") for n in range(6)]
    asked = inbox.open_questions()
    # To the second, six questions in one second would come back in the (random) order of their ids.
    assert [q.question_id for q in asked] == ids
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", q.asked_at) for q in asked)


@pytest.mark.parametrize(
    "value, message",
    [
        (None, "missing: 1"),
        (8, "Question 1 needs a number from 1 to 7, not 8"),
        (0, "Question 1 needs a number from 1 to 7, not 0"),
        ("lots", "Question 1 needs a number from 1 to 7, not 'lots'"),
        ("  ", "missing: 1"),
    ],
)
def test_bad_answers_are_refused_and_nothing_is_stored(store, study, value, message):
    first = study.columns("pre")[0].question
    assert (study.columns("pre")[0].instrument.scale.min, study.columns("pre")[0].instrument.scale.max) == (1, 7)
    a = assign(store, study)
    with pytest.raises(SurveyError, match=message):
        store.save_phase(study, a.participant_id, "pre", {**answers(study, "pre"), first.column: value})
    (record,) = store.records()
    assert record.answers == {} and record.pre_at is None
    # The refused phase was not claimed: the participant can still send it, corrected.
    store.save_phase(study, a.participant_id, "pre", {**answers(study, "pre"), first.column: "7 (Strongly agree)"})
    assert store.records()[0].answers[("pre", first.column)] == 7


@pytest.mark.parametrize(
    "cell, expected",
    [
        ("=1+1", "'=1+1"),
        ("+1", "'+1"),
        ("-2", "'-2"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tx", "'\tx"),
        ("\rx", "'\rx"),
        ("\nx", "'\nx"),
        ("fine", "fine"),
        (-3, -3),
        (7, 7),
    ],
)
def test_formula_injection_is_neutralised_and_numbers_kept(cell, expected):
    assert neutralise(cell) == expected


def test_export_files_are_written_whole_replace_older_ones_and_keep_the_store_raw(store, study, settings):
    a = assign(store, study, opt_in=True)
    store.save_phase(study, a.participant_id, "pre", answers(study, "pre"))
    store.finish(study, a.participant_id, chat=ChatMetrics(1, 2.0, 0, 0), transcript=[{"fan": "=cmd|' /C calc'!A0"}])
    folder = settings.export_dir
    first = write_study_export(study, store, folder)
    assert [p.name for p in first] == ["study-wide.csv", "study-long.csv", "study-codebook.csv", "study-codebook.json"]
    records = store.records()
    expected = [wide_csv(study, records), long_csv(study, records), codebook_csv(study), codebook_json(study)]
    assert [p.read_bytes().decode("utf-8") for p in first] == expected
    assert all(p.read_bytes().endswith(b"\r\n") and b"\r\n" in p.read_bytes() for p in first[:3])
    assert records[0].transcript == [{"fan": "=cmd|' /C calc'!A0"}]  # the stored data stays raw
    b = assign(store, study)
    newer = write_study_export(study, store, folder)
    assert newer == first and b.participant_id in newer[0].read_text(encoding="utf-8")
    assert sorted(p.name for p in folder.iterdir()) == sorted(p.name for p in first)  # no temporary files left


def test_bad_instrument_file_names_the_file_and_the_fields(tmp_path):
    (tmp_path / "consent.md").write_text("Consent")
    (tmp_path / "bad.yaml").write_text(
        "id: x\ntitle: t\nvalidated: maybe\ncitation: c\nscale: {min: 1, max: 7, anchors: {9: nine}}\nitems: []\n"
    )
    (tmp_path / "study.yaml").write_text(
        "id: s\nconsent: {file: consent.md, version: '1'}\ninstruments: [bad.yaml]\nconditions: [{id: a}]\n"
    )
    with pytest.raises(SurveyError) as err:
        load_study(tmp_path / "study.yaml")
    text = str(err.value)
    assert "bad.yaml" in text and "validated" in text and "scale" in text and "items" in text


@dataclass
class Reply:
    """What the tally reads from a reply (a fake: the chat itself is tested in test_ui.py)."""

    text: str = "Hi"
    abstained: bool = False
    refused: bool = False


def test_the_chat_tally_counts_each_participant_and_stays_bounded():
    tally = ChatTally(limit=2)
    kept, other = {"id": "pa", "transcript_opt_in": True}, {"id": "pb"}
    for n in range(MAX_TRANSCRIPT_TURNS + 5):
        tally.count(kept, f"question {n}", Reply(abstained=n == 0, refused=n == 1), now=0.0)
    tally.count(other, "private", Reply(), now=0.0)
    metrics, transcript = tally.metrics("pa")
    assert (metrics.turns, metrics.abstentions, metrics.refusals) == (MAX_TRANSCRIPT_TURNS + 5, 1, 1)
    assert len(transcript) == MAX_TRANSCRIPT_TURNS and transcript[0]["fan"] == "question 0"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", transcript[0]["at"])
    assert tally.metrics("pb")[1] == []  # not opted in: no chat text kept
    tally.count({"id": "pc"}, "third", Reply(), now=0.0)  # over the limit: the oldest entry goes
    assert tally.metrics("pa") == (ChatMetrics(), []) and tally.metrics("pc")[0].turns == 1
    tally.forget("pc")
    assert tally.metrics("pc") == (ChatMetrics(), [])
