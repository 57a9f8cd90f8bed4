"""`ls annotate`: canonical annotations saved through the real Label Studio API, idempotently."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from labelstudio_server import CLITIC_TEXT, article, write_jsonl

from corpus_tools.labelstudio.export import task_to_records
from corpus_tools.labelstudio.importer import import_articles
from corpus_tools.labelstudio.snapshot import export_project
from corpus_tools.spans import Document, Relation, Span, make_span

pytestmark = pytest.mark.labelstudio

PER_PREFIX = "وصل الوفد أمس إلى العاصمة\nو"  # the name after the leading clitic و


def _doc(label: str) -> Document:
    start = len("وصل الوفد أمس إلى العاصمة\nو")
    gpe = make_span(CLITIC_TEXT, start, start + len("بغداد"), label, "g1")
    return Document(id="ann-1", text=CLITIC_TEXT, entities=[gpe])


def _cli(ls_server, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "corpus_tools", *args], env=ls_server.env(), capture_output=True,
                          text=True, timeout=120)


def _annotations(client, project_id, tmp_path) -> list:
    out = tmp_path / "export.json"
    export_project(client, project_id, out)
    return [r for task in json.loads(out.read_text(encoding="utf-8")) for r in task_to_records(task)
            if r.kind == "annotation"]


def _one_task_and_its_document(ls_server, ls_project, ontology, tmp_path):
    """A new project with the article ann-1 imported, and a documents file annotating it (GPE)."""
    client = ls_server.client()
    project = ls_project()
    import_articles(client, project, write_jsonl(tmp_path / "a.jsonl", [article("ann-1", CLITIC_TEXT)]),
                    ontology=ontology)
    return client, project, write_jsonl(tmp_path / "docs.jsonl", [_doc("GPE").to_dict()])


def test_annotate_creates_once_then_updates(ls_server, ls_project, ontology, tmp_path):
    client, project, docs = _one_task_and_its_document(ls_server, ls_project, ontology, tmp_path)

    first = _cli(ls_server, "ls", "annotate", str(docs), "--project", str(project.id), "--json")
    assert first.returncode == 0, first.stderr
    assert json.loads(first.stdout)["stats"] == {"documents": 1, "created": 1, "updated": 0, "already_annotated": 0}
    again = _cli(ls_server, "ls", "annotate", str(docs), "--project", str(project.id), "--json")
    assert json.loads(again.stdout)["stats"]["already_annotated"] == 1
    [record] = _annotations(client, project.id, tmp_path)
    start = len(PER_PREFIX)
    assert record.entities == [Span(start, start + len("بغداد"), "GPE", "g1", "بغداد")]

    write_jsonl(docs, [_doc("LOC").to_dict()])
    updated = _cli(ls_server, "ls", "annotate", str(docs), "--project", str(project.id), "--update", "--json")
    assert json.loads(updated.stdout)["stats"]["updated"] == 1
    [record] = _annotations(client, project.id, tmp_path)
    assert [(s.start, s.label) for s in record.entities] == [(start, "LOC")]


def test_annotate_refuses_bad_documents_and_uploads_nothing(ls_server, ls_project, ontology, tmp_path):
    client = ls_server.client()
    project = ls_project()
    import_articles(client, project, write_jsonl(tmp_path / "a.jsonl", [article("ann-1", CLITIC_TEXT)]),
                    ontology=ontology)
    good = _doc("GPE")
    bad = Document(id="ann-1", text=CLITIC_TEXT, entities=[Span(0, 3, "PERSON", "x", CLITIC_TEXT[0:3])],
                   relations=[Relation("x", "missing", "PHYS.Located", "r")])
    unknown = Document(id="not-a-task", text="نص", entities=[])
    docs = write_jsonl(tmp_path / "docs.jsonl", [good.to_dict(), bad.to_dict(), unknown.to_dict()])
    result = _cli(ls_server, "ls", "annotate", str(docs), "--project", str(project.id), "--json")
    assert result.returncode == 1
    found = sorted((p["code"], p.get("line"), p.get("json_path")) for p in json.loads(result.stdout)["problems"])
    assert found == [
        ("document-duplicate-id", 2, "$.id"),  # ann-1 again: which annotation would win is not guessed
        ("upload-unknown-article", 3, "$.id"),
    ]
    # the second document alone: its own errors
    docs = write_jsonl(tmp_path / "bad.jsonl", [bad.to_dict()])
    result = _cli(ls_server, "ls", "annotate", str(docs), "--project", str(project.id), "--json")
    assert result.returncode == 1
    found = sorted((p["code"], p.get("line"), p.get("json_path")) for p in json.loads(result.stdout)["problems"])
    assert found == [("relation-dangling", 1, "$.relations[0].tail"), ("span-unknown-label", 1, "$.entities[0].label")]
    # two different annotations of one task: refused, nothing uploaded
    other = _doc("LOC")
    docs = write_jsonl(tmp_path / "twice.jsonl", [good.to_dict(), other.to_dict()])
    result = _cli(ls_server, "ls", "annotate", str(docs), "--project", str(project.id), "--json")
    assert result.returncode == 1
    [problem] = json.loads(result.stdout)["problems"]
    assert (problem["code"], problem["line"], problem["details"]) == ("document-duplicate-id", 2, {"first_line": 1})
    assert "Traceback" not in result.stderr
    assert _annotations(client, project.id, tmp_path) == []


def test_annotate_reports_warnings_and_uploads(ls_server, ls_project, ontology, tmp_path):
    client = ls_server.client()
    project = ls_project()
    import_articles(client, project, write_jsonl(tmp_path / "a.jsonl", [article("ann-1", CLITIC_TEXT)]),
                    ontology=ontology)
    inside = len(PER_PREFIX + "بغ")  # inside بغداد, after letters that are no proclitic: a warning
    doc = Document(id="ann-1", text=CLITIC_TEXT, entities=[make_span(CLITIC_TEXT, inside, inside + len("داد"), "GPE",
                                                                     "w1")])
    docs = write_jsonl(tmp_path / "docs.jsonl", [doc.to_dict()])
    result = _cli(ls_server, "ls", "annotate", str(docs), "--project", str(project.id), "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert (report["valid"], report["stats"]["created"]) == (True, 1)
    [task_id] = [t for t, _ in client.iter_task_data(project.id)]
    assert [(p["code"], p["severity"], p.get("line"), p.get("json_path"), p.get("task_id"))
            for p in report["problems"]] == [("span-left-edge-inside-word", "warning", 1, "$.entities[0].start",
                                              task_id)]
    again = _cli(ls_server, "ls", "annotate", str(docs), "--project", str(project.id))
    assert again.returncode == 0 and "[span-left-edge-inside-word]" in again.stderr
    [record] = _annotations(client, project.id, tmp_path)
    assert [(s.start, s.end) for s in record.entities] == [(inside, inside + len("داد"))]


def test_annotate_is_refused_while_another_run_holds_the_project(ls_server, ls_project, ontology, tmp_path):
    from corpus_tools.labelstudio.importer import project_lock

    client, project, docs = _one_task_and_its_document(ls_server, ls_project, ontology, tmp_path)
    with project_lock(client, project):  # as an import or annotate run in another process would
        held = _cli(ls_server, "ls", "annotate", str(docs), "--project", str(project.id))
    assert held.returncode == 3 and "Traceback" not in held.stderr
    assert f"another import or annotate run into project {project.id}" in " ".join(held.stderr.split())
    assert _annotations(client, project.id, tmp_path) == []
    after = _cli(ls_server, "ls", "annotate", str(docs), "--project", str(project.id), "--json")
    assert after.returncode == 0 and json.loads(after.stdout)["stats"]["created"] == 1
