"""The participant study: instruments from study.yaml, blocked randomization, storage, wide/long/codebook export."""

import io
import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
from collections import Counter
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import text
from starlette.applications import Starlette
from starlette.testclient import TestClient

from clone.config import ASSETS_DIR, PROJECT_ROOT
from clone.errors import SurveyError
from clone.survey import ChatMetrics, SurveyStore, codebook, codebook_csv, codebook_json, load_study, long_csv, wide_csv
from clone.survey.http import export_routes
from clone.survey.instruments import FULL_STUDY
from clone.survey.store import Feedback, ParticipantRecord, SourceClick

INSTRUMENTS = ASSETS_DIR / "instruments"


@pytest.fixture
def study():
    """The full battery (study_full.yaml): the most instruments, scales and checks in one study."""
    return load_study(FULL_STUDY)


@pytest.fixture
def store(database) -> SurveyStore:
    """A store on a fresh database: every test using it runs on SQLite and on PostgreSQL."""
    return SurveyStore(database)


def assign(store, study, opt_in=False):
    return store.assign(
        study, consent_version="1", transcript_opt_in=opt_in, persona_id="demo", app_version="9", backend="extractive"
    )


def answers(study, phase, value=4):
    return {c.question.column: c.question.item.attention or value for c in study.columns(phase)}


def test_default_study_is_short_with_whole_validated_scales():
    """The bundled default fits a phone in 25 taps (tests/test_browser_people.py) without cutting a validated
    scale: the S-TIAS (the published 3-item short form of Jian et al.) before and after, the whole PCTS, an
    attention check and the two manipulation checks."""
    study = load_study()
    pre, post = study.columns("pre"), study.columns("post")
    assert (len(pre), len(post)) == (3, 14)
    ids = {i.id: i for i in study.instruments}
    assert list(ids) == ["stias", "pcts", "attention", "manipulation"]
    assert "McGrath" in ids["stias"].citation and "Jian" in ids["stias"].citation and ids["stias"].validated
    assert [q.item.source for q in ids["stias"].questions] == [
        f"S-TIAS item {n} (Jian et al. item {j})" for n, j in ((1, 6), (2, 10), (3, 11))
    ]
    assert len(ids["pcts"].items) == 8 and ids["pcts"].validated  # all of the PCTS
    assert [c.name for c in pre] == [f"stias_trust_0{n}_pre" for n in (1, 2, 3)]
    assert [c.name for c in post[:3]] == [f"stias_trust_0{n}_post" for n in (1, 2, 3)]
    assert [c.name for c in post if c.question.item.attention] == ["attention_check_01_post"]
    assert {c.question.item.manipulation for c in post} >= {"show_citations", "disclosure"}
    assert study.consent_version == "2" and "I agree — start" in study.consent_text and study.min_turns == 1
    # The full battery is one setting away, unchanged (its data stays comparable with the first version's).
    full = load_study(FULL_STUDY)
    assert (full.id, full.version, full.consent_version) == ("clone_reactions_study", "1.0", "1")
    assert (len(full.columns("pre")), len(full.columns("post"))) == (7, 28)


def test_full_study_is_cited_and_marks_validation(study):
    pre, post = study.columns("pre"), study.columns("post")
    assert 5 <= len(pre) <= 10 and 15 <= len(post) <= 30
    ids = {i.id: i for i in study.instruments}
    assert set(ids) == {"godspeed", "presence", "trust", "pcts", "attention", "manipulation"}
    assert "Bartneck" in ids["godspeed"].citation and "robot" in ids["godspeed"].adaptation
    assert (ids["godspeed"].scale.min, ids["godspeed"].scale.max) == (1, 5)
    assert all(q.item.anchors for q in ids["godspeed"].questions)  # semantic differential: both ends per item
    assert "Gefen" in ids["presence"].citation and "Jian" in ids["trust"].citation
    assert "Wozniak" in ids["pcts"].citation and sum(q.item.reverse for q in ids["pcts"].questions) == 2
    assert all(q.item.source.startswith("Jian et al. item") for q in ids["trust"].questions)
    # The attention and manipulation checks are not validated scales.
    assert [i.validated for i in study.instruments] == [True, True, False, True, True, False]
    # The trust subset is a repeated measure; an instructed-response check is in both phases.
    assert "trust_automation_01R_pre" in {c.name for c in pre} and "trust_automation_01R_post" in {c.name for c in post}
    assert [c.question.item.attention for c in pre + post if c.question.item.attention] == [1, 1]
    assert "Strongly disagree" in next(c for c in pre if c.question.item.attention).question.item.text
    assert [c.id for c in study.conditions] == ["citations_shown", "citations_hidden"]
    assert study.consent_version == "1" and "Delete my answers" in study.consent_text


