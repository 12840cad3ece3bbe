"""Answer quality on content nobody tuned to: this project against a plain LangChain RAG app.

    python benchmarks/answer_quality.py                  # every corpus, the offline (extractive) path
    python benchmarks/answer_quality.py --corpus federalist
    python benchmarks/answer_quality.py --calibrate      # sweep the selection's settings, calibration corpora only

Five public-domain corpora (benchmarks/corpora/answer_corpora.py): ``federalist`` (essays),
``inaugural`` (speeches as timed transcripts), ``candle`` (Faraday's lectures as timed and plain
transcripts) and ``listening`` (a how-to guide, Krehbiel's *How to Listen to Music*, as blog posts and
podcast transcripts), the calibration corpora: the extractive backend's thresholds were chosen on them,
or they were looked at while tuning (``candle`` was the report corpus until one keep-or-drop choice
between two selections was made on it, ``listening`` until the shipped version was measured on it once:
docs/answer-quality.md); and ``sierra`` (a travel and nature diary, John Muir's *My First Summer in the
Sierra*, as blog posts and podcast transcripts), the report corpus: never tuned on, run once for the
final table.
Each has grounded questions in fans' own words (key phrases, evidence documents) and off-topic ones.

The anchor is what a plain LangChain app does: RecursiveCharacterTextSplitter(1000, 200) over the
documents' text, the same MiniLM embeddings, FAISS, k=4; with no LLM its reply is the four chunks
"stuffed" together, and it cites all four. This project is measured through ``Clone.answer`` with
default settings in a temporary home, so guardrails, the relevance floor and citations all count.

When an OpenAI-compatible server is configured (``CLONE_OPENAI_BASE_URL``, e.g. a local Ollama or
llama.cpp, and ``CLONE_OPENAI_MODEL``), the same table is printed again for the LLM path
(``--llm`` forces it, ``--no-llm`` skips it).

Rows: key phrase (the reply contains one of the question's key phrases, grounded questions), key phrase in its
passages (one is anywhere in the passages the reply quotes from: the most any selection of their sentences
could say; for plain LangChain, whose reply is its passages, the same), cited-source hit (the evidence
document is among the reply's sources), retriever hit@1 / hit@4 (the evidence document is the first / among
the first four passages the retriever returns), off-topic declined, grounded wrongly declined, median reply
words (grounded questions, citation markers removed). Relevance: the share of reply sentences judged relevant
to the question, over the hand-labelled sentences in benchmarks/data/answer_relevance_labels.jsonl (sentences
not labelled are counted apart, so a changed reply cannot pass on old labels).

``--calibrate`` answers each calibration corpus (and only those: the report corpus stays untouched) once
per combination of the extractive selection's settings (``GRID``: ``MAX_PICKS``, ``MAX_CHARS``,
``CONTEXT``, ``W_RANK`` in clone/backends/extractive.py) and prints key phrase, cited-source hit and
median words for each.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import re
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

from benchmarks.corpora.answer_corpora import QUESTIONS, ROLE, write_corpus  # noqa: E402
from clone.backends import extractive, get_backend  # noqa: E402
from clone.config import load_settings  # noqa: E402
from clone.evaluate import default_persona, read_questions  # noqa: E402
from clone.index import embedder, ensure_index  # noqa: E402
from clone.ingest import scan_folder  # noqa: E402
from clone.pipeline import Clone  # noqa: E402
from clone.reply import plain  # noqa: E402

LABELS = ROOT / "benchmarks" / "data" / "answer_relevance_labels.jsonl"
RESULTS = ROOT / "benchmarks" / "results"
LLM_VARIABLES = ("CLONE_OPENAI_BASE_URL", "CLONE_OPENAI_MODEL", "OPENAI_API_KEY")
_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[\"'(\[]*[A-Z0-9])")
# The extractive selection's settings swept by --calibrate, each named after its default in
# clone/backends/extractive.py (``max_picks`` -> ``MAX_PICKS``), which comes first. (The ratio, duplicate
# and dominance cuts, off by default, were swept before and lost key phrases: see docs/answer-quality.md.)
GRID = {
    "max_picks": (4, 3, 2),
    "max_chars": (700, 500, 350),
    "context": (4, 1),
    "w_rank": (0.0, 0.04),
}


@dataclass
class Answer:
    """What one system said to one question."""

    id: str
    question: str
    kind: str
    reply: str
    sources: list[dict]
    declined: bool
    retrieved: list[str] = field(default_factory=list)  # documents of the retriever's top 4, best first
    passages: str = ""  # the text of every passage the reply could quote from (its ceiling)


def _norm(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip().lower()


def sentences(reply: str) -> list[str]:
    """A reply's sentences, as they are labelled."""
    return [s.strip() for line in reply.splitlines() for s in _SENTENCE.split(line) if s.strip()]


