"""Participants from a paid panel (Prolific, or any panel that adds ?pid=): counted once, their panel id kept only
as a keyed hash, and sent back with the panel's completion code, or to its screen-out page."""

import io
import shutil
import threading

import gradio as gr
import pandas as pd
import pytest
from sqlalchemy import text

from clone.errors import SurveyError
from clone.survey import SurveyStore, load_study, wide_csv
from clone.survey.export import codebook, codebook_json
from clone.survey.instruments import DEFAULT_STUDY, Panel
from clone.survey.panel import arrival, pid_hash

PROLIFIC = {"PROLIFIC_PID": "5f1e2d3c4b5a69788796a5b4", "STUDY_ID": "65aa00bb11cc22dd33ee44ff", "SESSION_ID": "s9"}
PANEL = Panel(
    completion_code="C1ABC23",
    completion_url="https://app.prolific.com/submissions/complete?cc={code}",
    screen_out_code="SCREENED",
    screen_out_url="https://app.prolific.com/submissions/complete?cc={code}",
)


def from_panel(query: dict) -> gr.Request:
    """The request of an event on a page opened with ``query`` (what Gradio hands the handler)."""
    return gr.Request(query_params=query)


def panel_screens(screens):
    screens.services.study = screens.services.study.model_copy(update={"panel": PANEL})
    return screens


def answers(study, phase: str, value: int = 4, attention_ok: bool = True) -> list:
    out = []
    for c in study.columns(phase):
        wanted = c.question.item.attention
        out.append(value if wanted is None else (wanted if attention_ok else wanted % 5 + 1))
    return out


def run_through(screens, request, attention_ok: bool = True) -> tuple:
    """Consent, pre-chat, one chat turn's worth of finishing, post-chat: the done step's outputs."""
    h, study = screens.survey, screens.services.study
    session, _c, pre_step, status, _a = h.consent(True, False, None, request)
    assert pre_step["visible"] is True, status
    session, *_ = h.submit_pre(session, *answers(study, "pre"))
    session["participant"]["stage"] = "post"  # the chat itself is covered elsewhere
    demo = [None] * len(study.demographics)
    return h.submit_post(session, *answers(study, "post", attention_ok=attention_ok), *demo)


def test_arrival_reads_each_panel_and_refuses_a_broken_id():
    assert arrival({}) is None and arrival(None) is None and arrival({"STUDY_ID": "x"}) is None
    a = arrival(PROLIFIC)
    assert (a.panel, a.pid, a.study_id) == ("prolific", PROLIFIC["PROLIFIC_PID"], PROLIFIC["STUDY_ID"])
    assert arrival({"pid": " abc-42 "}).panel == "other" and arrival({"pid": "abc-42"}).pid == "abc-42"
    for bad in ("", "a b", "x" * 129, "<script>", "1;DROP TABLE"):
        with pytest.raises(SurveyError, match="broken PROLIFIC_PID"):
            arrival({"PROLIFIC_PID": bad})
    # The hash is keyed: the same id under two studies' salts gives unrelated hashes.
    assert pid_hash("salt-a", "p1") != pid_hash("salt-b", "p1") == pid_hash("salt-b", "p1")


def test_panel_links_need_https_and_their_code(tmp_path):
    assert PANEL.link("completion") == "https://app.prolific.com/submissions/complete?cc=C1ABC23"
    assert Panel().link("completion") == ""
    for bad in (
        {"completion_url": "http://app.prolific.com/x"},
        {"completion_url": "javascript:alert(1)"},
        {"screen_out_url": "https://x/?cc={code}"},
        {"completion_code": "C1 ABC"},
    ):
        with pytest.raises(ValueError):
            Panel(**bad)
    folder = tmp_path / "instruments"
    shutil.copytree(DEFAULT_STUDY.parent, folder)
    study_file = folder / "study.yaml"
    yaml_text = study_file.read_text(encoding="utf-8")
    study_file.write_text(yaml_text.replace('completion_url: ""', 'completion_url: "ftp://x"'), encoding="utf-8")
    with pytest.raises(SurveyError, match="panel.completion_url"):
        load_study(study_file)


