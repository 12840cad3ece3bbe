"""Factorial study designs: factors with levels in study.yaml, crossed into cells, balanced by blocked randomisation
over every cell, each level applied in the participant's chat, each factor a column of the wide export."""

import asyncio
import io
import json
import shutil
from collections import Counter
from pathlib import Path

import pandas as pd
import pytest
from gradio.state_holder import SessionState

from clone import backends
from clone.errors import SurveyError
from clone.survey import SurveyStore, codebook, load_study, wide_csv
from clone.survey.charts import readable
from clone.survey.design import parse_cell
from clone.survey.instruments import DEFAULT_STUDY
from clone.survey.package import study_package
from clone.ui import Screens, build_app
from clone.ui.page import avatar_path
from tests.conftest import RESEARCH_TOKEN
from tests.harness import race_replicas

WARM = "Sound warm and encouraging, like talking to a friend."
WARM_GREETING = "Hello, friend! So glad you dropped by."
PLAIN = "This is an AI, a computer program. It is not {name}."

DESIGN = f"""
factors:
  citations: [shown, hidden]
  tone: [default, warm]
  avatar: [shown, hidden]
  backend: [extractive, echo]
  disclosure: [standard, plain]
tones:
  warm: {{line: "{WARM}", greeting: "{WARM_GREETING}"}}
disclosures:
  plain: "{PLAIN}"
"""


class EchoBackend:
    """A backend that answers with the first sentence of the first passage, and keeps every request it got."""

    name = "echo"

    def __init__(self, settings):
        self.requests = []

    def stream(self, request):
        self.requests.append(request)
        yield request.passages[0].text.split(".")[0].strip() + ". [1]"


@pytest.fixture(autouse=True)
def echo_backend(monkeypatch):
    """A second registered backend for the backend factor (the registry is the one the app uses)."""
    monkeypatch.setitem(backends._REGISTRY, "echo", EchoBackend)


def factorial_study(
    folder: Path, design: str = DESIGN, *, block_repeats: int | None = None, checks: Path | None = None
) -> Path:
    """The bundled study, its conditions replaced by ``design`` (and its manipulation checks by ``checks``)."""
    shutil.copytree(DEFAULT_STUDY.parent, folder)
    if checks is not None:
        shutil.copy(checks, folder / "manipulation.yaml")
    path = folder / "study.yaml"
    text = path.read_text(encoding="utf-8")
    start, end = text.index("\nconditions:") + 1, text.index("# Optional questions")
    extra = f"block_repeats: {block_repeats}\n" if block_repeats else ""
    path.write_text(text[:start] + design.strip() + "\n" + extra + text[end:], encoding="utf-8")
    return path


def test_factors_cross_into_cells_with_what_each_level_means(tmp_path):
    study = load_study(factorial_study(tmp_path / "s"))
    assert len(study.conditions) == 2**5
    first, last = study.conditions[0], study.conditions[-1]
    assert first.id == "citations=shown|tone=default|avatar=shown|backend=extractive|disclosure=standard"
    assert last.id == "citations=hidden|tone=warm|avatar=hidden|backend=echo|disclosure=plain"
    assert (first.show_citations, first.show_avatar, first.backend, first.tone_line, first.disclosure) == (
        True, True, "extractive", "", ""
    )  # fmt: skip
    assert (last.show_citations, last.show_avatar, last.backend, last.tone_line, last.greeting, last.disclosure) == (
        False, False, "echo", WARM, WARM_GREETING, PLAIN
    )  # fmt: skip
    assert parse_cell(last.id) == last.levels == {
        "citations": "hidden", "tone": "warm", "avatar": "hidden", "backend": "echo", "disclosure": "plain"
    }  # fmt: skip
    # The package fixes the factors, every cell and the scheme.
    package = study_package(study)
    assert package["factors"]["backend"] == ["extractive", "echo"]
    assert len(package["conditions"]) == 32 and package["conditions"][-1]["disclosure"] == PLAIN
    assert (
        "citations (2) x tone (2) x avatar (2) x backend (2) x disclosure (2) = 32 cells twice"
        in (package["randomisation"]["conditions"])
    )
    assert package["study_yaml"]["tones"]["warm"]["line"] == WARM and "conditions" not in package["study_yaml"]


