"""Hybrid retrieval, incremental ingest, approximate search and the index's on-disk format."""

import json
from dataclasses import replace

import numpy as np
import pytest

from clone.errors import IndexNotBuiltError
from clone.index import INDEX_FORMAT, current_name, embedding_key, ensure_index, load_index
from clone.tokens import tokenize


def test_tokenizer_lowercases_drops_punctuation_and_stopwords():
    assert tokenize("The Worm-Bins, under MY sink!!") == ["worm", "bin", "sink"]
    assert tokenize("What's the 3-2-1 mix?") == ["3", "2", "1", "mix"]
    assert tokenize("?!...") == []


def test_index_files_hold_no_pickle(tiny_content, settings):
    report = ensure_index(tiny_content, settings)
    names = sorted(p.name for p in report.kb.path.iterdir())
    assert names == ["chunks.jsonl", "index.faiss", "manifest.json", "vectors.npy"]
    manifest = report.kb.manifest
    assert manifest["embedding"] == embedding_key(settings)
    assert manifest["embedding"].startswith("sentence-transformers/all-MiniLM-L6-v2@")
    assert manifest["dimensions"] == 384
    assert (manifest["chunk_size"], manifest["chunk_overlap"]) == (settings.chunk_size, settings.chunk_overlap)
    assert set(manifest["documents"]) == {"bread.md", "bikes.txt"}
    assert all(len(doc["sha256"]) == 64 for doc in manifest["documents"].values())


def test_incremental_ingest_embeds_only_what_changed(tiny_content, settings):
    first = ensure_index(tiny_content, settings)
    bikes_vectors = first.kb.vectors[[c["metadata"]["source"] == "bikes.txt" for c in first.kb.chunks]]

    (tiny_content / "bread.md").write_text("I switched my starter to spelt flour in the winter.")
    (tiny_content / "tea.md").write_text("I drink smoky lapsang souchong tea while editing my videos.")
    second = ensure_index(tiny_content, settings)
    assert (second.added, second.changed, second.removed) == (["tea.md"], ["bread.md"], [])
    assert second.reused == len(bikes_vectors) > 0
    again = second.kb.vectors[[c["metadata"]["source"] == "bikes.txt" for c in second.kb.chunks]]
    assert np.array_equal(again, bikes_vectors)  # reused as stored, not re-embedded
    assert second.kb.search("what flour feeds your starter", k=1)[0].text.startswith("I switched my starter")

    (tiny_content / "tea.md").unlink()
    third = ensure_index(tiny_content, settings)
    assert third.removed == ["tea.md"] and third.added == [] and third.changed == []
    assert all(c["metadata"]["source"] != "tea.md" for c in third.kb.chunks)
    assert not ensure_index(tiny_content, settings).rebuilt


def test_changing_chunk_settings_or_model_rebuilds_everything(tiny_content, settings):
    ensure_index(tiny_content, settings)
    messages = []
    report = ensure_index(tiny_content, replace(settings, chunk_size=300, chunk_overlap=0), progress=messages.append)
    assert report.rebuilt and report.reused == 0 and sorted(report.added) == ["bikes.txt", "bread.md"]
    assert report.full_rebuild_reason == "The CLONE_CHUNK_SIZE changed (800 -> 300): rebuilding the whole index."
    assert report.full_rebuild_reason in messages


def test_changing_the_embedding_engine_rebuilds_everything(tiny_content, settings):
    torch_settings = replace(settings, embedding_engine="torch")
    ensure_index(tiny_content, torch_settings)
    report = ensure_index(tiny_content, settings)
    assert report.rebuilt and report.reused == 0
    assert report.full_rebuild_reason.startswith("The embedding model changed (")
    assert embedding_key(torch_settings) in report.full_rebuild_reason
    assert embedding_key(settings) in report.full_rebuild_reason


def test_chunks_are_embedded_with_their_document_title(tiny_content, settings):
    # A question that names the video ("in Sourdough basics") finds chunks whose words never say it.
    kb = ensure_index(tiny_content, settings).kb
    pos = next(i for i, c in enumerate(kb.chunks) if c["metadata"]["source"] == "bread.md")
    text = kb.chunks[pos]["text"]
    assert "Sourdough basics" not in text  # stored (and quoted) without the title
    titled, bare = np.asarray(kb.embeddings.embed_documents([f"Sourdough basics\n\n{text}", text]), dtype=np.float32)
    assert np.allclose(kb.vectors[pos], titled, atol=1e-4)
    assert not np.allclose(kb.vectors[pos], bare, atol=1e-2)


def test_an_index_of_the_previous_format_is_rebuilt(tiny_content, settings):
    # Vectors embedded without titles would not match the question's space as built now: rebuild, say why.
    ensure_index(tiny_content, settings)
    manifest_path = settings.index_dir / current_name(settings.index_dir) / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    manifest_path.write_text(json.dumps({**manifest, "format": INDEX_FORMAT - 1}))
    with pytest.raises(IndexNotBuiltError, match="another version"):
        load_index(settings.index_dir, settings)
    report = ensure_index(tiny_content, settings)
    assert report.rebuilt and report.reused == 0
    old, new = INDEX_FORMAT - 1, INDEX_FORMAT
    assert report.full_rebuild_reason == f"The index format changed ({old} -> {new}): rebuilding the whole index."


def test_hybrid_finds_rare_exact_words_and_dense_finds_meaning(tiny_content, settings):
    kb = ensure_index(tiny_content, settings).kb
    # A name only BM25 can match reliably.
    assert kb.lexical("Bubbles", 5) and kb.chunks[kb.lexical("Bubbles", 5)[0]]["metadata"]["source"] == "bread.md"
    assert kb.search("Bubbles", k=1, mode="hybrid")[0].source == "bread.md"
    # A paraphrase with no shared content word: dense carries it, and hybrid keeps it.
    assert kb.lexical("cycling gear for carrying groceries", 5) == []
    assert kb.search("cycling gear for carrying groceries", k=1, mode="dense")[0].source == "bikes.txt"
    assert kb.search("cycling gear for carrying groceries", k=1, mode="hybrid")[0].source == "bikes.txt"


def test_scores_are_cosine_whatever_ranking_found_the_passage(tiny_content, settings):
    kb = ensure_index(tiny_content, settings).kb
    query = "green steel touring bicycle"
    qv = np.asarray(kb.embeddings.embed_query(query), dtype=np.float32)
    for p in kb.search(query, k=3, mode="hybrid"):
        pos = next(i for i, c in enumerate(kb.chunks) if c["id"] == p.id)
        assert abs(p.score - float(kb.vectors[pos] @ qv)) < 1e-5


def test_approximate_index_above_threshold_matches_exact(tiny_content, settings):
    for n in range(30):
        (tiny_content / f"note-{n}.md").write_text(f"Note {n}: I planted {n} rows of beans and {n * 2} pots of basil.")
    exact = ensure_index(tiny_content, settings).kb
    approx_settings = replace(settings, home=settings.home.parent / "approx", ann_threshold=10)
    approx = ensure_index(tiny_content, approx_settings).kb
    assert (exact.index_type, approx.index_type) == ("flat", "hnsw")
    reloaded = load_index(approx_settings.index_dir, approx_settings)
    assert reloaded.index_type == "hnsw"
    for query in ("rows of beans", "sourdough starter", "bicycle chain"):
        assert [p.id for p in reloaded.search(query, k=5, mode="dense")] == [
            p.id for p in exact.search(query, k=5, mode="dense")
        ]