def test_a_panel_id_is_stored_only_as_a_keyed_hash_and_counted_once(database):
    store, study = SurveyStore(database), load_study()
    kw = dict(consent_version="1", transcript_opt_in=False, persona_id="demo", app_version="9", backend="extractive")
    first = store.assign(study, panel=arrival(PROLIFIC), **kw)
    with pytest.raises(SurveyError, match="already taken part"):
        store.assign(study, panel=arrival(PROLIFIC), **kw)
    store.assign(study, panel=arrival({"PROLIFIC_PID": "another0000000000000000a"}), **kw)
    store.assign(study, **kw)  # someone who came on their own
    # The refused one left nothing: no participant, no randomisation slot.
    assert len(store.records()) == 3 and len(store.assignments()) == 3
    with store.engine.connect() as conn:
        rows = conn.execute(text("SELECT panel, panel_study_id, panel_pid_hash FROM participants")).all()
        salt = conn.execute(text("SELECT salt FROM study_salts")).scalar()
    stored = " ".join(str(v) for row in rows for v in row)
    assert PROLIFIC["PROLIFIC_PID"] not in stored and PROLIFIC["SESSION_ID"] not in stored
    assert (("prolific", PROLIFIC["STUDY_ID"], pid_hash(salt, PROLIFIC["PROLIFIC_PID"])) in rows) and len(salt) == 64
    # Withdrawing does not open the door to a second (paid) participation.
    assert store.delete(first.participant_id)
    with pytest.raises(SurveyError, match="already taken part"):
        store.assign(study, panel=arrival(PROLIFIC), **kw)
    # Neither the salt nor the hash reaches any export; the panel and its study id do.
    wide = wide_csv(study, store.records())
    assert salt not in wide and "panel_pid_hash" not in wide and "hash" not in codebook_json(study)
    frame = pd.read_csv(io.StringIO(wide), keep_default_na=False)
    assert sorted(frame.panel) == ["", "prolific"] and {e.column for e in codebook(study)} >= {
        "panel",
        "panel_study_id",
    }


def test_two_tabs_of_the_same_panel_participant_at_once_make_one_participant(database):
    store, study = SurveyStore(database), load_study()
    kw = dict(consent_version="1", transcript_opt_in=False, persona_id="demo", app_version="9", backend="extractive")
    outcomes: list[str] = []

    def take_part():
        try:
            store.assign(study, panel=arrival({"pid": "same-person"}), **kw)
            outcomes.append("in")
        except SurveyError:
            outcomes.append("refused")

    threads = [threading.Thread(target=take_part) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["in"] + ["refused"] * 7 and len(store.records()) == 1


def test_a_prolific_participant_is_sent_back_with_the_completion_code(screens):
    screens = panel_screens(screens)
    session, _post, done, status, message, code = run_through(screens, from_panel(PROLIFIC))[:6]
    assert done["visible"] is True and status == ""
    assert "(https://app.prolific.com/submissions/complete?cc=C1ABC23)" in message and "**C1ABC23**" in message
    own = session["participant"]["id"]
    assert code["value"] == "C1ABC23" and own in message  # the own code stays, as the deletion code
    (record,) = screens.services.store.records()
    assert (record.panel, record.panel_study_id) == ("prolific", PROLIFIC["STUDY_ID"])
    # Back on the same link (a new tab, a reload): refused at consent, beside the box, nothing stored.
    session, consent_step, pre_step, status, _ = screens.survey.consent(True, False, None, from_panel(PROLIFIC))
    assert consent_step["visible"] is True and pre_step["visible"] is False and "already taken part" in status
    assert "participant" not in session and len(screens.services.store.records()) == 1


def test_a_failed_attention_check_or_declining_goes_to_the_screen_out_page(screens):
    screens = panel_screens(screens)
    _s, _p, done, _st, message, code = run_through(screens, from_panel({"pid": "x-1"}), attention_ok=False)[:6]
    assert done["visible"] is True and "?cc=SCREENED)" in message and code["value"] == "SCREENED"
    assert "C1ABC23" not in message
    _step, line = screens.survey.decline(from_panel(PROLIFIC))
    assert "?cc=SCREENED)" in line and "nothing about you is stored" in line
    assert "SCREENED" not in screens.survey.decline(from_panel({}))[1]  # came on their own: no panel to go back to
    assert len(screens.services.store.records()) == 1  # declining stored nothing


def test_someone_who_came_on_their_own_keeps_the_plain_ending_and_a_broken_link_is_said(screens):
    screens = panel_screens(screens)
    session, _post, _done, _st, message, code = run_through(screens, from_panel({}))[:6]
    assert "C1ABC23" not in message and "cc=" not in message and code["value"] == session["participant"]["id"]
    session, consent_step, _pre, status, _ = screens.survey.consent(True, False, None, from_panel({"pid": "a b"}))
    assert consent_step["visible"] is True and "broken pid" in status and "participant" not in session