def test_the_default_study_keeps_its_two_conditions_and_its_package(tmp_path):
    study = load_study()
    assert [c.id for c in study.conditions] == ["citations_shown", "citations_hidden"] and study.factors == {}
    package = study_package(study)
    assert package["conditions"] == [
        {"id": "citations_shown", "show_citations": True},
        {"id": "citations_hidden", "show_citations": False},
    ]
    assert "factors" not in package and "block_repeats" not in package["study_yaml"]
    assert not any(c.column.startswith("factor_") for c in codebook(study))


@pytest.mark.parametrize(
    "design, problem",
    [
        ("factors: {disclosure: [standard, none]}\ndisclosures: {none: ''}", "non-empty and say 'AI'"),
        ("factors: {disclosure: [standard, vague]}\ndisclosures: {vague: 'A helper made by {name}.'}", "say 'AI'"),
        ("factors: {disclosure: [standard, gone]}", r"unknown levels \['gone'\].*disclosures:"),
        ("factors: {tone: [default, cold]}", r"unknown levels \['cold'\].*tones:"),
        ("factors: {avatar: [shown, blurred]}", r"unknown levels \['blurred'\]"),
        ("factors: {mood: [a, b]}", "unknown factor 'mood'"),
        ("factors: {avatar: [on, off]}", "YAML reads on, off, yes and no as true or false"),
        ("factors: {tone: [Warm]}", "must be a lower-case name"),
        ("factors: {citations: [shown, shown]}", "distinct levels"),
        ("factors: {citations: [shown, hidden]}\nconditions: [{id: a}]", "not both"),
        ("factors: {tone: [default]}\ntones: {default: {line: x}}", "cannot redefine 'default'"),
    ],
)
def test_a_bad_design_is_refused_with_the_reason(tmp_path, design, problem):
    with pytest.raises(SurveyError, match=problem):
        load_study(factorial_study(tmp_path / "s", design))


def test_a_backend_level_must_be_a_registered_backend(tmp_path):
    with pytest.raises(SurveyError, match=r"factor backend has unknown levels \['gpt9'\].*extractive"):
        load_study(factorial_study(tmp_path / "s", "factors: {backend: [extractive, gpt9]}"))


def test_randomisation_balances_every_cell_in_every_block(tmp_path, database):
    design = "factors:\n  citations: [shown, hidden]\n  avatar: [shown, hidden]\n  tone: [default]"
    study = load_study(factorial_study(tmp_path / "s", design, block_repeats=1))
    store = SurveyStore(database)
    cells = [c.id for c in study.conditions]
    assert cells == [
        "citations=shown|avatar=shown|tone=default",
        "citations=shown|avatar=hidden|tone=default",
        "citations=hidden|avatar=shown|tone=default",
        "citations=hidden|avatar=hidden|tone=default",
    ]
    got = [
        store.assign(
            study, consent_version="1", transcript_opt_in=False, persona_id="p", app_version="1", backend="extractive"
        ).condition
        for _ in range(4 * 10)
    ]
    for block in range(10):  # blocks of one of each cell
        assert Counter(got[block * 4 : (block + 1) * 4]) == {c: 1 for c in cells}
    assert [r.condition for r in store.assignments()] == got


def test_two_replicas_assigning_at_once_keep_every_block_balanced_over_the_cells(tmp_path, database):
    design = "factors:\n  citations: [shown, hidden]\n  avatar: [shown, hidden]"
    path = factorial_study(tmp_path / "s", design, block_repeats=1)
    SurveyStore(database)  # the schema exists before the race, as after a first deploy
    ids = [i for got in race_replicas(database, tmp_path, 10, path) for i in got]
    log = SurveyStore(database).assignments()
    assert len(ids) == len(set(ids)) == 80 and sorted(r.participant_id for r in log) == sorted(ids)
    cells = [c.id for c in load_study(path).conditions]
    for block in range(1, 21):  # 80 participants, blocks of the 4 cells once each
        assert sorted(r.condition for r in log if r.block == block) == sorted(cells)


