import pytest

from clone.config import DEMO_CREATOR_DIR
from clone.errors import PersonaError
from clone.persona import load_persona


def test_demo_persona_is_valid_and_marked_fictional():
    p = load_persona(DEMO_CREATOR_DIR)
    assert p.fictional is True
    assert p.display_name == f"{p.name} (fictional)"
    assert p.greeting and p.no_answer_message and p.topics_to_avoid


def test_bad_field_is_named(tmp_path):
    card = tmp_path / "persona.yaml"
    card.write_text("id: Bad Id\nname: X\nbio: b\ngreeting: hi\nno_answer_message: no\n")
    with pytest.raises(PersonaError, match=r"id: Value error, use lowercase letters"):
        load_persona(card)


def test_missing_and_unknown_fields_are_named(tmp_path):
    card = tmp_path / "persona.yaml"
    card.write_text("id: x\nname: X\nbio: b\ngreeting: hi\nfavourite_colour: red\n")
    with pytest.raises(PersonaError) as err:
        load_persona(card)
    assert "no_answer_message: Field required" in str(err.value)
    assert "favourite_colour: Extra inputs are not permitted" in str(err.value)


def test_missing_card_says_where(tmp_path):
    with pytest.raises(PersonaError, match="No persona card at"):
        load_persona(tmp_path)


def test_not_a_mapping(tmp_path):
    (tmp_path / "persona.yaml").write_text("- just\n- a list\n")
    with pytest.raises(PersonaError, match="must be a YAML mapping"):
        load_persona(tmp_path)
