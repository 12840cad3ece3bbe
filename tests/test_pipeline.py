import re

import numpy as np

from clone.backends import get_backend
from clone.backends.extractive import split_sentences
from clone.index import Passage
from clone.reply import Reply, Source, cite, format_time
from tests.conftest import clone_over


def _strip(text: str) -> str:
    return re.sub(r"\s?\[\d+\]", "", text)


def test_answers_from_the_right_document_and_cites_it(demo_clone, demo_questions):
    factual = [q for q in demo_questions if q["kind"] == "factual"]
    hits = 0
    for q in factual:
        reply = demo_clone.answer(q["question"])
        hits += any(s.path == q["evidence_doc"] for s in reply.sources)
    # The evidence document is cited for the large majority of the demo question set.
    assert hits / len(factual) >= 0.8, f"source hit rate {hits / len(factual):.2f}"


def test_specific_answer_cites_its_source_with_link(demo_clone, demo_questions):
    q = next(q for q in demo_questions if q["kind"] == "factual")
    reply = demo_clone.answer(q["question"])
    assert not reply.abstained and reply.sources
    md = reply.markdown()
    cited = next(s for s in reply.sources if s.path == q["evidence_doc"])
    assert f"[{cited.title}]({cited.url})" in md
    assert cited.url.startswith("https://example.com/")


def test_off_topic_questions_abstain_with_the_persona_message(demo_clone, demo_questions):
    offtopic = [q for q in demo_questions if q["kind"] == "offtopic"]
    abstained = 0
    for q in offtopic:
        reply = demo_clone.answer(q["question"])
        if reply.abstained:
            abstained += 1
            # Either the persona's no-answer message, or a guardrail's refusal (e.g. investment advice).
            assert reply.text == demo_clone.persona.no_answer_message or reply.refused
            assert reply.sources == []
    assert abstained / len(offtopic) >= 0.9


def test_extractive_reply_uses_only_the_creators_sentences(demo_clone, demo_questions):
    persona = demo_clone.persona
    for q in [q for q in demo_questions if q["kind"] == "factual"][:10]:
        passages = demo_clone.retrieve(q["question"])
        reply = demo_clone.answer(q["question"])
        text = _strip(reply.text)
        for lead in persona.lead_ins:
            if text.startswith(lead):
                text = text[len(lead) :].strip()
        said = " ".join(" ".join(split_sentences(p.text)) for p in passages)
        for sentence in split_sentences(text):
            assert sentence in said, f"not the creator's words: {sentence!r}"


def test_replies_stream_in_pieces(demo_clone, demo_questions):
    q = next(q for q in demo_questions if q["kind"] == "factual")
    replies = list(demo_clone.stream(q["question"]))
    assert len(replies) >= 2
    assert [r.done for r in replies] == [False] * (len(replies) - 1) + [True]
    assert all(len(a.text) <= len(b.text) for a, b in zip(replies, replies[1:], strict=False))


def test_empty_and_overlong_messages_get_clear_replies(demo_clone):
    empty = demo_clone.answer("   \n\t ")
    assert empty.reason == "empty" and "empty" in empty.text and not empty.sources
    long = demo_clone.answer("why?" * 600)
    assert long.reason == "too_long" and "2400 characters" in long.text and "2000" in long.text
    assert demo_clone.answer(None).reason == "empty"


def test_asked_if_human_it_says_it_is_an_ai(demo_clone):
    for question in ("Are you a real person?", "am I talking to a bot?", "Is this really Rosa?", "r u human"):
        reply = demo_clone.answer(question)
        assert reply.reason == "identity"
        assert f"AI clone of {demo_clone.persona.name}" in reply.text


def test_every_reply_is_marked_ai_generated(demo_clone):
    for message in ("", "What is the capital of Peru?", "How big is your balcony?"):
        assert demo_clone.answer(message).to_dict()["ai_generated"] is True


def _passage(n: int, source: str) -> Passage:
    return Passage(
        id=f"{source}#{n}", text="t", source=source, title=source.upper(), url=f"https://e.com/{source}", score=0.9
    )


def test_citations_to_unretrieved_passages_are_removed_and_sources_renumbered():
    passages = [_passage(0, "a"), _passage(1, "b"), _passage(2, "a")]
    text, sources = cite("One [2]. Two [7]. Three [3]. Four [1]. Five [0].", passages)
    assert text == "One [1]. Two. Three [2]. Four [2]. Five."
    assert [s.path for s in sources] == ["b", "a"]