def test_each_factor_is_a_column_of_the_wide_export_and_codebook(tmp_path):
    study = load_study(factorial_study(tmp_path / "s"))
    store = SurveyStore(tmp_path / "survey.db")
    one = study.model_copy(update={"conditions": [study.conditions[-1]]})
    a = store.assign(
        one, consent_version="1", transcript_opt_in=False, persona_id="p", app_version="1", backend="extractive"
    )
    text = wide_csv(study, store.records())
    header = text.split("\r\n", 1)[0]
    assert header.startswith(
        "participant_id,study,study_version,study_package_sha256,condition,factor_citations,factor_tone,"
        "factor_avatar,factor_backend,factor_disclosure,consent_version,"
    )
    row = pd.read_csv(io.StringIO(text), dtype=str).iloc[0]
    assert row.condition == a.condition == study.conditions[-1].id
    assert (row.factor_citations, row.factor_tone, row.factor_avatar, row.factor_backend, row.factor_disclosure) == (
        "hidden", "warm", "hidden", "echo", "plain"
    )  # fmt: skip
    assert row.backend == "echo"  # the backend that answered this participant: their cell's
    entries = {e.column: e for e in codebook(study)}
    assert entries["factor_tone"].anchors == "default; warm" and "factor tone" in entries["factor_tone"].label
    assert "Cell of the factorial design" in entries["condition"].label


def _participant_in(screens: Screens, study, levels: dict[str, str]) -> dict:
    """Put the services on ``study``, restricted to the first cell with ``levels``, and consent: the survey's state."""
    cell = next(c for c in study.conditions if all(c.levels[k] == v for k, v in levels.items()))
    screens.services.study = study.model_copy(update={"conditions": [cell]})
    state, *_ = screens.survey.consent(True, False, None)
    assert state["participant"]["condition"] == cell.id
    return state


@pytest.fixture
def factorial(tmp_path):
    return load_study(factorial_study(tmp_path / "s"))


@pytest.mark.parametrize("shown", [True, False])
def test_the_chat_shows_or_hides_citations_by_level(screens, factorial, shown):
    state = _participant_in(screens, factorial, {"citations": "shown" if shown else "hidden", "backend": "extractive"})
    *_, (chat, _, _) = screens.chat.respond("How big is your balcony?", [], None, state)
    assert ("**Sources**" in chat[-1]["content"]) is shown
    assert "AI-generated reply" in chat[-1]["content"]  # the AI mark is in every cell


def test_the_cells_backend_answers_the_participant(screens, factorial):
    state = _participant_in(screens, factorial, {"backend": "echo", "tone": "default"})
    *_, (chat, _, _) = screens.chat.respond("How big is your balcony?", [], None, state)
    echo = screens.services.clone.backend_named("echo")
    assert len(echo.requests) == 1 and "balcony" in echo.requests[0].question
    assert screens.services.store.records()[0].backend == "echo"
    # Someone who is not a participant still gets the deployment's backend.
    *_, (chat, _, _) = screens.chat.respond("How big is your balcony?", [], None, None)
    assert len(echo.requests) == 1


@pytest.mark.parametrize("tone, line", [("warm", WARM), ("default", "")])
def test_the_tone_level_adds_its_line_to_the_persona_prompt(screens, factorial, tone, line):
    state = _participant_in(screens, factorial, {"backend": "echo", "tone": tone})
    list(screens.chat.respond("How big is your balcony?", [], None, state))
    (request,) = screens.services.clone.backend_named("echo").requests
    persona = screens.services.persona
    assert request.persona.tone == f"{persona.tone} {line}".strip()
    assert persona.tone.endswith(".") and WARM not in persona.tone  # the shared persona is untouched


def _open(screens, state) -> list:
    """Run the chat's opening through the real app's event (as Gradio does after consent)."""
    app = build_app(screens.services)
    (fn,) = [f for f in app.fns.values() if getattr(f.fn, "__name__", "") == "opening"]
    session = SessionState(app)
    session[fn.inputs[0]._id] = state  # the survey's state, as the consent step left it on the server
    out = asyncio.run(app.process_api(block_fn=fn, inputs=[None], state=session))
    chatbot, chat_session = fn.outputs
    return out["data"][0], session[chat_session._id]