def langchain_answers(content: Path, questions, settings) -> list[Answer]:
    """The plain LangChain anchor: 1000/200 chunks, MiniLM, FAISS, k=4, the chunks stuffed as the reply."""
    from langchain_community.vectorstores import FAISS
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    files = scan_folder(content).files
    splitter = RecursiveCharacterTextSplitter(chunk_size=1000, chunk_overlap=200)
    docs = splitter.create_documents([f.text for f in files], metadatas=[{"source": f.path} for f in files])
    store = FAISS.from_documents(docs, embedder(settings))
    out = []
    for q in questions:
        hits = store.similarity_search(q.question, k=4)
        sources = list(dict.fromkeys(d.metadata["source"] for d in hits))
        out.append(
            Answer(
                str(q.id),
                q.question,
                q.kind or "",
                "\n\n".join(d.page_content for d in hits),
                [{"path": s, "start": None} for s in sources],
                False,
                [d.metadata["source"] for d in hits],
                "\n\n".join(d.page_content for d in hits),
            )
        )
    return out


def project_answers(content: Path, questions, settings, clone: Clone | None = None) -> list[Answer]:
    """This project, through ``Clone.answer``, and what its retriever ranks first."""
    if clone is None:
        kb = ensure_index(content, settings).kb
        clone = Clone(settings, default_persona(content, None), kb, get_backend(settings.backend, settings), content)
    kb = clone.kb
    out = []
    for q in questions:
        reply = clone.answer(q.question)
        retrieved = [p.source for p in kb.search(q.question, k=4, mode=settings.retrieval)]
        out.append(
            Answer(
                str(q.id),
                q.question,
                q.kind or "",
                plain(reply.text),
                [{"path": s.path, "start": s.start} for s in reply.sources],
                reply.abstained,
                retrieved,
                "" if reply.abstained else "\n\n".join(p.text for p in clone.retrieve(q.question)),
            )
        )
    return out


def _rate(values: list[bool]) -> float | None:
    return sum(values) / len(values) if values else None


def measure(questions, answers: list[Answer], labels: dict[tuple[str, str], bool]) -> dict:
    """Every row of the table for one system on one corpus."""
    grounded = [(q, a) for q, a in zip(questions, answers, strict=True) if q.evidence_doc]
    offtopic = [a for q, a in zip(questions, answers, strict=True) if q.kind == "offtopic"]
    judged, unlabelled = [], 0
    for q, a in grounded:
        if a.declined:
            continue
        for s in sentences(a.reply):
            label = labels.get((str(q.id), _norm(s)))
            if label is None:
                unlabelled += 1
            else:
                judged.append(label)
    return {
        "key phrase": _rate([not a.declined and _has_key(q, a.reply) for q, a in grounded]),
        # The most any selection from the same passages could say: the key phrase anywhere in them.
        "key phrase in its passages": _rate([not a.declined and _has_key(q, a.passages) for q, a in grounded]),
        "cited-source hit": _rate([any(s["path"] == q.evidence_doc for s in a.sources) for q, a in grounded]),
        "retriever hit@1": _rate([a.retrieved[:1] == [q.evidence_doc] for q, a in grounded]),
        "retriever hit@4": _rate([q.evidence_doc in a.retrieved[:4] for q, a in grounded]),
        "off-topic declined": _rate([a.declined for a in offtopic]),
        "grounded wrongly declined": _rate([a.declined for q, a in grounded]),
        "median words": statistics.median(len(a.reply.split()) for q, a in grounded if not a.declined),
        # A share over a few labelled sentences of a long reply would be a biased sample: shown only
        # when (nearly) every sentence of the replies is labelled.
        "sentences relevant": _rate(judged) if len(judged) >= 0.9 * (len(judged) + unlabelled) else None,
        "sentences labelled": f"{len(judged)}/{len(judged) + unlabelled}",
        "timed sources with start": _timed_with_start(answers),
    }


