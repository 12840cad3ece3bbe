"""`python -m clone study simulate` against a real app server: simulated participants go through the public API,
are marked, stay out of the data unless asked for, and the pilot's export is covered by the codebook."""

from __future__ import annotations

import csv
import io
import json
import re
import shutil
import urllib.request

import pytest
from click.testing import CliRunner

from clone.cli import cli
from tests.conftest import CREATOR_TOKEN, RESEARCH_TOKEN
from tests.harness import free_port, gradio_call, serving_app


@pytest.fixture(scope="module")
def server(tmp_path_factory, demo_index_home):
    """The demo app on its own home (so other tests' participants never mix in); yields its URL."""
    home = tmp_path_factory.mktemp("simulate-home")
    shutil.copytree(demo_index_home / "index", home / "index")
    with serving_app(
        home, home / "server.log", CLONE_RESEARCH_TOKEN=RESEARCH_TOKEN, CLONE_CREATOR_TOKEN=CREATOR_TOKEN
    ) as url:
        yield url


def export(url: str, name: str, include: bool = False) -> str:
    query = "?include_simulated=1" if include else ""
    request = urllib.request.Request(
        f"{url}research/export/{name}{query}", headers={"Authorization": f"Bearer {RESEARCH_TOKEN}"}
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return response.read().decode("utf-8")


def table(text: str) -> list[dict]:
    return list(csv.DictReader(io.StringIO(text)))


def simulate(url: str, *args: str):
    return CliRunner().invoke(
        cli, ["study", "simulate", url, *args], env={"CLONE_RESEARCH_TOKEN": RESEARCH_TOKEN}, catch_exceptions=False
    )


def test_a_simulated_pilot_fills_an_export_the_codebook_covers(server):
    result = simulate(server, "--participants", "3", "--seed", "7")
    assert result.exit_code == 0, result.output
    lines = re.findall(
        r"participant \d/3: (p[0-9a-f]{16}), (\d+) replies, (\d+) rated, (\d+) source clicks", result.output
    )
    assert len(lines) == 3
    codes = [line[0] for line in lines]

    # Left out by default: the wide and long files hold no simulated participant.
    assert table(export(server, "wide.csv")) == [] and table(export(server, "long.csv")) == []
    wide = {r["participant_id"]: r for r in table(export(server, "wide.csv", include=True))}
    assert sorted(wide) == sorted(codes)
    for code, replies, rated, clicks in lines:
        row = wide[code]
        assert row["simulated"] == "1" and row["finished"] == "1" and row["chat_turns"] == replies == "3"
        assert int(row["feedback_up"]) + int(row["feedback_down"]) == int(rated)
        assert row["sources_clicked"] == clicks and row["seconds_post_page_1"] != ""
    # Column for column, the codebook describes the pilot's wide file.
    header = next(csv.reader(io.StringIO(export(server, "wide.csv", include=True))))
    assert header == [r["column"] for r in table(export(server, "codebook.csv"))]
    assert header == [c["column"] for c in json.loads(export(server, "codebook.json"))["columns"]]
    simulated = next(r for r in table(export(server, "codebook.csv")) if r["column"] == "simulated")
    assert "study simulate" in simulated["label"]
    long = table(export(server, "long.csv", include=True))
    ratings = [r for r in long if r["phase"] == "chat" and r["instrument"] == "feedback"]
    assert len(ratings) == sum(int(line[2]) for line in lines) > 0
    assert {r["value"] for r in ratings} <= {"up", "down"}
    assert len([r for r in long if r["instrument"] == "source_click"]) == sum(int(line[3]) for line in lines)

    # The same seed draws the same answers.
    again = simulate(server, "--participants", "1", "--seed", "7")
    assert again.exit_code == 0, again.output
    rows = {r["participant_id"]: r for r in table(export(server, "wide.csv", include=True))}
    first, repeat = rows[codes[0]], rows[re.search(r"(p[0-9a-f]{16})", again.output).group(1)]
    items = [c for c in header if c.endswith("_pre") and not c.endswith("_mean_pre")]
    assert [first[c] for c in items] == [repeat[c] for c in items]


def test_only_the_research_token_marks_a_participant_simulated(server):
    refused = simulate_with(server, "not-the-token")
    assert refused.exit_code == 1 and "need the research token" in refused.output
    # A person's consent (no token) is a real participant, whatever they send.
    event, outputs = gradio_call(server, "consent", [True, False])
    assert event == "complete" and outputs[3] == "Thank you for taking part."
    people = table(export(server, "wide.csv"))
    assert len(people) == 1 and people[0]["simulated"] == "0"


def simulate_with(url: str, token: str):
    return CliRunner().invoke(cli, ["study", "simulate", url, "-n", "1", "--token", token], env={})


def test_feedback_over_http_takes_only_this_clones_receipts(server):
    event, reply = gradio_call(server, "chat", ["How big is your balcony?"])
    assert event == "complete"
    receipt = reply[0]["receipt"]["receipt"]
    event, done = gradio_call(server, "feedback", [receipt, "up", "Helpful"])
    assert event == "complete" and done[0]["reply"] == reply[0]["receipt"]["code"] and done[0]["rating"] == "up"
    body, signature = receipt.split(".")
    altered = body[:-2] + ("A" if body[-2] != "A" else "B") + body[-1] + "." + signature
    event, said = gradio_call(server, "feedback", [altered, "down", ""])
    assert event == "error" and "cannot be confirmed" in said


def test_simulate_says_what_is_wrong_without_a_token_or_an_app():
    runner = CliRunner()
    no_token = runner.invoke(
        cli, ["study", "simulate", "http://127.0.0.1:9/", "-n", "1"], env={"CLONE_RESEARCH_TOKEN": ""}
    )
    assert no_token.exit_code == 1 and "need the research token" in no_token.output
    nobody = simulate_with(f"http://127.0.0.1:{free_port()}/", RESEARCH_TOKEN)
    assert nobody.exit_code == 1 and "Cannot reach the app" in nobody.output
