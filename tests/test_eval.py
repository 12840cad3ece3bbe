import json

from click.testing import CliRunner

from clone.cli import cli


def write_questions(path, rows):
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    return path


def test_eval_writes_one_line_per_question_and_never_touches_the_app_home(tmp_path, tiny_content, monkeypatch):
    (tiny_content / "notes").mkdir()
    (tiny_content / "notes" / "kettle.md").write_text("I descale my kettle with vinegar every second month.")
    questions = write_questions(
        tmp_path / "q.jsonl",
        [
            {
                "id": "b1",
                "question": "What flour do you feed the starter?",
                "kind": "factual",
                "evidence_doc": "bread.md",
                "answer_keywords": ["rye flour"],
            },
            {
                "id": "k1",
                "question": "How do you clean your kettle?",
                "evidence_doc": "notes/kettle.md",
                "answer_keywords": ["vinegar"],
            },
            {"id": "o1", "question": "Who won the ice hockey world championship?", "kind": "offtopic"},
        ],
    )
    home = tmp_path / "app-home"
    monkeypatch.setenv("CLONE_HOME", str(home))
    out = tmp_path / "out" / "replies.jsonl"
    result = CliRunner().invoke(
        cli,
        [
            "eval",
            "--content",
            str(tiny_content),
            "--questions",
            str(questions),
            "--out",
            str(out),
            "--name",
            "Sam Baker",
        ],
    )
    assert result.exit_code == 0, result.output
    assert not home.exists()
    lines = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [r["id"] for r in lines] == ["b1", "k1", "o1"]
    for r in lines:
        assert set(r) == {"id", "reply", "sources", "abstained", "refused"}
    bread, kettle, offtopic = lines
    assert "rye flour" in bread["reply"] and not bread["abstained"]
    assert bread["sources"][0] == {
        "path": "bread.md",
        "title": "Sourdough basics",
        "url": "https://example.com/bread",
        "start": None,
        "page": None,
    }
    assert kettle["sources"][0]["path"] == "notes/kettle.md"
    assert offtopic["abstained"] is True and offtopic["sources"] == []
    assert "I haven't talked about that" in offtopic["reply"]
    assert "answered: 2" in result.output and "abstained: 1" in result.output
    assert "keyword hit rate: 1.000" in result.output
    assert "source hit rate: 1.000" in result.output
    assert "off-topic abstention rate: 1.000" in result.output


def test_bad_question_line_is_reported_with_its_number(tmp_path, tiny_content):
    questions = tmp_path / "q.jsonl"
    questions.write_text('{"id": 1, "question": "ok"}\n{"id": 2}\n')
    result = CliRunner().invoke(
        cli, ["eval", "--content", str(tiny_content), "--questions", str(questions), "--out", str(tmp_path / "o.jsonl")]
    )
    assert result.exit_code == 1
    assert "line 2: not a valid question" in result.output
    assert not (tmp_path / "o.jsonl").exists()


def test_empty_question_file_is_an_error(tmp_path, tiny_content):
    questions = tmp_path / "q.jsonl"
    questions.write_text("\n")
    result = CliRunner().invoke(
        cli, ["eval", "--content", str(tiny_content), "--questions", str(questions), "--out", str(tmp_path / "o.jsonl")]
    )
    assert result.exit_code == 1 and "holds no questions" in result.output
