from clone.memory import MAX_TURNS, bounded, is_follow_up, standalone_query


def test_follow_ups_are_recognised():
    for q in ("why?", "What about the second one?", "and how often?", "How long does it last?", "how come"):
        assert is_follow_up(q), q
    for q in ("How big is your balcony?", "What soil mix do you use for tomatoes?", "Who is Kanel?"):
        assert not is_follow_up(q), q


def test_follow_up_is_rewritten_with_the_previous_question():
    history = [("Which tomato varieties do you grow?", "Stupice, Black Cherry and Majorna Gold.")]
    assert standalone_query("What about the second one?", history) == (
        "Which tomato varieties do you grow? What about the second one?"
    )
    assert standalone_query("How big is your balcony?", history) == "How big is your balcony?"
    assert standalone_query("why?", []) == "why?"


def test_history_is_bounded():
    history = []
    for n in range(MAX_TURNS + 5):
        history = bounded(history, (f"q{n}", f"a{n}"))
    assert len(history) == MAX_TURNS and history[-1] == (f"q{MAX_TURNS + 4}", f"a{MAX_TURNS + 4}")


def test_follow_up_retrieves_from_the_conversation_topic(demo_clone):
    first = demo_clone.answer("How often do you feed the worms in the Worm Hotel?")
    assert any(s.path == "worm-bins-tiny-apartments.md" for s in first.sources)
    alone = demo_clone.answer("and how much each time?")
    follow = demo_clone.answer(
        "and how much each time?", [("How often do you feed the worms in the Worm Hotel?", first.text)]
    )
    assert any(s.path == "worm-bins-tiny-apartments.md" for s in follow.sources)
    assert [s.path for s in alone.sources] != [s.path for s in follow.sources]


def test_each_fan_session_keeps_its_own_history(demo_clone, settings):
    from clone.ui import Screens
    from tests.conftest import services_for

    h = Screens.of(services_for(demo_clone, settings))
    *_, (_, _, fan_a) = h.chat.respond("How big is your balcony?", [], None)
    *_, (_, _, fan_b) = h.chat.respond("What is your cat called?", [], None)
    assert [q for q, _ in fan_a["history"]] == ["How big is your balcony?"]
    assert [q for q, _ in fan_b["history"]] == ["What is your cat called?"]