def _has_key(question, text: str) -> bool:
    return any(k.lower() in text.lower() for k in question.answer_keywords)


def _timed_with_start(answers: list[Answer]) -> str:
    timed = [s for a in answers for s in a.sources if s["path"].endswith((".srt", ".vtt", ".json"))]
    return f"{sum(s['start'] is not None for s in timed)}/{len(timed)}" if timed else "-"


def read_labels(path: Path = LABELS) -> dict[tuple[str, str], bool]:
    """Hand labels: one line per (question id, reply sentence) with ``relevant`` true or false."""
    if not path.exists():
        return {}
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return {(r["id"], _norm(r["sentence"])): bool(r["relevant"]) for r in rows}


def _fmt(value) -> str:
    if isinstance(value, float):
        return f"{value:.3f}" if value <= 1 else f"{value:g}"
    return "-" if value is None else str(value)


def table(corpus: str, results: dict[str, dict]) -> str:
    """One Markdown table, systems side by side."""
    names = list(results)
    rows = list(next(iter(results.values())))
    out = [f"| {corpus} | " + " | ".join(names) + " |", "|---|" + "---|" * len(names)]
    out += [f"| {row} | " + " | ".join(_fmt(results[n][row]) for n in names) + " |" for row in rows]
    return "\n".join(out)


def run(corpus: str, tmp: Path, systems: list[str], dump: Path | None) -> dict[str, dict]:
    """Build the corpus, answer its questions with each system, measure."""
    content = tmp / corpus / "content"
    write_corpus(corpus, content)
    questions = read_questions(QUESTIONS[corpus])
    labels = read_labels()
    results = {}
    for system in systems:
        env = {"CLONE_HOME": str(tmp / corpus / "home"), "CLONE_BACKEND": "extractive"}
        if system == "this project, LLM":  # the server and model from the environment, nothing else
            env.update({k: v for k, v in os.environ.items() if k in LLM_VARIABLES})
            env["CLONE_BACKEND"] = "openai"
        settings = load_settings(env, dotenv=False)
        started = time.perf_counter()
        if system == "plain LangChain":
            answers = langchain_answers(content, questions, settings)
        else:
            answers = project_answers(content, questions, settings)
        print(f"{corpus}: {system} answered {len(answers)} in {time.perf_counter() - started:.0f} s", file=sys.stderr)
        results[system] = measure(questions, answers, labels)
        if dump:
            dump.mkdir(parents=True, exist_ok=True)
            with (dump / f"{corpus}-{system.replace(' ', '_').replace(',', '')}.jsonl").open("w") as fh:
                for a in answers:
                    fh.write(json.dumps(a.__dict__, ensure_ascii=False) + "\n")
    return results