def test_project_items_stay_in_the_bank_as_not_validated(tmp_path):
    (clone,) = load_study(write_study(tmp_path, ["clone_reactions.yaml"])).instruments
    assert clone.validated is False and (clone.scale.min, clone.scale.max) == (1, 7) and len(clone.questions) >= 5
    assert {"comfort", "trust", "authenticity"} <= {q.item.subscale for q in clone.questions}
    assert "clone_comfort_02R" in clone.columns  # reverse-scored items carry the R suffix


def write_study(folder: Path, instruments: list[str], conditions=("a", "b"), demographics="") -> Path:
    """A study.yaml in ``folder`` using the bundled instrument files."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "consent.md").write_text("Consent text v2", encoding="utf-8")
    for name in instruments:
        (folder / name).write_text((INSTRUMENTS / name).read_text(encoding="utf-8"), encoding="utf-8")
    lines = [
        "id: mini",
        "version: '2'",
        "consent: {file: consent.md, version: '2'}",
        "instruments: [" + ", ".join(instruments) + "]",
        "conditions:",
        *[f"  - {{id: {c}, show_citations: {str(c != 'b').lower()}}}" for c in conditions],
        demographics,
    ]
    path = folder / "study.yaml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_a_researcher_swaps_instruments_in_the_config_file(tmp_path):
    study = load_study(write_study(tmp_path, ["clone_reactions.yaml", "attention.yaml"]))
    assert [c.name for c in study.columns("pre")] == ["attention_check_01_pre"]
    assert [c.name for c in study.columns("post")][:2] == ["clone_comfort_01_post", "clone_comfort_02R_post"]
    assert study.consent_text == "Consent text v2" and study.consent_version == "2"


def test_bad_study_file_names_the_problem(tmp_path):
    path = write_study(tmp_path, ["attention.yaml"])
    path.write_text(path.read_text().replace("attention.yaml", "missing.yaml"))
    with pytest.raises(SurveyError, match="missing.yaml"):
        load_study(path)
    path.write_text(path.read_text().replace("conditions:", "conditions: []\nx:"))
    with pytest.raises(SurveyError, match="Study file .* invalid fields"):
        load_study(path)


@pytest.mark.parametrize("conditions", [("a", "b"), ("a", "b", "c")])
def test_blocked_randomization_balances_every_block(tmp_path, database, conditions):
    study = load_study(write_study(tmp_path / "s", ["attention.yaml"], conditions))
    store = SurveyStore(database)
    n_blocks = 25
    size = 2 * len(conditions)
    got = [assign(store, study).condition for _ in range(n_blocks * size + 1)]
    for b in range(n_blocks):
        assert Counter(got[b * size : (b + 1) * size]) == {c: 2 for c in conditions}
    # At any moment the arms differ by at most one block's worth (2) and, after each block, by zero.
    for n in range(1, len(got) + 1):
        counts = Counter(got[:n])
        assert max(counts[c] for c in conditions) - min(counts[c] for c in conditions) <= 2
    # Shuffled, not a fixed rotation.
    assert len({tuple(got[b * size : (b + 1) * size]) for b in range(n_blocks)}) > 1
    log = store.assignments()
    assert [r.condition for r in log] == got and all(r.assigned_at for r in log)


def test_dropouts_stay_in_the_log_and_the_wide_file(store, study):
    dropout = assign(store, study)
    done = assign(store, study)
    store.save_phase(study, done.participant_id, "pre", answers(study, "pre"))
    store.save_phase(study, done.participant_id, "post", answers(study, "post"))
    assert {r.participant_id for r in store.assignments()} == {dropout.participant_id, done.participant_id}
    frame = pd.read_csv(io.StringIO(wide_csv(study, store.records())))
    assert dict(zip(frame.participant_id, frame.finished, strict=True)) == {
        dropout.participant_id: 0,
        done.participant_id: 1,
    }


def test_a_phase_is_stored_once_and_validated(store, study):
    a = assign(store, study)
    with pytest.raises(SurveyError, match="missing: 2"):
        store.save_phase(study, a.participant_id, "pre", {**answers(study, "pre"), "trust_automation_02R": None})
    with pytest.raises(SurveyError, match="Unknown survey items: godspeed_likeability_01"):
        store.save_phase(study, a.participant_id, "pre", {**answers(study, "pre"), "godspeed_likeability_01": 3})
    store.save_phase(study, a.participant_id, "pre", answers(study, "pre"))
    with pytest.raises(SurveyError, match="already saved"):
        store.save_phase(study, a.participant_id, "pre", answers(study, "pre"))
    with pytest.raises(SurveyError, match="not one of the choices"):
        store.finish(study, a.participant_id, chat=ChatMetrics(), demographics={"age_band": "Ada Lovelace"})
    with pytest.raises(SurveyError, match="Unknown question 'email'"):
        store.finish(study, a.participant_id, chat=ChatMetrics(), demographics={"email": "a@b.c"})


def test_deletion_by_code_removes_answers_but_keeps_the_anonymous_assignment(store, study):
    a = assign(store, study, opt_in=True)
    store.save_phase(study, a.participant_id, "pre", answers(study, "pre"))
    store.finish(study, a.participant_id, chat=ChatMetrics(1, 2.0, 0, 0), transcript=[{"fan": "hi"}])
    assert store.delete(" " + a.participant_id.upper() + " ")
    assert store.records() == [] and not store.delete(a.participant_id)
    (slot,) = store.assignments()
    assert slot.participant_id is None and slot.withdrawn_at and slot.condition == a.condition
    with store.engine.connect() as conn:
        assert conn.execute(text("SELECT COUNT(*) FROM item_answers")).scalar() == 0


def test_twenty_threads_two_hundred_submissions_each(store, study):
    pre = answers(study, "pre")
    ids: list[str] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def work():
        try:
            for _ in range(200):
                a = assign(store, study)
                store.save_phase(study, a.participant_id, "pre", pre)
                with lock:
                    ids.append(a.participant_id)
        except BaseException as exc:  # reported below: a thread's exception would otherwise be lost
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    records = store.records()
    assert len(ids) == len(set(ids)) == 4000
    assert sorted(r.participant_id for r in records) == sorted(ids)
    assert all(len(r.answers) == len(pre) for r in records)
    log = store.assignments()
    assert sorted(r.participant_id for r in log) == sorted(ids)
    per_block = Counter((r.block, r.condition) for r in log)
    assert set(per_block.values()) == {2}  # 4000 is a whole number of blocks of 4


WRITER = """
import sys
from clone.survey import SurveyStore, load_study
from clone.survey.instruments import FULL_STUDY
study = load_study(FULL_STUDY)
store = SurveyStore(sys.argv[1])  # a SQLite path or a database URL
pre = {c.question.column: c.question.item.attention or 3 for c in study.columns("pre")}
while True:
    a = store.assign(study, consent_version="1", transcript_opt_in=False, persona_id="p", app_version="1", backend="b")
    store.save_phase(study, a.participant_id, "pre", pre)
    print(a.participant_id, flush=True)
