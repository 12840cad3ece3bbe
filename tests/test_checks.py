"""Manipulation checks as an instrument file: did participants notice the sources (the condition) and the AI
disclosure (every condition)? Raw answers and a `_correct` flag in the wide file, each in the codebook."""

import io
import shutil

import pandas as pd
import pytest

from clone.errors import SurveyError
from clone.survey import SurveyStore, codebook, load_study, wide_csv
from clone.survey.instruments import DEFAULT_STUDY


def post_answers(study, sources: int, disclosure: int) -> dict:
    out = {}
    for c in study.columns("post"):
        item = c.question.item
        out[c.question.column] = {"show_citations": sources, "disclosure": disclosure}.get(
            item.manipulation, item.attention or 4
        )
    return out


def test_the_bundled_study_asks_both_checks_after_the_chat_with_codebook_entries():
    study = load_study()
    checks = {c.question.item.manipulation: c.name for c in study.columns("post") if c.question.item.manipulation}
    assert checks == {
        "show_citations": "manipulation_sources_01_post",
        "disclosure": "manipulation_disclosure_01_post",
    }
    assert not [c for c in study.columns("pre") if c.question.item.manipulation]
    book = {e.column: e for e in codebook(study)}
    for name in checks.values():
        assert book[name].instrument == "manipulation" and book[name].validated is False
        assert "Hauser" in book[name].citation and (book[name].min, book[name].max) == (1, 7)
        flag = book[f"{name}_correct"]
        assert flag.type == "integer" and (flag.min, flag.max) == (0, 1) and "Nobody is excluded" in flag.label
    # Checks are not scales: no subscale means for them.
    assert not [c for c in book if c.startswith("manipulation_") and "_mean_" in c]


@pytest.mark.parametrize(
    ("condition", "sources", "disclosure", "flags"),
    [
        ("citations_shown", 6, 7, (1, 1)),
        ("citations_shown", 2, 4, (0, 0)),  # the middle of the scale is not "noticed"
        ("citations_hidden", 2, 5, (1, 1)),
        ("citations_hidden", 6, 3, (0, 0)),
    ],
)
def test_each_check_is_scored_against_the_participant_condition(tmp_path, condition, sources, disclosure, flags):
    study = load_study()
    store = SurveyStore(tmp_path / "survey.sqlite3")
    kw = dict(consent_version="1", transcript_opt_in=False, persona_id="demo", app_version="9", backend="extractive")
    while True:  # blocked randomisation: take slots until one in the wanted condition comes up
        a = store.assign(study, **kw)
        if a.condition == condition:
            break
    store.save_phase(study, a.participant_id, "post", post_answers(study, sources, disclosure))
    wide = pd.read_csv(io.StringIO(wide_csv(study, store.records())), keep_default_na=False)
    row = wide.set_index("participant_id").loc[a.participant_id]
    cells = ["manipulation_sources_01_post", "manipulation_disclosure_01_post"]
    assert [int(row[c]) for c in cells] == [sources, disclosure]
    assert tuple(int(row[f"{c}_correct"]) for c in cells) == flags
    # Others (not yet at the post-chat questions) have empty flags, not a fail.
    others = wide[wide.participant_id != a.participant_id]
    assert (others["manipulation_sources_01_post_correct"] == "").all()


def test_a_check_of_something_no_condition_sets_names_the_file_and_the_choices(tmp_path):
    folder = tmp_path / "instruments"
    shutil.copytree(DEFAULT_STUDY.parent, folder)
    path = folder / "manipulation.yaml"
    path.write_text(path.read_text().replace("manipulation: disclosure", "manipulation: avatar"), encoding="utf-8")
    with pytest.raises(SurveyError, match=r"manipulation.yaml: item 2 checks 'avatar'.*disclosure, show_citations"):
        load_study(folder / "study.yaml")
    path.write_text(
        path.read_text().replace("manipulation: avatar", "manipulation: disclosure\n    attention: 1"),
        encoding="utf-8",
    )
    with pytest.raises(SurveyError, match="attention check or a manipulation check, not both"):
        load_study(folder / "study.yaml")
