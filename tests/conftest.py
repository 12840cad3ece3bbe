"""Shared fixtures. Every test gets its own CLONE_HOME under tmp_path; the demo index is built
once per session with the real embedding model and copied into each home that needs it."""

from __future__ import annotations

import json
import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from clone import db
from clone.config import DEMO_CREATOR_DIR, Settings, load_settings
from clone.index import ensure_index
from clone.pipeline import Clone
from clone.services import Services
from clone.ui import Screens
from tests.harness import serving_app

DATA = Path(__file__).parent / "data"
DEMO_CONTENT = DEMO_CREATOR_DIR / "content"
RESEARCH_TOKEN = "test-research-token-0123456789"
CREATOR_TOKEN = "test-creator-token-0123456789"
# A PostgreSQL URL whose role may CREATE DATABASE; each test gets a fresh database made from it.
TEST_DATABASE_URL = "CLONE_TEST_DATABASE_URL"


def make_settings(home: Path, **env: str) -> Settings:
    """Settings from an explicit environment only (no .env, no os.environ), on the offline backend."""
    return load_settings({"CLONE_HOME": str(home), "CLONE_BACKEND": "extractive", **env}, dotenv=False)


@pytest.fixture(scope="session")
def demo_index_home(tmp_path_factory) -> Path:
    """A home holding the demo creator's index, built once for the whole session."""
    home = tmp_path_factory.mktemp("demo-index-home")
    ensure_index(DEMO_CONTENT, make_settings(home))
    return home


@pytest.fixture
def settings(tmp_path) -> Settings:
    """Settings with a fresh home inside this test's tmp_path, both console tokens set."""
    return make_settings(tmp_path / "home", CLONE_RESEARCH_TOKEN=RESEARCH_TOKEN, CLONE_CREATOR_TOKEN=CREATOR_TOKEN)


@pytest.fixture
def demo_clone(settings, demo_index_home) -> Clone:
    """The demo creator's clone, its index copied into this test's home."""
    shutil.copytree(demo_index_home / "index", settings.index_dir)
    return Clone.from_settings(settings)


def open_services(settings: Settings, demo_index_home: Path) -> Services:
    """The demo creator's services (clone, study, stores) in ``settings.home``, the demo index copied in."""
    shutil.copytree(demo_index_home / "index", settings.index_dir, dirs_exist_ok=True)
    return Services.open(settings)


def services_for(clone: Clone, settings: Settings) -> Services:
    """Services around a clone the test built itself (say over another content folder): the demo persona's
    consent, the study of ``settings`` and fresh stores in its home."""
    from clone.analytics import EventLog
    from clone.inbox import InboxStore
    from clone.survey import SurveyStore, load_study
    from clone.trust.consent import verify_consent

    consent = verify_consent(DEMO_CREATOR_DIR, clone.persona)
    study = load_study(settings.study_file)
    db_target = settings.database
    return Services(
        settings,
        clone.persona,
        consent,
        clone,
        study,
        SurveyStore(db_target),
        InboxStore(db_target),
        EventLog(db_target),
    )


@pytest.fixture
def services(settings, demo_index_home) -> Services:
    """The demo creator's services, as the app opens them, in this test's home."""
    return open_services(settings, demo_index_home)


@pytest.fixture
def screens(services) -> Screens:
    """Every screen's handlers over :func:`services`: what the app's events call."""
    return Screens.of(services)


@pytest.fixture(scope="session")
def demo_questions() -> list[dict]:
    """The demo creator's question set."""
    lines = (DATA / "demo_questions.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


@pytest.fixture(scope="session")
def app_server(tmp_path_factory, demo_index_home):
    """``python app.py`` running on 127.0.0.1 with the demo creator; yields (url, home)."""
    home = tmp_path_factory.mktemp("server-home")
    shutil.copytree(demo_index_home / "index", home / "index")
    with serving_app(
        home,
        home / "server.log",
        CLONE_RESEARCH_TOKEN=RESEARCH_TOKEN,
        CLONE_CREATOR_TOKEN=CREATOR_TOKEN,
        CLONE_BACKEND="extractive",  # the offline default, whatever keys this machine has
    ) as url:
        yield url, home


@pytest.fixture
def tiny_content(tmp_path) -> Path:
    """A small content folder written by the test, for a creator unlike the demo one."""
    folder = tmp_path / "content"
    folder.mkdir()
    (folder / "bread.md").write_text(
        "---\ntitle: Sourdough basics\nurl: https://example.com/bread\nkind: video\n---\n"
        "I feed my sourdough starter with rye flour every morning at seven. "
        "My starter is called Bubbles and it lives on top of the fridge where it stays warm. "
        "I bake the loaf in a cast iron pot at 250 degrees for the first twenty minutes with the lid on.\n",
        encoding="utf-8",
    )
    (folder / "bikes.txt").write_text(
        "I ride a green steel touring bicycle to the market on Saturdays. "
        "I replaced the chain last spring after four thousand kilometres of riding. "
        "Panniers are better than a backpack because your back stays dry.\n",
        encoding="utf-8",
    )
    return folder


def clone_over(content: Path, settings: Settings) -> Clone:
    """The demo persona answering, with the offline backend, from another content folder."""
    from clone.backends import get_backend
    from clone.persona import load_persona

    kb = ensure_index(content, settings).kb
    return Clone(settings, load_persona(DEMO_CREATOR_DIR), kb, get_backend("extractive", settings), content)


# Fixtures that start the app in a process: every test using one is marked ``slow`` (``-m "not slow"`` skips them).
_SERVER_FIXTURES = {"app_server", "server", "roomy_server", "slow_app"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark the tests that start a server process ``slow``, beside those marked by hand (model exports)."""
    for item in items:
        if _SERVER_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)


@pytest.fixture(autouse=True)
def _dispose_engines() -> Iterator[None]:
    """Close every pooled database connection after each test, so open files and server sessions never pile up."""
    yield
    db.dispose_all()


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request, tmp_path) -> Iterator[str | Path]:
    """A fresh, empty database for one test, once per kind: a SQLite file under tmp_path, or a new PostgreSQL
    database (created from ``CLONE_TEST_DATABASE_URL`` and dropped afterwards, so concurrent runs never meet).

    Without that variable the PostgreSQL case is skipped, except under CI (``CI`` set), where it fails.
    """
    if request.param == "sqlite":
        yield tmp_path / "database.sqlite3"
        return
    base = os.environ.get(TEST_DATABASE_URL, "").strip()
    if not base:
        why = (
            f"set {TEST_DATABASE_URL} to a PostgreSQL URL whose role has CREATEDB, e.g. "
            "postgresql+psycopg://clone:clone@127.0.0.1:5432/clone_test, to run the storage tests on PostgreSQL "
            "(.ci/run sets it)"
        )
        if os.environ.get("CI"):
            pytest.fail(f"CI is set but {TEST_DATABASE_URL} is not: {why}.")
        pytest.skip(why)
    yield from fresh_postgres_database(base)


def fresh_postgres_database(base: str) -> Iterator[str]:
    """Create an empty database beside ``base``'s, yield its URL, then drop it (and every session on it)."""
    url = make_url(db.database_url(base))
    name = f"{url.database}_{uuid.uuid4().hex[:12]}"
    admin = create_engine(url, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        try:
            yield url.set(database=name).render_as_string(hide_password=False)
        finally:
            db.dispose_all()  # this test's engines hold sessions on the database
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()
