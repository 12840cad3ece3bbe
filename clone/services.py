"""The one place that wires the services: persona, consent, clone, study, survey store, inbox, events, keys.

The UI, the CLI, the tests and the benchmarks open them through :meth:`Services.open`; nothing else
constructs a store or a clone. Heavy parts (the index, the embedding model) load only here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from clone.analytics import EventLog
from clone.config import Settings, load_settings
from clone.inbox import InboxStore
from clone.ingest import SourceFile
from clone.persona import Persona, load_persona
from clone.pipeline import Clone
from clone.survey import Study, load_study
from clone.survey.store import SurveyStore
from clone.survey.sync import open_store
from clone.survey.tally import ChatTally
from clone.trust.consent import Consent
from clone.trust.receipts import Notary
from clone.trust.running import ConsentGuard, verify_for_serving


@dataclass
class Services:
    """Everything a running clone needs, opened once per process and shared by every screen."""

    settings: Settings
    persona: Persona
    consent: Consent
    clone: Clone
    study: Study
    store: SurveyStore
    inbox: InboxStore
    events: EventLog
    # Study participants' chat counts, kept on the server by participant id until they finish.
    tally: ChatTally = field(default_factory=ChatTally)

    @property
    def notary(self) -> Notary:
        """The deployment's receipt key (signs every reply)."""
        return self.clone.notary

    @classmethod
    def open(
        cls,
        settings: Settings | None = None,
        *,
        progress: Callable[[str], None] | None = None,
    ) -> Services:
        """Verify consent, build or reuse the index, open the databases.

        No valid, unexpired, matching consent manifest for at least one channel the app serves: no
        services (``ConsentError`` says how to make one). Channels it does not list stay closed while the
        app runs, and its expiry, revocation or removal is noticed while running (``ConsentGuard``).
        """
        settings = settings or load_settings()
        persona = load_persona(settings.creator_dir)
        trusted = settings.consent_public_key or None
        consent = verify_for_serving(settings.creator_dir, persona, trusted)
        # The inbox, the chat events and the survey share one database (DATABASE_URL, or the SQLite file).
        inbox = InboxStore(settings.database)
        events = EventLog(settings.database)
        # The creator's answers from the inbox are indexed with the content, so they survive a restart.
        clone = Clone.from_settings(
            settings,
            persona=persona,
            progress=progress,
            extra_documents=inbox.answer_documents,
            consent=ConsentGuard(settings.creator_dir, persona, trusted_key=trusted),
        )
        study = load_study(settings.study_file)
        for cell in study.conditions:  # a study's backend factor: every backend is built now (a missing key fails)
            clone.backend_named(cell.backend)
        # With CLONE_HF_DATASET set, completed records and deletions are also pushed to that dataset repo.
        store = open_store(
            settings.database,
            study,
            dataset=settings.hf_dataset,
            folder=settings.hf_sync_dir,
            every=settings.hf_sync_minutes,
            site=settings.study_site or persona.id,  # as Services.site
        )
        return cls(settings, persona, consent, clone, study, store, inbox, events)

    @staticmethod
    def published_answers(settings: Settings) -> list[SourceFile]:
        """The creator's published inbox answers, indexed with the content; none before any database exists
        (``python -m clone ingest`` on a fresh folder creates nothing)."""
        if not (settings.database_url or settings.survey_db.is_file()):
            return []
        return InboxStore(settings.database).answer_documents()

    @property
    def site(self) -> str:
        """This deployment's site in a pooled study: ``CLONE_STUDY_SITE``, or the persona's id."""
        return self.settings.study_site or self.persona.id

    @property
    def content_dir(self) -> Path:
        """The creator's content folder the index is built from."""
        return self.clone.content_dir