"""


def test_writer_killed_mid_stream_leaves_every_committed_row(database, study):
    proc = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(database)],
        cwd=PROJECT_ROOT,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT)},
    )
    committed = [proc.stdout.readline().strip() for _ in range(150)]
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    committed += [line.strip() for line in proc.stdout.read().splitlines() if line.strip()]
    store = SurveyStore(database)  # reopens (and recovers the WAL) without error
    if store.path is not None:
        with sqlite3.connect(store.path) as conn:
            assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    records = {r.participant_id: r for r in store.records()}
    assert set(committed) <= set(records)
    n_pre = len(study.columns("pre"))
    # Each pre-phase was one transaction: a participant has all their answers or none.
    assert all(len(records[pid].answers) == n_pre for pid in committed)
    assert all(len(r.answers) in (0, n_pre) for r in records.values())


MINI_DEMO = "demographics:\n  age_band: ['18-24', '25+']\n"


def mini_records():
    answers = {("pre", "attention_check_01"): 1, ("post", "attention_check_01"): 4}
    answers |= {("post", f"pcts_malice_0{n}"): v for n, v in ((1, 2), (2, 5))}
    answers |= {("post", "pcts_undesirability_01"): 3, ("post", "pcts_undesirability_02"): 3}
    answers |= {("post", "pcts_undesirability_03"): 4, ("post", "pcts_unpredictability_01R"): 7}
    answers |= {("post", "pcts_unpredictability_02"): 2, ("post", "pcts_unpredictability_03R"): 6}
    common = dict(study="mini", study_version="2", consent_version="2", persona_id="demo", app_version="0.1.0")
    return [
        ParticipantRecord(
            "pa1", consented_at="2026-01-02T03:04:05Z", transcript_opt_in=True, condition="a", backend="extractive",
            pre_at="2026-01-02T03:05:00Z", post_at="2026-01-02T03:14:05Z", chat=ChatMetrics(3, 61.5, 1, 0),
            demographics={"age_band": '=HYPERLINK("x")'}, transcript=[{"fan": 'hi, "you"'}], answers=answers,
            steps={"chat": "2026-01-02T03:10:00Z"},
            feedback=[
                Feedback("AAAA-BBBB-CCCC-DDDD", "up", "=bad", "2026-01-02T03:09:00Z"),
                Feedback("EEEE-FFFF-GGGG-HHHH", "down", "", "2026-01-02T03:09:30Z"),
            ],
            clicks=[SourceClick("https://example.com/x", "2026-01-02T03:08:00Z")], **common,
        ),
        ParticipantRecord(
            "pb2", consented_at="2026-01-02T04:00:00Z", transcript_opt_in=False, condition="b", backend="extractive",
            pre_at=None, post_at=None, chat=None, demographics={}, transcript=None, **common,
        ),
    ]  # fmt: skip


def test_wide_long_and_codebook_are_byte_exact(tmp_path):
    study = load_study(write_study(tmp_path, ["pcts.yaml", "attention.yaml"], demographics=MINI_DEMO))
    records = mini_records()
    items = (
        "pcts_malice_01_post,pcts_malice_02_post,pcts_undesirability_01_post,pcts_undesirability_02_post,"
        "pcts_undesirability_03_post,pcts_unpredictability_01R_post,pcts_unpredictability_02_post,"
        "pcts_unpredictability_03R_post,attention_check_01_post"
    )
    assert wide_csv(study, records) == (
        "participant_id,study,study_version,study_package_sha256,condition,consent_version,consented_at,pre_at,post_at,finished,"
        "duration_s,persona_id,app_version,backend,panel,panel_study_id,transcript_opt_in,chat_turns,chat_duration_s,"
        "chat_abstentions,chat_refusals,sources_clicked,feedback_up,feedback_down,simulated,seconds_pre,"
        "seconds_chat_step,seconds_post_page_1,"
        f"demo_age_band,attention_check_01_pre,{items},attention_check_01_pre_pass,"
        "attention_check_01_post_pass,pcts_malice_mean_post,pcts_undesirability_mean_post,"
        "pcts_unpredictability_mean_post,transcript\r\n"
        "pa1,mini,2,,a,2,2026-01-02T03:04:05Z,2026-01-02T03:05:00Z,2026-01-02T03:14:05Z,1,600,demo,0.1.0,"
        'extractive,,,1,3,61.5,1,0,1,1,1,0,55,300,245,"\'=HYPERLINK(""x"")",1,2,5,3,3,4,7,2,6,4,1,0,3.5,3.3333,1.6667,'
        '"[{""fan"": ""hi, \\""you\\""""}]"\r\n'
        "pb2,mini,2,,b,2,2026-01-02T04:00:00Z,,,0,,demo,0.1.0,extractive,,,0,,,,,0,0,0,0,,,,,,,,,,,,,,,,,,,,\r\n"
    )
    assert long_csv(study, records).splitlines()[:3] == [
        "participant_id,condition,phase,instrument,item,value",
        "pa1,a,pre,attention,attention_check_01,1",
        "pa1,a,post,pcts,pcts_malice_01,2",
    ]
    assert long_csv(study, records).splitlines()[-7:] == [
        "pa1,a,timing,,seconds_pre,55",
        "pa1,a,timing,,seconds_chat_step,300",
        "pa1,a,timing,,seconds_post_page_1,245",
        "pa1,a,chat,source_click,https://example.com/x,1",
        "pa1,a,chat,feedback,AAAA-BBBB-CCCC-DDDD,up",
        "pa1,a,chat,feedback_reason,AAAA-BBBB-CCCC-DDDD,'=bad",
        "pa1,a,chat,feedback,EEEE-FFFF-GGGG-HHHH,down",
    ]
    assert long_csv(study, records).count("\r\n") == 1 + 10 + 3 + 4 and "pb2" not in long_csv(study, records)


