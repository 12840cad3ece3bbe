"""The pandas and R examples in docs/researchers.md run, exactly as the page shows them, on a real export."""

from __future__ import annotations

import os
import random
import re
import shutil
import statistics
import subprocess
import sys
from pathlib import Path

import pytest

from clone.config import PROJECT_ROOT
from clone.survey import ChatMetrics, SurveyStore, load_study, write_study_export

PAGE = PROJECT_ROOT / "docs" / "researchers.md"
LEAD = "The exported files as they are, in pandas"
SHOWN, HIDDEN = "citations_shown", "citations_hidden"


def example(language: str) -> str:
    """The first ```language block after LEAD in docs/researchers.md, so the test runs what readers copy."""
    text = PAGE.read_text(encoding="utf-8")
    assert LEAD in text, f"docs/researchers.md no longer has the sentence {LEAD!r}"
    found = re.search(rf"^```{language}\n(.*?)^```$", text[text.index(LEAD) :], re.S | re.M)
    assert found, f"no ```{language} block after {LEAD!r} in docs/researchers.md"
    return found.group(1)


def clamp(value: int) -> int:
    return max(1, min(7, value))


def take_part(store, study, rng: random.Random, *, finish: bool = True, attentive: bool = True) -> tuple[str, float]:
    """One participant through the study as the survey screens record it; returns (condition, post trust mean).

    Trust after the chat is drawn around the pre-chat answers, higher where citations were shown, so the
    groups differ and vary within themselves.
    """
    a = store.assign(
        study, consent_version="2", transcript_opt_in=False, persona_id="demo", app_version="9", backend="extractive"
    )
    pid, shown = a.participant_id, a.condition == SHOWN
    pre = {}
    for c in study.columns("pre"):
        pre[c.question.column] = clamp(rng.randint(2, 6))
    store.save_phase(study, pid, "pre", pre)
    reply = f"{rng.randrange(16**16):016X}"
    store.reply_given(pid, reply)
    store.rate(pid, reply, rng.choice(["up", "down"]), "")
    store.source_clicked(pid, "https://example.com/post")
    store.step_done(pid, "chat")
    if not finish:
        return a.condition, float("nan")
    post, trust = {}, []
    for c in study.columns("post"):
        q = c.question
        if q.item.attention is not None:
            value = q.item.attention if attentive else 5
        elif c.instrument.id == "stias":
            value = clamp(pre[q.column] + rng.choice([0, 1, 2] if shown else [-2, -1, 0]))
            trust.append(value)
        else:
            value = rng.randint(c.instrument.scale.min, c.instrument.scale.max)
        post[q.column] = value
    store.finish(study, pid, chat=ChatMetrics(turns=2, seconds=40.0))
    store.save_phase(study, pid, "post", post)
    return a.condition, round(sum(trust) / len(trust), 4)


def welch_t(a: list[float], b: list[float]) -> float:
    return (statistics.mean(a) - statistics.mean(b)) / (
        statistics.variance(a) / len(a) + statistics.variance(b) / len(b)
    ) ** 0.5


@pytest.fixture(scope="module")
def export(tmp_path_factory) -> tuple[Path, dict[str, list[float]]]:
    """A real export of the default study: 16 finished, attentive participants (8 per condition), one who failed
    the attention check and one who never finished; returns the folder and the kept trust scores by condition."""
    folder = tmp_path_factory.mktemp("export")
    study = load_study()
    assert {c.id for c in study.conditions} == {SHOWN, HIDDEN}
    store = SurveyStore(folder / "survey.sqlite3")
    rng = random.Random(20261201)
    kept: dict[str, list[float]] = {SHOWN: [], HIDDEN: []}
    for _ in range(16):
        condition, trust = take_part(store, study, rng)
        kept[condition].append(trust)
    take_part(store, study, rng, attentive=False)
    take_part(store, study, rng, finish=False)
    written = write_study_export(study, store, folder)  # what the researcher console's export button writes
    assert {p.name for p in written} >= {"study-wide.csv", "study-long.csv"}
    assert [len(v) for v in kept.values()] == [8, 8]
    return folder, kept


def run(command: list[str], cwd: Path) -> str:
    done = subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, f"{command[0]} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}"
    return done.stdout


def test_the_pandas_example_runs_on_the_export(export):
    folder, kept = export
    out = run([sys.executable, "-c", example("python")], folder)
    # The per-item means read from the long file, then the kept participants per condition, then Welch's t-test.
    for condition in (HIDDEN, SHOWN):
        assert re.search(rf"^{condition}\s+post\s+attention\s+[\d.]+$", out, re.M), out
    assert len(re.findall(r"^\s+pre\s+stias\s+[\d.]+$", out, re.M)) == 2, out
    counts = dict(re.findall(rf"^({HIDDEN}|{SHOWN})\s+\S+\s+\S+\s+(\d+)\s*$", out, re.M))
    assert counts == {HIDDEN: "8", SHOWN: "8"}, out  # the dropout and the failed attention check are left out
    t = re.search(r"statistic=(?:np\.float64\()?(-?[\d.]+)", out)
    assert t, out
    # groupby sorts the conditions, so a is citations_hidden and b citations_shown.
    assert float(t.group(1)) == pytest.approx(welch_t(kept[HIDDEN], kept[SHOWN]), rel=1e-6)
    assert float(t.group(1)) < 0 and "pvalue=" in out


def test_the_r_example_runs_on_the_export(export, tmp_path):
    rscript = shutil.which("Rscript")
    if rscript is None:
        why = "Rscript is not on PATH: install R (Debian: apt-get install r-base-core) to run the R example"
        if os.environ.get("CI"):
            pytest.fail(f"CI is set but {why}; .ci/run installs it.")
        pytest.skip(why)
    folder, kept = export
    script = tmp_path / "example.R"
    script.write_text(example("r"), encoding="utf-8")
    out = run([rscript, "--vanilla", str(script)], folder)
    assert re.search(rf"^\d+\s+{HIDDEN}\s", out, re.M) and re.search(rf"^\d+\s+{SHOWN}\s", out, re.M), out
    assert "Welch Two Sample t-test" in out, out
    t = re.search(r"t = (-?[\d.]+), df = ([\d.]+)", out)
    assert t, out
    # R orders the factor's levels alphabetically too: citations_hidden minus citations_shown.
    assert float(t.group(1)) == pytest.approx(welch_t(kept[HIDDEN], kept[SHOWN]), abs=1e-3)
    # The ANCOVA: the condition's effect beside the pre-chat trust, fitted on 16 people (16 - 3 = 13 df).
    assert re.search(rf"^condition{SHOWN}\s+-?[\d.]", out, re.M) and "stias_trust_mean_pre" in out, out
    assert "on 13 degrees of freedom" in out, out
