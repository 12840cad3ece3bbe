"""Optional persistence of survey records to a private Hugging Face dataset repo.

A Space's disk is wiped on restart. When ``CLONE_HF_DATASET`` is set, every completed participant (their
wide-file row) and every deletion (a tombstone) is also appended as one JSON line to a file in
``CLONE_HOME/hf-sync``; huggingface_hub's ``CommitScheduler`` uploads changed files every
``CLONE_HF_SYNC_MINUTES``. One UUID-named file per process, so two replicas never write the same file.

Several creators' deployments may run the same study package and sync to one dataset: each is a *site*
(``CLONE_STUDY_SITE``, by default the persona's id), its files go under ``sites/SITE/`` in the dataset so sites
never overwrite each other, and each record carries a ``site`` field. Beside the records, each site keeps its
current export there (the wide, long and codebook files and the study package, refreshed at each completion
and deletion), which ``python -m clone study pool`` merges across sites (:mod:`clone.survey.pool`).
"""

from __future__ import annotations

import json
import logging
import re
import uuid
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from clone.db import utc_now
from clone.errors import ConfigError
from clone.survey.export import wide_rows, write_study_export
from clone.survey.instruments import Study
from clone.survey.package import write_package
from clone.survey.store import SurveyStore

log = logging.getLogger(__name__)

_STUDY_ID = re.compile(r"^p[0-9a-f]{16}$")

# Where a site's files go in the dataset repo.
SITES_DIR = "sites"
# The study package as each site keeps it beside its export (what `study pool` compares across sites).
PACKAGE_FILE = "study-package.json"


class RecordSync:
    """Appends records as JSON lines under a ``CommitScheduler`` that pushes them to a dataset repo.

    ``hf_api`` is an ``HfApi`` (or a fake of it in tests); by default one is made with ``token``, or with
    ``HF_TOKEN`` from the environment when ``token`` is None. The token is never logged.
    """

    def __init__(
        self,
        repo_id: str,
        folder: Path,
        *,
        every: float = 5,
        token: str | None = None,
        hf_api: Any = None,
        site: str = "",
    ):
        from huggingface_hub import CommitScheduler, HfApi

        self.site = site
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.path = self.folder / f"{uuid.uuid4()}.jsonl"
        # Creating the scheduler creates the (private) repo if needed and starts its upload thread.
        self.scheduler = CommitScheduler(
            repo_id=repo_id,
            repo_type="dataset",
            folder_path=self.folder,
            every=every,
            private=True,
            hf_api=hf_api or HfApi(token=token),
            # A site's own folder in the dataset: sites pooled in one dataset never overwrite each other's files.
            path_in_repo=f"{SITES_DIR}/{site}" if site else None,
        )
        log.info("Survey records are also pushed to the dataset %s every %g minutes.", repo_id, every)

    def append(self, record: dict) -> None:
        """Append one record (with this site's name, if any) as a JSON line; the scheduler's lock keeps a push
        from reading half a line."""
        line = json.dumps(record | ({"site": self.site} if self.site else {}), ensure_ascii=False, sort_keys=True)
        with self.scheduler.lock:
            with self.path.open("a", encoding="utf-8") as fh:
                fh.write(line + "\n")

    def write_export(self, study: Study, store: SurveyStore) -> None:
        """Replace this site's export (wide, long, codebook) and study package in the folder being pushed.

        The answers are already stored: a full disk is logged, never turned into an error for the participant
        (the next completion or deletion writes the export again)."""
        with self.scheduler.lock:
            try:
                write_study_export(study, store, self.folder)
                write_package(study, self.folder / PACKAGE_FILE)
            except OSError as exc:
                log.warning("could not write the study export for the dataset: %s", exc.strerror)

    def push(self) -> None:
        """Upload now and wait for it (the scheduler also does this on its own timer and at exit)."""
        self.scheduler.trigger().result()

    def stop(self) -> None:
        """Stop the scheduler's timer (no further pushes)."""
        self.scheduler.stop()


class SyncedStore(SurveyStore):
    """A :class:`SurveyStore` that also appends each completed participant and each deletion to a sync.

    A participant is complete when their post-chat answers are saved (the handlers store metrics and
    demographics just before). The line is the participant's wide-file row plus ``event`` and
    ``synced_at``: the same columns as the codebook, nothing else (no IP address, no name).
    """

    def __init__(self, target: Path | str | Engine, study: Study, sync: RecordSync):
        super().__init__(target)
        self.study = study
        self.sync = sync

    def save_phase(self, study: Study, participant_id: str, phase: str, answers) -> None:
        """Store the phase; after the post-chat phase, append the participant's record."""
        super().save_phase(study, participant_id, phase, answers)
        if phase == "post":
            record = next((r for r in self.records() if r.participant_id == participant_id), None)
            if record is not None:
                row = wide_rows(study, [record])[0]
                self.sync.append({"event": "completed", "synced_at": utc_now(), **row})
            self.sync.write_export(study, self)

    def delete(self, code: str) -> bool:
        """Delete locally and append a tombstone, so the dataset copy can be dropped too.

        The tombstone is written for any well-formed code, even one the local file no longer holds: after a
        Space restart the local database may be gone while the dataset still has the record.
        """
        gone = super().delete(code)
        code = (code or "").strip().lower()
        if gone or _STUDY_ID.match(code):
            self.sync.append({"event": "deleted", "synced_at": utc_now(), "participant_id": code})
        if gone:
            self.sync.write_export(self.study, self)
        return gone


def open_store(
    target: Path | str,
    study: Study,
    *,
    dataset: str = "",
    folder: Path | None = None,
    every: float = 5,
    hf_api: Any = None,
    site: str = "",
) -> SurveyStore:
    """A plain :class:`SurveyStore`, or a :class:`SyncedStore` when ``dataset`` (a repo id) is set.

    ``target`` is a SQLite path or a database URL (``Settings.database``). The sync files go in ``folder``,
    by default ``hf-sync`` beside a SQLite file; a database URL has no such place, so it needs ``folder``.
    ``site`` puts them under ``sites/SITE/`` in the dataset (and in each record); "" at the dataset's root.
    """
    if not dataset:
        return SurveyStore(target)
    if folder is None:
        if "://" in str(target):
            raise ConfigError(
                f"Syncing to {dataset} with a database URL needs a folder for the sync files: "
                "pass folder=settings.hf_sync_dir."
            )
        folder = Path(target).parent / "hf-sync"
    sync = RecordSync(dataset, folder, every=every, hf_api=hf_api, site=site)
    return SyncedStore(target, study, sync)
