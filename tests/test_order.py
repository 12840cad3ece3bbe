"""Order randomisation: block order per phase and item order per instrument, each optional in study.yaml, drawn on
the server at consent, recorded per participant (``*_order`` columns) and used by the page's rating slots."""

import io
import random
import shutil
from collections import Counter

import pandas as pd
import pytest

from clone.errors import SurveyError
from clone.survey import SurveyStore, codebook, load_study, wide_csv
from clone.survey.instruments import DEFAULT_STUDY, FULL_STUDY
from clone.ui import build_app
from clone.ui.items import pages


def shuffled_study(tmp_path, blocks: bool = True):
    """The full battery (study_full.yaml), its blocks shuffled (if ``blocks``), trust's and godspeed's items too."""
    folder = tmp_path / "instruments"
    shutil.copytree(DEFAULT_STUDY.parent, folder)
    path = folder / FULL_STUDY.name  # the full battery: the most blocks to shuffle
    text = path.read_text(encoding="utf-8")
    text = text.replace("  - trust_jian.yaml\n", "  - {file: trust_jian.yaml, shuffle_items: true}\n")
    text = text.replace("  - godspeed.yaml\n", "  - file: godspeed.yaml\n    shuffle_items: true\n")
    path.write_text(text + f"shuffle_blocks: {str(blocks).lower()}\n", encoding="utf-8")
    return load_study(path)


def blocks_of(study, names: list[str], phase: str) -> list[str]:
    by_name = {c.name: c for c in study.columns(phase)}
    return list(dict.fromkeys(by_name[n].instrument.id for n in names))


def test_an_order_is_a_permutation_with_blocks_kept_together(tmp_path):
    study = shuffled_study(tmp_path)
    assert study.shuffled and study.shuffle_items == ["trust", "godspeed"]
    rng = random.Random(7)
    block_orders, trust_firsts = Counter(), Counter()
    for _ in range(300):
        order = study.draw_order(rng)
        for phase in ("pre", "post"):
            names = order[phase]
            assert sorted(names) == sorted(c.name for c in study.columns(phase))
            # A block's items stay together: each instrument's run is unbroken.
            runs = [c.instrument.id for c in study.shown(phase, order)]
            assert len(list(dict.fromkeys(runs))) == len([k for n, k in enumerate(runs) if n == 0 or runs[n - 1] != k])
        block_orders[tuple(blocks_of(study, order["post"], "post"))] += 1
        trust_firsts[order["pre"][[n.startswith("trust") for n in order["pre"]].index(True)]] += 1
        # Items of an instrument that is not shuffled keep the file's order.
        pcts = [n for n in order["post"] if n.startswith("pcts_")]
        assert pcts == [c.name for c in study.columns("post") if c.instrument.id == "pcts"]
    assert len(block_orders) > 60  # 5 post blocks: 120 orders, drawn 300 times
    assert len(trust_firsts) == 6 and min(trust_firsts.values()) > 20  # each trust item comes first sometimes


def test_without_shuffling_the_order_is_the_file_order_and_no_order_columns_appear(tmp_path):
    study = load_study()
    assert not study.shuffled
    order = study.draw_order()
    assert order["post"] == [c.name for c in study.columns("post")]
    assert not [e.column for e in codebook(study) if "_order" in e.column]
    # A stale or tampered order (not a permutation of this study's items) falls back to the file's order.
    assert study.shown("pre", {"pre": ["trust_x_pre"]}) == study.columns("pre")


def test_a_bad_block_entry_names_the_problem(tmp_path):
    folder = tmp_path / "instruments"
    shutil.copytree(DEFAULT_STUDY.parent, folder)
    path = folder / FULL_STUDY.name  # the full battery: the most blocks to shuffle
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("  - pcts.yaml\n", "  - {file: pcts.yaml, shuffle: yes}\n"), encoding="utf-8")
    with pytest.raises(SurveyError, match="instruments"):
        load_study(path)