def test_codebook_describes_every_wide_column_and_pandas_reads_everything(store, study):
    for n in range(3):
        a = assign(store, study, opt_in=True)
        store.save_phase(study, a.participant_id, "pre", answers(study, "pre", 2 + n))
        store.save_phase(study, a.participant_id, "post", answers(study, "post", 3 + n))
        store.finish(study, a.participant_id, chat=ChatMetrics(2, 9.5, 1, 0), transcript=[{"fan": "=1+1"}])
    wide = pd.read_csv(io.StringIO(wide_csv(study, store.records())))
    book = pd.read_csv(io.StringIO(codebook_csv(study)))
    book_json = json.loads(codebook_json(study))
    assert list(wide.columns) == list(book.column) == [c["column"] for c in book_json["columns"]]
    assert len(wide) == 3 and wide.participant_id.is_unique
    assert wide["trust_automation_01R_pre"].dtype.kind == "i" and wide["chat_duration_s"].dtype.kind == "f"
    assert (wide["attention_check_01_post_pass"] == 1).all()
    # Reverse items are reversed in the subscale means: every answer 2 on 1..7 -> reversed items count 6.
    first = wide.iloc[0]
    assert first["trust_automation_mean_pre"] == pytest.approx((6 + 6 + 6 + 2 + 2 + 2) / 6)
    row = book.set_index("column").loc["godspeed_anthropomorphism_01_post"]
    assert row["anchors"] == "1=Fake; 5=Natural" and (row["min"], row["max"]) == (1, 5)
    assert "Bartneck" in row["citation"] and row["validated"] == 1 and row["version"] == 1.0
    assert book.set_index("column").loc["pcts_unpredictability_01R_post", "reverse"] == 1
    long = pd.read_csv(io.StringIO(long_csv(study, store.records())))
    assert list(long.columns) == ["participant_id", "condition", "phase", "instrument", "item", "value"]
    items = long[long.phase != "timing"]
    assert len(items) == 3 * (len(study.columns("pre")) + len(study.columns("post")))
    # Each finished participant's timed pages are events too (chat and page steps were not taken here).
    assert (long[long.phase == "timing"].item == "seconds_pre").sum() == 3
    assert {e.column for e in codebook(study)} == set(wide.columns)