def calibrate(tmp: Path, corpora: list[str]) -> dict[str, list[tuple[dict, dict]]]:
    """Every combination of GRID on each calibration corpus: {corpus: [(cuts, measures)]}, in GRID order."""
    out: dict[str, list[tuple[dict, dict]]] = {}
    for corpus in corpora:
        if ROLE[corpus] != "calibration":
            raise SystemExit(f"{corpus} is a {ROLE[corpus]} corpus: never tune on it")
        content = tmp / corpus / "content"
        write_corpus(corpus, content)
        questions = read_questions(QUESTIONS[corpus])
        env = {"CLONE_HOME": str(tmp / corpus / "home"), "CLONE_BACKEND": "extractive"}
        settings = load_settings(env, dotenv=False)
        backend = extractive.ExtractiveBackend(settings)
        clone = Clone(settings, default_persona(content, None), ensure_index(content, settings).kb, backend, content)
        out[corpus] = []
        for values in itertools.product(*GRID.values()):
            cuts = dict(zip(GRID, values, strict=True))
            for name, value in cuts.items():
                setattr(backend, name, value)
            result = measure(questions, project_answers(content, questions, settings, clone), {})
            out[corpus].append((cuts, result))
            print(
                f"{corpus}: " + " ".join(f"{k}={v:g}" for k, v in cuts.items()) + "  "
                f"key phrase {result['key phrase']:.3f}  cited {result['cited-source hit']:.3f}  "
                f"words {result['median words']:g}",
                file=sys.stderr,
                flush=True,
            )
    return out


def calibration_table(rows: dict[str, list[tuple[dict, dict]]]) -> str:
    """The sweep as Markdown, one row per combination, each corpus's key phrase / cited hit / words; defaults marked."""
    corpora = list(rows)
    out = [
        "| " + " | ".join(GRID) + " | " + " | ".join(f"{c}: key phrase / cited / words" for c in corpora) + " |",
        "|---" * (len(GRID) + len(corpora)) + "|",
    ]
    for n, (cuts, _) in enumerate(rows[corpora[0]]):
        mark = " (default)" if all(v == getattr(extractive, k.upper()) for k, v in cuts.items()) else ""
        cells = []
        for c in corpora:
            r = rows[c][n][1]
            cells.append(f"{r['key phrase']:.3f} / {r['cited-source hit']:.3f} / {r['median words']:g}")
        out.append("| " + " | ".join(f"{v:g}" for v in cuts.values()) + " | " + " | ".join(cells) + f"{mark} |")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", choices=sorted(QUESTIONS), action="append")
    parser.add_argument("--llm", action=argparse.BooleanOptionalAction, default=None)
    parser.add_argument("--no-anchor", action="store_true", help="skip plain LangChain (faster while iterating)")
    parser.add_argument("--dump", type=Path, help="write every reply as JSONL into this folder")
    parser.add_argument("--save", action="store_true", help="write benchmarks/results/answer_quality.md")
    parser.add_argument(
        "--calibrate", action="store_true", help="sweep the extractive selection's cuts on the calibration corpora only"
    )
    args = parser.parse_args(argv)
    if args.calibrate:
        corpora = args.corpus or [c for c, role in ROLE.items() if role == "calibration"]
        with tempfile.TemporaryDirectory(prefix="clone-calibrate-") as tmp:
            print(calibration_table(calibrate(Path(tmp), corpora)), flush=True)
        return
    corpora = args.corpus or list(QUESTIONS)
    llm = args.llm if args.llm is not None else bool(os.environ.get("CLONE_OPENAI_BASE_URL"))
    systems = ([] if args.no_anchor else ["plain LangChain"]) + ["this project"] + (["this project, LLM"] * llm)
    tables = []
    with tempfile.TemporaryDirectory(prefix="clone-answers-") as tmp:
        for corpus in corpora:
            results = run(corpus, Path(tmp), systems, args.dump)
            tables.append(f"**{corpus}** ({ROLE[corpus]} corpus)\n\n" + table(corpus, results))
            print(tables[-1] + "\n", flush=True)
    if args.save:
        RESULTS.mkdir(parents=True, exist_ok=True)
        (RESULTS / "answer_quality.md").write_text(
            "# Answer quality: plain LangChain and this project\n\n" + "\n\n".join(tables) + "\n", encoding="utf-8"
        )


if __name__ == "__main__":
    main()