def test_each_participant_order_is_drawn_stored_and_exported(tmp_path, database):
    study = shuffled_study(tmp_path)
    store = SurveyStore(database)
    kw = dict(consent_version="1", transcript_opt_in=False, persona_id="demo", app_version="9", backend="extractive")
    made = [store.assign(study, **kw) for _ in range(12)]
    assert len({tuple(a.order["post"]) for a in made}) > 1  # drawn per participant, on the server
    records = {r.participant_id: r for r in store.records()}
    assert all(records[a.participant_id].order == a.order for a in made)
    wide = pd.read_csv(io.StringIO(wide_csv(study, store.records())), keep_default_na=False, dtype=str)
    book = {e.column: e for e in codebook(study)}
    order_columns = [c for c in wide.columns if "_order" in c]
    assert order_columns == ["block_order_pre", "trust_order_pre", "block_order_post", "trust_order_post"] + [
        "godspeed_order_post"
    ]
    assert all(c in book and book[c].phase for c in order_columns)
    for a in made:
        row = wide.set_index("participant_id").loc[a.participant_id]
        assert row["block_order_post"].split("|") == blocks_of(study, a.order["post"], "post")
        trust = [n for n in a.order["pre"] if n.startswith("trust_")]
        numbers = {c.name: i for i, c in enumerate([c for c in study.columns("pre") if c.instrument.id == "trust"], 1)}
        assert row["trust_order_pre"] == "|".join(str(numbers[n]) for n in trust)
        assert sorted(map(int, row["godspeed_order_post"].split("|"))) == list(range(1, 9))


def test_the_page_shows_each_participant_their_order_and_stores_answers_by_item(tmp_path, screens):
    services = screens.services
    services.study = study = shuffled_study(tmp_path)
    build_app(services)  # the shuffled study wires (the order goes onto the slots after consent and the chat)
    h = screens.survey
    session, *_ = h.consent(True, False, None)
    shown_pre = study.shown("pre", session["participant"]["order"])
    labels = h.order_items(session, "pre")
    assert [u["label"] for u in labels] == [f"{n}. {c.question.item.text}" for n, c in enumerate(shown_pre, 1)]
    assert all(u["value"] is None for u in labels)
    # Answer slot n with a value that tells the item apart: the store must file it under the item shown there.
    values = [c.question.item.attention or (1 + n % 7) for n, c in enumerate(shown_pre)]
    session, pre_step, chat_step, status, *_ = h.submit_pre(session, *values)
    assert chat_step["visible"] is True, status
    (record,) = services.store.records()
    assert {c.question.column: v for c, v in zip(shown_pre, values, strict=True)} == {
        col: v for (phase, col), v in record.answers.items() if phase == "pre"
    }
    # After the chat: godspeed's 1..5 items may sit in any slot; each slot gets its own item's choices.
    session["participant"]["stage"] = "post"
    shown_post = study.shown("post", session["participant"]["order"])
    for update, c in zip(h.order_items(session, "post"), shown_post, strict=True):
        assert [v for _, v in update["choices"]] == list(range(c.instrument.scale.min, c.instrument.scale.max + 1))
    first_page = pages(study.columns("post"))[0]
    answers = [c.question.item.attention or c.instrument.scale.min for c in shown_post]
    page_answers = answers[: len(first_page)]
    page_answers[1] = None
    _this, _next, line, *marks = h.check_page(0, *page_answers, session=session)
    assert "question 2 " in line and shown_post[1].question.item.text in h.order_items(session, "post")[1]["label"]
    assert "survey-missing" in marks[1]["elem_classes"]
    demo = [None] * len(study.demographics)
    session, _post, done, status, *_ = h.submit_post(session, *answers, *demo)
    assert done["visible"] is True, status
    (record,) = services.store.records()
    assert {col: v for (phase, col), v in record.answers.items() if phase == "post"} == {
        c.question.column: v for c, v in zip(shown_post, answers, strict=True)
    }