def test_formula_injection_is_neutralised_in_every_file_and_kept_raw(tmp_path):
    study = load_study(write_study(tmp_path, ["attention.yaml"], demographics=MINI_DEMO))
    bad = mini_records()[0]
    for cell in ("=1+1", "+1", "-2", "@SUM(A1)", "\tx", "\rx", "\nx"):
        record = ParticipantRecord(**{**bad.__dict__, "demographics": {"age_band": cell}, "condition": cell})
        wide = pd.read_csv(io.StringIO(wide_csv(study, [record])), keep_default_na=False)
        assert wide.loc[0, "demo_age_band"] == "'" + cell and wide.loc[0, "condition"] == "'" + cell
        long = pd.read_csv(io.StringIO(long_csv(study, [record])))
        assert (long.condition == "'" + cell).all()
        assert record.demographics["age_band"] == cell  # the record (the stored data) stays raw
    assert wide.loc[0, "chat_duration_s"] == 61.5  # numbers are left alone


def test_http_export_needs_the_bearer_token(store, study):
    a = assign(store, study)
    client = TestClient(Starlette(routes=export_routes(study, store, "s3cret")))
    assert client.get("/research/export/wide.csv").status_code == 401
    assert client.get("/research/export/wide.csv", headers={"Authorization": "Bearer nope"}).status_code == 401
    assert client.get("/research/export/wide.csv", headers={"Authorization": "s3cret"}).status_code == 401
    auth = {"Authorization": "Bearer s3cret"}
    assert client.get("/research/export/secrets.txt", headers=auth).status_code == 404
    wide = client.get("/research/export/wide.csv", headers=auth)
    assert wide.status_code == 200 and wide.headers["content-type"].startswith("text/csv")
    assert wide.content.decode("utf-8") == wide_csv(study, store.records()) and a.participant_id in wide.text
    assert client.get("/research/export/codebook.json", headers=auth).json()["study"] == study.id
    assert client.get("/research/export/long.csv", headers=auth).text.startswith("participant_id,condition")
    assert client.get("/research/export/codebook.csv", headers=auth).text.startswith("column,label")
    disabled = TestClient(Starlette(routes=export_routes(study, store, "")))
    assert disabled.get("/research/export/wide.csv", headers={"Authorization": "Bearer "}).status_code == 401
