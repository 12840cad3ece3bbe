"""Survey records pushed to a Hugging Face dataset with CommitScheduler, over a fake HfApi (the network edge)."""

import json
import logging
import threading
import uuid
from concurrent.futures import Future
from types import SimpleNamespace

import pytest

from clone.errors import ConfigError
from clone.survey import SurveyStore, codebook, load_study
from clone.survey.export import wide_csv, wide_rows
from clone.survey.store import ChatMetrics
from clone.survey.sync import RecordSync, SyncedStore, open_store
from tests.conftest import make_settings


class FakeHfApi:
    """Records what CommitScheduler asks of HfApi and keeps the uploaded files' bytes by path in the repo."""

    def __init__(self):
        self.calls: list[tuple[str, dict]] = []
        self.files: dict[str, bytes] = {}
        self._lock = threading.Lock()

    def create_repo(self, repo_id, **kwargs):
        self.calls.append(("create_repo", {"repo_id": repo_id, **kwargs}))
        return SimpleNamespace(repo_id=repo_id)

    def run_as_future(self, fn, *args, **kwargs):
        future: Future = Future()
        with self._lock:  # the scheduler's own thread may push at the same time as a test
            try:
                future.set_result(fn(*args, **kwargs))
            except Exception as exc:  # handed to the caller through the future, as HfApi does
                future.set_exception(exc)
        return future

    def create_commit(self, repo_id, operations, **kwargs):
        self.calls.append(("create_commit", {"repo_id": repo_id, **kwargs}))
        for op in operations:
            with op.as_file() as fh:
                self.files[op.path_in_repo] = fh.read()
        return SimpleNamespace(oid="fake")

    def upload_folder(self, **kwargs):
        self.calls.append(("upload_folder", kwargs))


@pytest.fixture
def study():
    return load_study()


@pytest.fixture
def api():
    return FakeHfApi()


@pytest.fixture
def synced(settings, database, study, api):
    store = open_store(database, study, dataset="someone/study-data", folder=settings.hf_sync_dir, hf_api=api)
    yield store
    store.sync.stop()


def complete(store, study, opt_in=False) -> str:
    a = store.assign(
        study, consent_version="1", transcript_opt_in=opt_in, persona_id="demo", app_version="9", backend="extractive"
    )
    answers = {
        phase: {c.question.column: c.question.item.attention or 3 for c in study.columns(phase)}
        for phase in ("pre", "post")
    }
    store.save_phase(study, a.participant_id, "pre", answers["pre"])
    store.finish(study, a.participant_id, chat=ChatMetrics(turns=2, seconds=5.0), demographics={"age_band": "25-34"})
    store.save_phase(study, a.participant_id, "post", answers["post"])
    return a.participant_id


def lines(api) -> list[dict]:
    (content,) = [data for path, data in api.files.items() if path.endswith(".jsonl")]
    return [json.loads(line) for line in content.decode("utf-8").splitlines()]


def test_completed_records_and_deletions_are_pushed_as_jsonl(synced, study, api):
    assert isinstance(synced, SyncedStore)
    first, second = complete(synced, study), complete(synced, study)
    expected = wide_rows(study, synced.records())
    dropout = synced.assign(
        study, consent_version="1", transcript_opt_in=False, persona_id="demo", app_version="9", backend="x"
    )
    synced.save_phase(study, dropout.participant_id, "pre", {c.question.column: 1 for c in study.columns("pre")})
    assert synced.delete(first)
    synced.sync.push()

    assert api.calls[0] == (
        "create_repo",
        {"repo_id": "someone/study-data", "private": True, "repo_type": "dataset", "exist_ok": True},
    )
    commits = [kw for name, kw in api.calls if name == "create_commit"]
    assert commits and all(kw["repo_type"] == "dataset" for kw in commits)
    (path,) = [p for p in api.files if p.endswith(".jsonl")]
    # Beside the records, the current export and package (what `study pool` merges across sites).
    assert set(api.files) - {path} == {
        "study-wide.csv", "study-long.csv", "study-codebook.csv", "study-codebook.json", "study-package.json"
    }  # fmt: skip
    assert api.files["study-wide.csv"].decode("utf-8") == wide_csv(study, synced.records())
    assert str(uuid.UUID(path.removesuffix(".jsonl"))) == path.removesuffix(".jsonl")

    got = lines(api)
    assert [g["event"] for g in got] == ["completed", "completed", "deleted"]  # the dropout never completed
    assert [{k: v for k, v in g.items() if k not in ("event", "synced_at")} for g in got[:2]] == expected
    assert got[2] == {"event": "deleted", "participant_id": first, "synced_at": got[2]["synced_at"]}
    assert {g["participant_id"] for g in got} == {first, second}
    # Exactly the codebook's columns: no IP address, name or e-mail can ride along.
    allowed = {e.column for e in codebook(study)} | {"event", "synced_at"}
    assert all(set(g) <= allowed for g in got)
    assert not any(k for g in got for k in g if "ip" in k.split("_") or "name" in k or "email" in k)


def test_a_later_push_uploads_the_grown_file_and_each_process_has_its_own(settings, synced, study, api):
    complete(synced, study)
    synced.sync.push()
    complete(synced, study)
    synced.sync.push()
    assert len(lines(api)) == 2
    other = RecordSync("someone/study-data", settings.hf_sync_dir, hf_api=api)
    try:
        assert other.path != synced.sync.path and other.path.parent == synced.sync.path.parent
    finally:
        other.stop()


def test_deleting_an_unknown_but_well_formed_code_still_leaves_a_tombstone(synced, api):
    # After a Space restart the local file may be gone while the dataset still holds the record.
    assert not synced.delete("p0123456789abcdef")
    assert not synced.delete("not a code")
    synced.sync.push()
    assert [g["participant_id"] for g in lines(api)] == ["p0123456789abcdef"]


def test_sync_is_off_unless_the_setting_is_set(tmp_path, study):
    settings = make_settings(tmp_path / "home")
    assert settings.hf_dataset == "" and settings.hf_sync_minutes == 5
    store = open_store(settings.survey_db, study, dataset=settings.hf_dataset, folder=settings.hf_sync_dir)
    assert type(store) is SurveyStore and not settings.hf_sync_dir.exists()
    on = make_settings(tmp_path / "h2", CLONE_HF_DATASET="someone/data", CLONE_HF_SYNC_MINUTES="0.5")
    assert (on.hf_dataset, on.hf_sync_minutes, on.hf_sync_dir) == ("someone/data", 0.5, on.home / "hf-sync")


def test_the_token_is_never_logged(tmp_path, api, caplog, study):
    caplog.set_level(logging.DEBUG)
    secret = "hf_verysecrettoken0123456789"
    sync = RecordSync("someone/study-data", tmp_path / "sync", token=secret, hf_api=api)
    try:
        store = SyncedStore(tmp_path / "s.sqlite3", study, sync)
        complete(store, study)
        sync.push()
    finally:
        sync.stop()
    assert secret not in caplog.text and "someone/study-data" in caplog.text


def test_a_database_url_needs_a_folder_for_the_sync_files(study, api):
    with pytest.raises(ConfigError, match="needs a folder for the sync files"):
        open_store("postgresql://u:p@127.0.0.1:1/x", study, dataset="someone/study-data", hf_api=api)
