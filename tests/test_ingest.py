from clone.ingest import scan_folder, split_documents


def test_front_matter_and_txt_titles(tiny_content):
    scan = scan_folder(tiny_content)
    by_path = {f.path: f for f in scan.files}
    assert by_path["bread.md"].metadata == {
        "title": "Sourdough basics",
        "url": "https://example.com/bread",
        "kind": "video",
    }
    assert not by_path["bread.md"].text.startswith("---")
    assert by_path["bikes.txt"].metadata["title"] == "Bikes"
    assert scan.skipped == []


def test_chunks_carry_source_metadata_and_end_on_sentences(tiny_content):
    docs = split_documents(scan_folder(tiny_content).files, chunk_size=200, chunk_overlap=0)
    assert len(docs) >= 3
    for d in docs:
        assert d.metadata["source"] in {"bread.md", "bikes.txt"}
        assert d.metadata["id"] == f"{d.metadata['source']}#{d.metadata['chunk']}"
        assert d.page_content.rstrip().endswith((".", "!", "?"))


def test_bad_files_are_reported_by_name_and_the_rest_ingests(tiny_content):
    (tiny_content / "binary.txt").write_bytes(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR")
    (tiny_content / "latin1.md").write_bytes("Caf\xe9 au lait every morning.".encode("latin-1"))
    (tiny_content / "empty.md").write_text("")
    (tiny_content / "only-front-matter.md").write_text("---\ntitle: Nothing\n---\n\n")
    (tiny_content / "broken-front-matter.md").write_text("---\ntitle: [unclosed\n---\nText here.\n")
    (tiny_content / "big.txt").write_text("word " * 5000)
    (tiny_content / "photo.jpg").write_bytes(b"\xff\xd8\xff")
    (tiny_content / ".hidden.md").write_text("ignored")
    scan = scan_folder(tiny_content, max_file_mb=0.02)
    reasons = {s.path: s.reason for s in scan.skipped}
    assert sorted(f.path for f in scan.files) == ["bikes.txt", "bread.md"]
    assert "binary" in reasons["binary.txt"]
    assert "not UTF-8" in reasons["latin1.md"]
    assert "empty" in reasons["empty.md"]
    assert "no text" in reasons["only-front-matter.md"]
    assert "front matter" in reasons["broken-front-matter.md"]
    assert "over the 0.02 MB limit" in reasons["big.txt"]
    assert "unsupported file type .jpg" in reasons["photo.jpg"]
    assert ".hidden.md" not in reasons


def test_fingerprint_changes_with_content(tiny_content):
    before = scan_folder(tiny_content).fingerprint
    assert scan_folder(tiny_content).fingerprint == before
    (tiny_content / "bikes.txt").write_text("I sold the bicycle and bought a scooter.")
    assert scan_folder(tiny_content).fingerprint != before
