"""Pooling across creators: sites sync to one dataset under sites/SITE/ (over a fake HfApi, the network edge), and
`python -m clone study pool FOLDER --out DIR` merges their exports under one codebook, refusing a site that ran a
different study package."""

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from clone.cli import cli
from clone.config import load_settings
from clone.errors import ConfigError
from clone.survey import load_study
from clone.survey.instruments import DEFAULT_STUDY
from clone.survey.package import package_sha256
from clone.survey.sync import open_store
from tests.test_hf_sync import FakeHfApi, complete

DATASET = "team/clone-study"


def run_site(tmp_path: Path, api: FakeHfApi, site: str, study, participants: int) -> list[str]:
    """A deployment with its own database that syncs to the shared dataset: ``participants`` complete the study,
    one more drops out after consent, then it pushes. Returns the ids of those who completed."""
    home = tmp_path / site
    store = open_store(home / "survey.db", study, dataset=DATASET, folder=home / "hf-sync", hf_api=api, site=site)
    try:
        done = [complete(store, study) for _ in range(participants)]
        store.assign(
            study, consent_version="1", transcript_opt_in=False, persona_id=site, app_version="9", backend="extractive"
        )
        gone = complete(store, study)
        assert store.delete(gone)  # a withdrawal: the site's export is written again without them
        store.sync.push()
    finally:
        store.sync.stop()
    return done


def snapshot(api: FakeHfApi, folder: Path) -> Path:
    """The dataset as a download of it gives it: every file at its path in the repo."""
    for path, data in api.files.items():
        (folder / path).parent.mkdir(parents=True, exist_ok=True)
        (folder / path).write_bytes(data)
    return folder


@pytest.fixture
def study():
    return load_study()


@pytest.fixture
def other_study(tmp_path):
    """The same study, one setting changed: another package."""
    folder = tmp_path / "other-study"
    shutil.copytree(DEFAULT_STUDY.parent, folder)
    path = folder / "study.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace("min_turns: 1", "min_turns: 3"), encoding="utf-8")
    return load_study(path)


def pool(*args: str):
    return CliRunner().invoke(cli, ["study", "pool", *map(str, args)])


def test_each_site_syncs_under_its_own_path_with_its_name_on_every_record(tmp_path, study):
    api = FakeHfApi()
    alpha = run_site(tmp_path, api, "alpha", study, 1)
    beta = run_site(tmp_path, api, "beta", study, 1)
    paths = sorted(api.files)
    for site in ("alpha", "beta"):
        mine = [p for p in paths if p.startswith(f"sites/{site}/")]
        assert {p.rsplit("/", 1)[1] for p in mine} >= {
            "study-wide.csv", "study-long.csv", "study-codebook.csv", "study-codebook.json", "study-package.json"
        }  # fmt: skip
        (records,) = [p for p in mine if p.endswith(".jsonl")]
        lines = [json.loads(line) for line in api.files[records].decode().splitlines()]
        assert {line["site"] for line in lines} == {site}
        assert [line["event"] for line in lines] == ["completed", "completed", "deleted"]
    assert all(p.startswith("sites/") for p in paths)  # nothing at the root for two sites to overwrite
    wide = api.files["sites/alpha/study-wide.csv"].decode()
    assert alpha[0] in wide and beta[0] not in wide
    assert api.files["sites/alpha/study-package.json"] == api.files["sites/beta/study-package.json"]