@pytest.mark.parametrize("shown", [True, False])
def test_the_avatar_level_shows_or_hides_the_creators_picture(screens, factorial, shown):
    assert avatar_path(screens.services.settings)  # the demo creator has one
    state = _participant_in(screens, factorial, {"avatar": "shown" if shown else "hidden"})
    chatbot, _ = screens.chat.opening(state)
    assert (chatbot["avatar_images"][1] is not None) is shown
    update, session = _open(screens, state)
    assert (update["avatar_images"][1] is not None) is shown
    assert session == {"history": [], "disclosed_at": None, "turns": 0}  # a fresh chat session


def test_the_disclosure_level_words_the_opening_and_the_reminders(screens, factorial):
    name = screens.services.persona.name
    state = _participant_in(screens, factorial, {"disclosure": "plain", "tone": "warm", "backend": "extractive"})
    update, _ = _open(screens, state)
    texts = [m["content"][0]["text"] for m in update["value"]]
    assert texts == [PLAIN.replace("{name}", name), WARM_GREETING]
    due = {"history": [], "disclosed_at": None, "turns": 10**6}
    *_, (chat, _, _) = screens.chat.respond("How big is your balcony?", [], due, state)
    assert chat[1]["content"] == f"*Reminder:* This is an AI, a computer program. It is not {name}."
    # The standard wording in a standard cell.
    state = _participant_in(screens, factorial, {"disclosure": "standard", "tone": "default", "backend": "extractive"})
    chatbot, _ = screens.chat.opening(state)
    assert f"AI clone of {name}" in chatbot["value"][0]["content"]
    assert chatbot["value"][1]["content"] == screens.services.persona.greeting


def test_the_opening_changes_nothing_for_someone_not_just_consented(screens):
    assert screens.chat.opening(None) == ({"__type__": "update"}, {"__type__": "update"})
    state, *_ = screens.survey.consent(True, False, None)
    state, *_ = screens.survey.submit_pre(
        state, *[c.question.item.attention or 4 for c in screens.services.study.columns("pre")]
    )
    assert screens.chat.opening(state)[0] == {"__type__": "update"}


def test_a_conditions_list_still_runs_as_one_factor(screens):
    state, *_ = screens.survey.consent(True, False, None)
    cell = screens.services.study.condition(state["participant"]["condition"])
    assert cell.id in {"citations_shown", "citations_hidden"} and cell.levels == {}
    chatbot, _ = screens.chat.opening(state)
    assert chatbot["avatar_images"][1] is not None and "AI clone of" in chatbot["value"][0]["content"]
    assert json.loads(json.dumps(state))  # the survey state stays plain data


def test_the_console_names_the_factors_and_the_cells_in_words(screens, factorial):
    assert readable("citations=hidden|tone=warm") == "Citations hidden, tone warm"
    assert readable("citations_hidden") == "Citations hidden"
    state = _participant_in(screens, factorial, {"tone": "warm", "backend": "extractive"})
    assert state["participant"]["id"]
    screens.services.study = factorial  # the whole design again, as the app runs it
    status = screens.research.status(RESEARCH_TOKEN)
    assert "Factors: citations (shown, hidden) x tone (default, warm) x avatar (shown, hidden) x backend " in status
    assert "32 cells" in status and "1 participants" in status
    assert "| Citations shown, tone warm, avatar shown, backend extractive, disclosure standard |" in status


def test_a_manipulation_check_on_the_avatar_is_scored_by_cell(tmp_path):
    path = factorial_study(tmp_path / "s", "factors: {avatar: [shown, hidden]}")
    checks = path.parent / "manipulation.yaml"
    checks.write_text(checks.read_text(encoding="utf-8").replace("show_citations", "show_avatar"), encoding="utf-8")
    study = load_study(path)
    (column,) = [c for c in study.columns("post") if c.question.item.manipulation == "show_avatar"]
    scale = column.instrument.scale
    assert study.as_expected(column.question, scale, "avatar=shown", scale.max) == 1
    assert study.as_expected(column.question, scale, "avatar=hidden", scale.max) == 0
    # Without an avatar factor the setting is not there to check.
    with pytest.raises(SurveyError, match="checks 'show_avatar'"):
        load_study(factorial_study(tmp_path / "t", "factors: {citations: [shown, hidden]}", checks=checks))
