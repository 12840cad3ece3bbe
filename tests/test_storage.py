"""The survey store behind DATABASE_URL: PostgreSQL shared by replicas, SQLite files from older releases, bad URLs."""

import sqlite3
import time
from collections import Counter

import pytest

from clone import db
from clone.errors import ConfigError
from clone.survey import ChatMetrics, SurveyStore, load_study
from clone.survey.store import MIGRATIONS, ParticipantRecord
from tests.conftest import make_settings
from tests.harness import race_replicas


@pytest.fixture
def study():
    return load_study()


def assign(store, study):
    return store.assign(
        study, consent_version="1", transcript_opt_in=False, persona_id="demo", app_version="9", backend="extractive"
    )


def test_two_replicas_assigning_at_once_never_share_a_slot(database, study, tmp_path):
    SurveyStore(database)  # the schema exists before the race, as after a first deploy
    got = race_replicas(database, tmp_path, 60)
    ids = got[0] + got[1]
    assert len(got[0]) == len(got[1]) == 240 and len(set(ids)) == 480

    store = SurveyStore(database)
    log = store.assignments()
    # A shared slot would overwrite one participant's id in the log (or fail on the primary key).
    assert sorted(r.participant_id for r in log) == sorted(ids)
    assert sorted(r.participant_id for r in store.records()) == sorted(ids)
    assert [(r.block, r.position) for r in log] == [(b, p) for b in range(1, 121) for p in range(1, 5)]
    assert set(Counter((r.block, r.condition) for r in log).values()) == {2}


def test_records_follow_consent_then_randomization_order(database, study):
    store = SurveyStore(database)
    assigned = [assign(store, study).participant_id for _ in range(12)]  # most share a consent second
    assert [r.participant_id for r in store.records()] == assigned
    assert [r.participant_id for r in store.assignments()] == assigned


def test_chat_seconds_read_back_as_written(database, study):
    store = SurveyStore(database)
    a = assign(store, study)
    store.finish(study, a.participant_id, chat=ChatMetrics(3, 12.34, 1, 0))
    (record,) = store.records()
    # PostgreSQL's REAL is 4 bytes: the stored 12.3 must not come back as 12.300000190734863.
    assert record.chat == ChatMetrics(3, 12.3, 1, 0)


def test_a_phase_saved_twice_at_once_is_stored_once(database, study):
    """Two replicas posting the same phase: one wins, the other is told, nothing is doubled."""
    from concurrent.futures import ThreadPoolExecutor

    store = SurveyStore(database)
    pid = assign(store, study).participant_id
    pre = {c.question.column: c.question.item.attention or 3 for c in study.columns("pre")}

    def save(_):
        try:
            store.save_phase(study, pid, "pre", pre)
            return "saved"
        except Exception as exc:  # the outcome under test: which error, if any
            return str(exc)

    with ThreadPoolExecutor(8) as pool:
        outcomes = Counter(pool.map(save, range(8)))
    assert outcomes == {"saved": 1, "These answers were already saved.": 7}
    (record,) = store.records()
    assert len(record.answers) == len(pre) and record.pre_at


def test_a_sqlite_file_from_the_study_release_keeps_its_data(tmp_path, study):
    """A file written by the release that counted migrations in PRAGMA user_version (2), before schema_versions."""
    path = tmp_path / "survey.sqlite3"
    with sqlite3.connect(path) as old:
        for sql in MIGRATIONS[:2]:
            old.executescript(sql)
        old.execute("PRAGMA user_version=2")
        old.execute("INSERT INTO responses VALUES ('a1', '2026-01-01T00:00:00Z', 'p', 'clone', '1.0', '0.1.0', 'hi')")
        old.execute("INSERT INTO answers VALUES ('a1', 'clone_trust_01', 6)")
        old.executemany(
            "INSERT INTO assignments VALUES (1, ?, ?, ?, ?, NULL)",
            [
                (1, "citations_shown", "p00000000000000a1", "2026-01-02T00:00:00Z"),
                (2, "citations_hidden", None, None),
                (3, "citations_shown", None, None),
                (4, "citations_hidden", None, None),
            ],
        )
        old.execute(
            "INSERT INTO participants (participant_id, study, study_version, consent_version, consented_at, "
            "transcript_opt_in, condition, persona_id, app_version, backend, pre_at, chat_turns, chat_seconds, "
            "chat_abstentions, chat_refusals, demographics, transcript) "
            "VALUES (?, 'clone-study', '1', '1', ?, 1, 'citations_shown', 'demo', '0.1.0', 'extractive', ?, "
            "2, 30.5, 0, 1, ?, ?)",
            (
                "p00000000000000a1",
                "2026-01-02T00:00:00Z",
                "2026-01-02T00:01:00Z",
                '{"age_band": "25-34"}',
                '[{"fan": "hi"}]',
            ),
        )
        old.execute("INSERT INTO item_answers VALUES ('p00000000000000a1', 'pre', 'trust', 'trust_automation_01R', 5)")

    store = SurveyStore(path)  # re-running migration 1 or 2 would fail on CREATE TABLE
    assert store.schema_version == len(MIGRATIONS)
    with sqlite3.connect(path) as conn:
        version = conn.execute("SELECT version FROM schema_versions WHERE part = 'survey'").fetchone()
        assert version == (len(MIGRATIONS),)
        # Migration 3 dropped the first release's single-instrument tables.
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        assert not tables & {"responses", "answers"}
    assert store.records() == [
        ParticipantRecord(
            "p00000000000000a1", "clone-study", "1", "1", "2026-01-02T00:00:00Z", True, "citations_shown", "demo",
            "0.1.0", "extractive", "2026-01-02T00:01:00Z", None, ChatMetrics(2, 30.5, 0, 1), {"age_band": "25-34"},
            [{"fan": "hi"}], {("pre", "trust_automation_01R"): 5},
        )
    ]  # fmt: skip
    # The next participant takes the old file's next free slot: the open block carries on.
    nxt = assign(store, study)
    assert (nxt.block, nxt.condition) == (1, "citations_hidden")
    assert [(r.block, r.position) for r in store.assignments()] == [(1, 1), (1, 2)]


def test_the_database_setting_chooses_the_store(tmp_path, database, study):
    settings = make_settings(tmp_path / "home", **({"DATABASE_URL": database} if isinstance(database, str) else {}))
    store = SurveyStore(settings.database)
    assign(store, study)
    if isinstance(database, str):  # a URL: nothing is written under CLONE_HOME
        assert store.engine.dialect.name == "postgresql" and store.path is None
        assert not settings.survey_db.exists()
        assert len(SurveyStore(database).records()) == 1
    else:
        assert store.path == settings.survey_db and settings.survey_db.exists()


@pytest.mark.parametrize(
    "url, message",
    [
        ("postgresql://clone:pw@localhost:notaport/clone", "DATABASE_URL is not a database URL"),
        ("nosuchdb://clone:pw@localhost/clone", "No database driver for 'nosuchdb'"),
        ("postgresql://clone:s3cret-pw@127.0.0.1:1/clone", "Cannot open the survey database .*Check DATABASE_URL"),
    ],
)
def test_a_bad_database_url_says_what_to_fix(tmp_path, url, message):
    settings = make_settings(tmp_path / "home", DATABASE_URL=url)
    start = time.monotonic()
    with pytest.raises(ConfigError, match=message) as err:
        SurveyStore(settings.database)
    assert "s3cret" not in str(err.value) and time.monotonic() - start < 20
    db.dispose_all()