def test_two_sites_pool_into_one_dataset_byte_for_byte(tmp_path, study):
    api = FakeHfApi()
    alpha = run_site(tmp_path, api, "alpha", study, 2)
    beta = run_site(tmp_path, api, "beta", study, 1)
    folder = snapshot(api, tmp_path / "download")
    out = tmp_path / "pooled"
    result = pool(folder, "--out", out)
    assert result.exit_code == 0, result.output
    assert "Pooled 5 participants from 2 sites: alpha (3), beta (2)." in result.output
    site = {s: (folder / "sites" / s / "study-wide.csv").read_bytes() for s in ("alpha", "beta")}
    wide = (out / "pooled-wide.csv").read_bytes()
    header, *rows = wide.split(b"\r\n")
    assert header == b"site," + site["alpha"].split(b"\r\n")[0] == b"site," + site["beta"].split(b"\r\n")[0]
    assert header.startswith(b"site,participant_id,study,study_version,study_package_sha256,condition,")
    # Every site's row, byte for byte behind its site's name: alpha's first, then beta's.
    body = lambda data: data.split(b"\r\n", 1)[1]  # noqa: E731
    expected = b"".join(b"alpha," + line + b"\r\n" for line in body(site["alpha"]).split(b"\r\n")[:-1]) + b"".join(
        b"beta," + line + b"\r\n" for line in body(site["beta"]).split(b"\r\n")[:-1]
    )
    assert body(wide) == expected and len(rows) == 5 + 1  # five rows and the empty tail after the last CRLF
    ids = [row.split(b",")[1].decode() for row in rows[:-1]]
    assert set(alpha) | set(beta) <= set(ids) and len(set(ids)) == 5
    assert all(row.split(b",")[4].decode() == package_sha256(study) for row in rows[:-1])
    long = (out / "pooled-long.csv").read_bytes()
    assert long.startswith(b"site,participant_id,condition,phase,instrument,item,value\r\nalpha,p")
    assert long.count(b"\r\nbeta,") == (folder / "sites/beta/study-long.csv").read_bytes().count(b"\r\n") - 1
    # One codebook: the site column first, then the sites' own.
    codebook = (out / "pooled-codebook.csv").read_bytes()
    site_codebook = json.loads((folder / "sites/alpha/study-codebook.json").read_text())
    head, rest = (folder / "sites/alpha/study-codebook.csv").read_bytes().split(b"\r\n", 1)
    assert (
        head
        == b"column,label,type,instrument,subscale,phase,anchors,min,max,reverse,citation,validated,version,adaptation"
    )
    site_line = (
        b'site,"The deployment (site) where the participant took part: its CLONE_STUDY_SITE, by default the '
        b"creator's persona id\",string,,,,,,,,,,,\r\n"
    )
    assert codebook == head + b"\r\n" + site_line + rest
    pooled = json.loads((out / "pooled-codebook.json").read_text())
    assert pooled["sites"] == ["alpha", "beta"] and pooled["study_package_sha256"] == package_sha256(study)
    assert [c["column"] for c in pooled["columns"]] == ["site"] + [c["column"] for c in site_codebook["columns"]]
    assert (out / "study-package.json").read_bytes() == (folder / "sites/alpha/study-package.json").read_bytes()
    assert [c["column"] for c in pooled["columns"]] == header.decode().split(",")


def test_a_site_with_another_package_is_refused_by_name_and_nothing_is_written(tmp_path, study, other_study):
    api = FakeHfApi()
    run_site(tmp_path, api, "alpha", study, 1)
    run_site(tmp_path, api, "beta", study, 1)
    run_site(tmp_path, api, "gamma", other_study, 1)
    folder = snapshot(api, tmp_path / "download")
    out = tmp_path / "pooled"
    result = pool(folder, "--out", out)
    assert result.exit_code == 1
    assert "Error: Refused: site gamma ran a different study package" in result.output
    assert "Nothing was written" in result.output and "--exclude" in result.output
    assert not out.exists()
    # Left out by name, the others pool; with the other package named, only gamma fits and the rest are refused.
    assert pool(folder, "--out", out, "--exclude", "gamma").exit_code == 0
    assert b"\r\ngamma," not in (out / "pooled-wide.csv").read_bytes()
    package = tmp_path / "gamma-package.json"
    package.write_bytes((folder / "sites/gamma/study-package.json").read_bytes())
    result = pool(folder, "--out", tmp_path / "again", "--package", package)
    assert "Refused: sites alpha, beta ran a different study package" in result.output
    assert not (tmp_path / "again").exists()


def test_a_site_whose_rows_ran_another_package_is_refused(tmp_path, study):
    api = FakeHfApi()
    run_site(tmp_path, api, "alpha", study, 1)
    run_site(tmp_path, api, "beta", study, 1)
    folder = snapshot(api, tmp_path / "download")
    wide = folder / "sites/beta/study-wide.csv"
    wide.write_bytes(wide.read_bytes().replace(package_sha256(study).encode(), b"0" * 64, 1))
    result = pool(folder, "--out", tmp_path / "out")
    assert result.exit_code == 1 and "Refused: site beta ran a different study package" in result.output


def test_the_same_export_under_two_sites_is_refused(tmp_path, study):
    api = FakeHfApi()
    run_site(tmp_path, api, "alpha", study, 1)
    folder = snapshot(api, tmp_path / "download")
    shutil.copytree(folder / "sites/alpha", folder / "sites/copy")
    result = pool(folder, "--out", tmp_path / "out")
    assert result.exit_code == 1 and "in the exports of both alpha and copy" in result.output
    assert not (tmp_path / "out").exists()


def test_an_empty_folder_says_what_a_site_needs(tmp_path):
    (tmp_path / "empty").mkdir()
    result = pool(tmp_path / "empty", "--out", tmp_path / "out")
    assert result.exit_code == 1 and "No site exports under" in result.output and "study-wide.csv" in result.output


def test_the_site_setting_is_checked_and_defaults_to_the_persona(services, tmp_path):
    assert services.site == services.persona.id
    assert load_settings({"CLONE_STUDY_SITE": "Rosa-Garden"}, dotenv=False).study_site == "rosa-garden"
    with pytest.raises(ConfigError, match="CLONE_STUDY_SITE='../x' is not a site name"):
        load_settings({"CLONE_STUDY_SITE": "../x"}, dotenv=False)
