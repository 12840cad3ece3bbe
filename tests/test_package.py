"""The preregistrable study package: `python -m clone study package CREATOR_DIR --out FILE.json`, its sha256 in
the researcher console and on every participant's row, and a loud warning when the study changed under them."""

import hashlib
import io
import json
import os
import shutil
import subprocess
import sys

import pandas as pd

from clone.config import DEMO_CREATOR_DIR, PROJECT_ROOT
from clone.survey import SurveyStore, load_study, wide_csv
from clone.survey.instruments import DEFAULT_STUDY, FULL_STUDY
from clone.survey.package import package_sha256, package_text
from tests.conftest import RESEARCH_TOKEN

DEMO_CREATOR = DEMO_CREATOR_DIR


def run_cli(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "clone", *args], capture_output=True, text=True, cwd=PROJECT_ROOT, env=env, timeout=120
    )


def copied_study(tmp_path):
    """A copy of the full battery (study_full.yaml) and its files."""
    folder = tmp_path / "instruments"
    shutil.copytree(DEFAULT_STUDY.parent, folder)
    return folder / FULL_STUDY.name


def test_the_package_fixes_every_file_by_hash_and_is_stable(tmp_path):
    study = load_study(FULL_STUDY)
    package = json.loads(package_text(study))
    assert package["study"] == {"id": study.id, "version": study.version}
    assert package["study_yaml"]["instruments"][0] == "trust_jian.yaml" and package["study_yaml"]["min_turns"] == 1
    files = {i["id"]: i for i in package["instruments"]}
    assert set(files) == {i.id for i in study.instruments}
    godspeed = files["godspeed"]
    assert godspeed["sha256"] == hashlib.sha256((DEFAULT_STUDY.parent / "godspeed.yaml").read_bytes()).hexdigest()
    assert godspeed["version"] == "1.0" and godspeed["validated"] is True and "Bartneck" in godspeed["citation"]
    assert package["consent"]["sha256"] == hashlib.sha256(study.consent_text.encode()).hexdigest()
    assert [c["id"] for c in package["conditions"]] == ["citations_shown", "citations_hidden"]
    assert package["randomisation"]["shuffle_blocks"] is False and "Blocked" in package["randomisation"]["conditions"]
    assert "exclusions" in package["analysis_plan"] and package["app_version"]
    # Nothing about a creator, and no panel completion code (a package is published).
    assert "persona" not in package_text(study) and "completion_code" not in package_text(study)
    assert package_sha256(load_study(FULL_STUDY)) == package_sha256(
        study
    )  # the same study: the same bytes, the same hash
    # Any change to any file the study is made of changes the hash.
    for name, old, new in [
        ("godspeed.yaml", "Fake", "Phony"),
        ("consent_v1.md", "study", "research"),
        ("study_full.yaml", "min_turns: 1", "min_turns: 2"),
        ("study_full.yaml", "  - godspeed.yaml", "  - {file: godspeed.yaml, shuffle_items: true}"),
    ]:
        path = copied_study(tmp_path / f"{name}-{new}")
        target = path.parent / name
        target.write_text(target.read_text(encoding="utf-8").replace(old, new, 1), encoding="utf-8")
        assert package_sha256(load_study(path)) != package_sha256(study), (name, new)
    # A site's own panel codes and links are not part of the design: same package, and never published.
    path = copied_study(tmp_path / "panel")
    text = path.read_text(encoding="utf-8").replace('completion_code: ""', "completion_code: C1ABC23")
    path.write_text(text, encoding="utf-8")
    assert package_sha256(load_study(path)) == package_sha256(study) and "C1ABC23" not in package_text(load_study(path))


def test_the_cli_writes_the_package_and_prints_its_hash(tmp_path):
    out = tmp_path / "prereg" / "package.json"
    done = run_cli("study", "package", str(DEMO_CREATOR), "--out", str(out))
    assert done.returncode == 0, done.stderr
    digest = hashlib.sha256(out.read_bytes()).hexdigest()
    assert f"sha256 {digest}" in done.stdout and digest == package_sha256(load_study())
    # The full battery is one setting away (CLONE_STUDY), and packages as itself.
    full = tmp_path / "full.json"
    chosen = run_cli(
        "study", "package", str(DEMO_CREATOR), "--out", str(full), env={**os.environ, "CLONE_STUDY": str(FULL_STUDY)}
    )
    assert chosen.returncode == 0 and json.loads(full.read_text())["study"]["id"] == "clone_reactions_study"
    # A broken study file is refused with the file's name, and nothing is written.
    bad = copied_study(tmp_path)
    bad.write_text(bad.read_text(encoding="utf-8").replace("min_turns: 1", "min_turns: many"), encoding="utf-8")
    other = tmp_path / "other.json"
    env = {**os.environ, "CLONE_STUDY": str(bad)}
    refused = run_cli("study", "package", str(DEMO_CREATOR), "--out", str(other), env=env)
    assert refused.returncode == 1 and "Error:" in refused.stderr and "min_turns" in refused.stderr
    assert not other.exists()


def test_every_participant_row_carries_the_hash_and_the_console_shows_it(screens, tmp_path):
    services = screens.services
    digest = package_sha256(services.study)
    for _ in range(2):
        screens.survey.consent(True, False, None)
    wide = pd.read_csv(io.StringIO(wide_csv(services.study, services.store.records())))
    assert list(wide.study_package_sha256) == [digest, digest]
    status = screens.research.status(RESEARCH_TOKEN)
    assert digest in status and "Warning" not in status
    # The study changes after the first participants: the console says so, loudly.
    path = copied_study(tmp_path)
    path.write_text(path.read_text(encoding="utf-8").replace("min_turns: 1", "min_turns: 3"), encoding="utf-8")
    services.study = load_study(path)
    screens.survey.consent(True, False, None)
    status = screens.research.status(RESEARCH_TOKEN)
    assert package_sha256(services.study) in status
    assert "**Warning: 2 participants took part under a different study package**" in status
    assert {r.study_package_sha256 for r in SurveyStore(services.store.engine).records()} == {
        digest,
        package_sha256(services.study),
    }
