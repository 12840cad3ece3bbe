import sqlite3

import pytest
from sqlalchemy import inspect

from clone.errors import SurveyError
from clone.survey import SurveyStore, load_instrument, responses_csv, write_export
from clone.survey.export import neutralise
from clone.survey.instruments import Instrument
from clone.survey.store import MIGRATIONS, StoredResponse


@pytest.fixture
def instrument() -> Instrument:
    return load_instrument()


@pytest.fixture
def store(database) -> SurveyStore:
    """A store on a fresh database: every test using it runs on SQLite and on PostgreSQL."""
    return SurveyStore(database)


def answers(instrument, value=5):
    return {c: value for c in instrument.columns}


def test_default_instrument_has_enough_seven_point_items(instrument):
    assert len(instrument.questions) >= 5
    assert (instrument.scale.min, instrument.scale.max) == (1, 7)
    assert instrument.validated is False
    assert {"comfort", "trust", "authenticity"} <= {q.item.subscale for q in instrument.questions}
    assert "clone_comfort_02R" in instrument.columns  # reverse-scored items carry the R suffix


def test_submission_is_stored_with_random_id_and_utc_time(store, instrument):
    pid = store.submit(instrument, answers(instrument, 6), free_text="Nice", persona_id="p", app_version="9")
    other = store.submit(instrument, answers(instrument, 2), persona_id="p", app_version="9")
    assert pid != other and len(pid) == 16 and int(pid, 16) >= 0
    rows = {r.participant_id: r for r in store.responses()}
    assert rows[pid].answers == answers(instrument, 6)
    assert rows[pid].free_text == "Nice"
    assert rows[pid].submitted_at.endswith("Z") and "T" in rows[pid].submitted_at


def test_database_is_migrated_once(store, database):
    assert store.schema_version == len(MIGRATIONS)
    columns = [c["name"] for c in inspect(store.engine).get_columns("responses")]
    # Nothing that identifies a person: no IP address, name or e-mail column.
    assert columns == [
        "participant_id",
        "submitted_at",
        "persona_id",
        "instrument",
        "instrument_version",
        "app_version",
        "free_text",
    ]
    again = SurveyStore(database)  # reopening runs no migration twice (a second CREATE TABLE would fail)
    assert again.schema_version == store.schema_version == len(MIGRATIONS)


def test_the_sqlite_default_is_in_wal_mode(settings):
    store = SurveyStore(settings.survey_db)
    assert store.path == settings.survey_db and store.engine.dialect.name == "sqlite"
    with sqlite3.connect(settings.survey_db) as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


@pytest.mark.parametrize(
    "change, message",
    [
        ({"clone_trust_01": None}, "missing: 3"),
        ({"clone_trust_01": 8}, "Question 3 needs a number from 1 to 7, not 8"),
        ({"clone_trust_01": "lots"}, "Question 3 needs a number from 1 to 7, not 'lots'"),
        ({"made_up": 3}, "Unknown survey items: made_up"),
    ],
)
def test_bad_answers_are_refused_and_nothing_is_stored(store, instrument, change, message):
    with pytest.raises(SurveyError, match=message):
        store.submit(instrument, {**answers(instrument), **change}, persona_id="p", app_version="1")
    assert store.responses() == []


def test_overlong_comment_is_refused(store, instrument):
    with pytest.raises(SurveyError, match="keep it under 2000"):
        store.submit(instrument, answers(instrument), free_text="x" * 2001, persona_id="p", app_version="1")
    assert store.responses() == []


def test_csv_is_byte_exact(instrument):
    rows = [
        StoredResponse(
            "a1", "2026-01-02T03:04:05Z", "demo", "1.0", "0.1.0", 'Loved it, "really"', answers(instrument, 7)
        ),
        StoredResponse("b2", "2026-01-02T04:00:00Z", "demo", "1.0", "0.1.0", '=HYPERLINK("x")', answers(instrument, 1)),
    ]
    expected = (
        "participant_id,submitted_at,persona_id,app_version,instrument_version,"
        "clone_comfort_01,clone_comfort_02R,clone_trust_01,clone_trust_02,"
        "clone_authenticity_01,clone_authenticity_02R,clone_acceptance_01,free_text\r\n"
        'a1,2026-01-02T03:04:05Z,demo,0.1.0,1.0,7,7,7,7,7,7,7,"Loved it, ""really"""\r\n'
        'b2,2026-01-02T04:00:00Z,demo,0.1.0,1.0,1,1,1,1,1,1,1,"\'=HYPERLINK(""x"")"\r\n'
    )
    assert responses_csv(instrument, rows) == expected


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


def test_export_file_keeps_raw_data_in_store(store, instrument, settings):
    store.submit(instrument, answers(instrument), free_text="=cmd|' /C calc'!A0", persona_id="p", app_version="1")
    path = write_export(instrument, store.responses(), settings.export_dir)
    data = path.read_bytes().decode("utf-8")
    assert "'=cmd|" in data and data.endswith("\r\n")
    assert store.responses()[0].free_text == "=cmd|' /C calc'!A0"
    newer = write_export(instrument, store.responses(), settings.export_dir)
    assert sorted(p.name for p in settings.export_dir.glob("*.csv")) == [newer.name]


def test_bad_instrument_file_names_the_field(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "id: x\ntitle: t\nvalidated: maybe\ncitation: c\nscale: {min: 1, max: 7, anchors: {9: nine}}\nitems: []\n"
    )
    with pytest.raises(SurveyError) as err:
        load_instrument(bad)
    text = str(err.value)
    assert "validated" in text and "scale" in text and "items" in text


def test_a_database_from_before_the_study_is_upgraded_in_place(tmp_path, instrument):
    path = tmp_path / "old.sqlite3"
    with sqlite3.connect(path) as db:  # what the first release created: migration 1 only
        db.executescript(MIGRATIONS[0])
        db.execute("PRAGMA user_version=1")
        db.execute("INSERT INTO responses VALUES ('a1', '2026-01-01T00:00:00Z', 'p', 'clone', '1.0', '0.1.0', 'hi')")
    store = SurveyStore(path)
    assert store.schema_version == len(MIGRATIONS) >= 2
    assert [r.participant_id for r in store.responses()] == ["a1"]
    assert store.records() == [] and store.assignments() == []
    assert store.delete("a1") and store.responses() == []
