"""Timing: seconds on every page of the survey (pre-chat, the chat step, each post-chat page) from times the
server records as each step is done, in the wide file and as events in the long one. Chat duration, turns,
replies declined and refusals seen are the chat metrics (tests/test_survey.py)."""

import io

import pandas as pd
from sqlalchemy import text

from clone.survey import codebook, long_csv, wide_csv
from clone.ui.items import pages


def no_chat_needed(screens):
    """The study without a minimum of chat turns (the chat itself is covered elsewhere)."""
    screens.services.study = screens.services.study.model_copy(update={"min_turns": 0})


def answers(study, phase: str) -> list:
    return [c.question.item.attention or 4 for c in study.columns(phase)]


def test_each_page_is_timed_once_and_exported_wide_and_long(screens):
    no_chat_needed(screens)
    h, study, store = screens.survey, screens.services.study, screens.services.store
    paged = pages(study.columns("post"))
    assert len(paged) >= 2  # the default study's questions after the chat come in two pages
    timed = [e.column for e in codebook(study) if e.column.startswith("seconds_")]
    numbers = range(1, len(paged) + 1)
    assert timed == ["seconds_pre", "seconds_chat_step"] + [f"seconds_post_page_{k}" for k in numbers]
    session, *_ = h.consent(True, False, None)
    session, *_ = h.submit_pre(session, *answers(study, "pre"))
    session, *_ = h.finish_chat(session)
    post = answers(study, "post")
    start = 0
    for k, page in enumerate(paged[:-1]):
        h.check_page(k, *post[start : start + len(page)], session=session)
        h.check_page(k, *post[start : start + len(page)], session=session)  # a double click: the first time counts
        start += len(page)
    with store.engine.connect() as conn:
        steps = conn.execute(text("SELECT step, done_at FROM step_times ORDER BY step")).all()
    assert [s for s, _ in steps] == ["chat"] + [f"post_{k}" for k in numbers][:-1]
    session, *_ = h.submit_post(session, *post, *[None] * len(study.demographics))
    pid = session["participant"]["id"]
    wide = pd.read_csv(io.StringIO(wide_csv(study, store.records())))
    row = wide.set_index("participant_id").loc[pid]
    assert all(row[c] >= 0 and float(row[c]).is_integer() for c in timed)  # every page timed, whole seconds
    long = pd.read_csv(io.StringIO(long_csv(study, store.records())))
    events = long[long.phase == "timing"]
    assert list(events["item"]) == timed and list(events.value) == [int(row[c]) for c in timed]
    # Withdrawal takes the times too; a late page event for a withdrawn participant stores nothing.
    assert store.delete(pid)
    store.step_done(pid, "post_1")
    with store.engine.connect() as conn:
        assert conn.execute(text("SELECT COUNT(*) FROM step_times")).scalar() == 0


def test_a_page_refused_for_a_missing_answer_or_without_a_participant_is_not_timed(screens):
    no_chat_needed(screens)
    h, study, store = screens.survey, screens.services.study, screens.services.store
    first = pages(study.columns("post"))[0]
    h.check_page(0, *[4] * len(first))  # no session (a direct call): nothing to time
    session, *_ = h.consent(True, False, None)
    session, *_ = h.submit_pre(session, *answers(study, "pre"))
    session, *_ = h.finish_chat(session)
    h.check_page(0, *[None] * len(first), session=session)
    with store.engine.connect() as conn:
        assert [r[0] for r in conn.execute(text("SELECT step FROM step_times"))] == ["chat"]
    wide = pd.read_csv(io.StringIO(wide_csv(study, store.records())), keep_default_na=False)
    assert wide.loc[0, "seconds_post_page_1"] == "" and wide.loc[0, "seconds_chat_step"] != ""