def test_markdown_links_citations_and_hides_them_on_request():
    reply = Reply(text="Soil [1] and worms [2]", sources=[Source("a.md", "A", "https://e/a"), Source("b.md", "B", "")])
    md = reply.markdown()
    assert md.startswith("Soil [[1]](https://e/a) and worms [2]")  # no dead "#" link for a source without one
    assert "1. [A](https://e/a)\n2. B" in md
    assert reply.markdown(show_citations=False) == "Soil and worms"


def test_unknown_backend_is_a_clear_error(settings):
    import pytest

    from clone.errors import UnknownBackendError

    with pytest.raises(
        UnknownBackendError,
        match="CLONE_BACKEND='nope' is not a known backend; choose one of: auto, extractive, hf, openai, transformers",
    ):
        get_backend("nope", settings)


def test_a_subtitle_answer_links_to_the_moment_and_shows_the_time(tmp_path, settings):
    content = tmp_path / "videos"
    content.mkdir()
    (content / "compost.srt").write_text(
        "1\n00:00:01,000 --> 00:00:04,000\nWelcome back to the channel.\n\n"
        "2\n00:02:05,000 --> 00:02:09,000\nMy compost bin gets one scoop of wood ash every month.\n\n"
        "3\n00:02:09,000 --> 00:02:12,000\nThe ash keeps the bin from getting too acidic.\n",
        encoding="utf-8",
    )
    (content / "compost.srt.meta.yaml").write_text(
        "title: Compost basics\nurl: https://www.youtube.com/watch?v=abc123\n", encoding="utf-8"
    )
    for n in range(12):  # other material, so the subtitle is split into several timed chunks
        (content / f"post-{n}.md").write_text(f"Post {n}: I repotted {n} basil plants on a sunny Sunday morning.")
    clone = clone_over(content, settings)
    reply = clone.answer("How much wood ash goes in your compost bin?")
    source = next(s for s in reply.sources if s.path == "compost.srt")
    assert source.start is not None and source.url.startswith("https://www.youtube.com/watch?v=abc123")
    assert f"t={int(source.start)}s" in source.url
    assert f"Compost basics, at {format_time(source.start)}" in reply.markdown()


def test_format_time_and_labels():
    assert format_time(0) == "0:00"
    assert format_time(125.9) == "2:05"
    assert format_time(3725) == "1:02:05"
    assert Source("a.srt", "Talk", "u", start=65).label == "Talk, at 1:05"
    assert Source("b.pdf", "Guide", "u", page=3).label == "Guide, p. 3"
    assert Source("c.md", "Post", "u").label == "Post"


def test_a_replica_follows_the_index_another_process_rebuilt(tiny_content, settings):
    first = clone_over(tiny_content, settings)
    second = clone_over(tiny_content, settings)  # another replica on the same index folder
    question = "What colour is your kayak?"
    assert first.answer(question).abstained
    (tiny_content / "kayak.md").write_text(
        "My kayak is bright orange, so the ferries can see me on the fjord.\n", encoding="utf-8"
    )
    second.reindex()
    assert first.follow_index(every=0) is True
    assert first.kb.path == second.kb.path
    assert "orange" in first.answer(question).text
    assert first.follow_index(every=0) is False  # nothing new


def test_extractive_cuts_say_only_what_answers(demo_clone, demo_questions):
    """The selection's cuts (off by default, swept by `benchmarks.answer_quality --calibrate`) each bite."""
    from clone.backends import AnswerRequest, extractive

    backend = extractive.ExtractiveBackend(demo_clone.settings)
    requests = [
        AnswerRequest(question=q["question"], passages=demo_clone.retrieve(q["question"]), persona=demo_clone.persona)
        for q in demo_questions
        if q["kind"] == "factual"
    ]
    # A question whose reply, without the cuts, quotes more than one source.
    request = next(r for r in requests if len({r.passages[s.passage].source for s in backend.select(r)}) >= 2)
    default = backend.select(request)

    backend.min_ratio = 1.0  # nothing scores below the best sentence itself: it alone, with its neighbours
    best = backend.select(request)
    assert 1 <= len(best) <= 3 < len(default) and len({s.passage for s in best}) == 1
    backend.ratio_new_sources = False  # the ratio cuts only more of a source already said
    assert {s.passage for s in backend.select(request)} == {s.passage for s in default}
    backend.min_ratio, backend.ratio_new_sources = 0.0, True

    backend.dominance = 0.0  # the best source always dominates: one source is said
    sources = {request.passages[s.passage].source for s in backend.select(request)}
    assert len(sources) == 1
    backend.dominance = float("inf")

    backend.max_chars = 10**6  # room for every pick: only the best one brings the sentence after it
    backend.context = 1
    best_brings_next = backend.select(request)
    backend.context = backend.max_picks
    assert len(backend.select(request)) > len(best_brings_next)
    backend.context, backend.max_chars = extractive.CONTEXT, extractive.MAX_CHARS

    # The retriever's order as a prior (off by default): a sentence of the n-th passage loses w_rank * ln(1 + n).
    _, candidates = backend._candidates(request)
    flat = backend.score(request, candidates)
    backend.w_rank = 0.04
    prior = backend.score(request, candidates)
    assert np.allclose(flat - prior, 0.04 * np.log1p([c.passage for c in candidates]))
    assert any(c.passage > 0 for c in candidates)
    backend.w_rank = extractive.W_RANK

    repeated = [
        Passage(
            id="a",
            text="My balcony is four square metres and faces south.",
            source="a.md",
            title="A",
            url="",
            score=0.6,
        ),
        Passage(
            id="b",
            text="My balcony is four square metres, and it faces south.",
            source="b.md",
            title="B",
            url="",
            score=0.6,
        ),
    ]
    twice = AnswerRequest(question="How big is your balcony?", passages=repeated, persona=demo_clone.persona)
    backend.duplicate = 1.01
    assert len(backend.select(twice)) == 2
    backend.duplicate = 0.9  # the second says the first again
    assert len(backend.select(twice)) == 1


def test_rare_words_are_names_and_terms_of_art_not_everyday_words():
    from clone.tokens import rare_words

    assert rare_words("What is Bebung?") == {"bebung"}
    assert rare_words("Who was Pfund, and what's an arioso?") == {"pfund", "arioso"}
    # Everyday words and their inflections are not rare, even when the vocabulary lacks the inflected form.
    assert rare_words("What's the quickest way to learn Spanish?") == set()
    assert rare_words("What did the electrician say about the sunsets?") == set()
    assert rare_words("What did Gluck's dancer want?") == {"gluck'"}  # as tokenize stems it, so passages match
    # In another language every word would look rare: only English questions have rare words.
    assert rare_words("Wie wird das Wetter morgen?") == set()


def test_a_short_question_naming_a_rare_term_is_answered_below_the_floor(tiny_content, settings):
    (tiny_content / "clavichord.md").write_text(
        "---\ntitle: Playing my old keyboard\n---\n"
        "On the clavichord you can shake a held key gently and the tone trembles; players call that Bebung. "
        "No piano can do it, because the hammer leaves the string at once.\n",
        encoding="utf-8",
    )
    clone = clone_over(tiny_content, settings)
    question = "What is Bebung?"
    hits = clone.kb.search(question, k=settings.top_k, mode=settings.retrieval)
    assert max(p.score for p in hits) < settings.relevance_floor  # the floor alone would decline it
    reply = clone.answer(question)
    assert not reply.abstained
    assert "Bebung" in reply.text and [s.path for s in reply.sources] == ["clavichord.md"]
    # A rare word the creator never used, or an everyday one they did, does not open the floor.
    assert clone.answer("What is a pickleball paddle made of?").abstained
    assert clone.answer("What is the quickest way to learn Spanish?").abstained


def test_a_rare_word_in_many_chunks_does_not_open_the_floor(tiny_content, settings):
    from clone import index

    clone = clone_over(tiny_content, settings)
    hits = clone.kb.search("Why sourdough?", k=4)
    named = clone.kb.naming_rare_words("Why sourdough?", hits)
    assert named and all("sourdough" in p.text.lower() for p in named)
    clone.kb.chunks_with["sourdough"] = index.RARE_WORD_CHUNKS + 1  # as if the creator said it everywhere
    assert clone.kb.naming_rare_words("Why sourdough?", hits) == []
