"""``ls import --predictions FILE`` without articles, against a real Label Studio: predictions added to the tasks
with the documents' ids once per model version, new tasks for documents without one, texts that differ skipped
with a warning, errors refusing everything, the CLI with ``--from doccano``."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from labelstudio_server import CLITIC_TEXT, EMOJI_TEXT, article, write_jsonl

from corpus_tools.errors import InvalidDataError
from corpus_tools.interop.doccano import write_doccano
from corpus_tools.interop.format import Context
from corpus_tools.labelstudio.export import task_to_records
from corpus_tools.labelstudio.importer import import_articles, import_predictions
from corpus_tools.labelstudio.snapshot import export_project
from corpus_tools.report import Report
from corpus_tools.spans import Document, Relation, Span
from corpus_tools.validate.driver import validate_export

pytestmark = pytest.mark.labelstudio

NEW_TEXT = "وصل 😀 الرئيس عباس إلى رام الله"


def emoji_document() -> Document:
    per_start = len("😀 زار ")
    gpe_start = len("😀 زار محمد بن سلمان ")
    per = Span(per_start, per_start + len("محمد بن سلمان"), "PER", "per", "محمد بن سلمان")
    gpe = Span(gpe_start, gpe_start + len("باريس"), "GPE", "gpe", "باريس")
    return Document("emoji", EMOJI_TEXT, [per, gpe], [Relation("per", "gpe", "PHYS.Located", "r1")])


def new_document() -> Document:
    start = len("وصل 😀 الرئيس ")
    place = len("وصل 😀 الرئيس عباس إلى ")
    return Document("new-1", NEW_TEXT, [Span(start, start + len("عباس"), "PER", "abbas", "عباس"),
                                        Span(place, len(NEW_TEXT), "GPE", "ramallah", "رام الله")],
                    title="خبر", source="وفا")


def rebuilt_document() -> Document:
    """The clitic article with its text rebuilt from tokens (the line break became a space)."""
    text = CLITIC_TEXT.replace("\n", " ")
    start = len("وصل الوفد أمس إلى العاصمة و")
    return Document("clitic", text, [Span(start, start + len("بغداد"), "GPE", "b", "بغداد")])


def predictions_by_article(client, project_id: int, path: Path) -> dict[str, list[dict]]:
    export_project(client, project_id, path)
    return {t["data"]["article_id"]: t["predictions"] for t in json.loads(path.read_text(encoding="utf-8"))}


def test_predictions_go_onto_existing_tasks_once_per_model_version(ls_client, ls_project, ontology, tmp_path):
    project = ls_project()
    articles = write_jsonl(tmp_path / "a.jsonl", [article("emoji", EMOJI_TEXT), article("clitic", CLITIC_TEXT)])
    import_articles(ls_client, project, articles, ontology=ontology, index_dir=tmp_path / "ix")
    tasks = {data["article_id"]: task_id for task_id, data in ls_client.iter_task_data(project.id)}
    docs = write_jsonl(tmp_path / "docs.jsonl", [emoji_document().to_dict(), new_document().to_dict(),
                                                 rebuilt_document().to_dict()])

    first = import_predictions(ls_client, project, docs, ontology=ontology, model_version="m1",
                               index_dir=tmp_path / "ix")
    assert [(p.code, p.severity, p.line, p.task_id, p.details["document_id"]) for p in first.problems] == [
        ("upload-prediction-text-differs", "warning", 3, tasks["clitic"], "clitic")]
    stats = first.stats
    assert (stats["predictions_added"], stats["tasks_imported"], stats["already_present"], stats["text_differs"]) \
        == (1, 1, 0, 1)
    assert (stats["added_ids"], stats["imported_ids"], stats["text_differs_ids"]) == (["emoji"], ["new-1"],
                                                                                      ["clitic"])
    export = tmp_path / "e1.json"
    found = predictions_by_article(ls_client, project.id, export)
    assert [p["model_version"] for p in found["emoji"]] == ["m1"]
    assert [p["model_version"] for p in found["new-1"]] == ["m1"]
    assert found["clitic"] == []
    tasks_in_export = {t["data"]["article_id"]: t for t in json.loads(export.read_text(encoding="utf-8"))}
    assert tasks_in_export["new-1"]["data"]["text"] == NEW_TEXT
    assert tasks_in_export["new-1"]["data"]["title"] == "خبر"
    [record] = list(task_to_records(tasks_in_export["emoji"]))
    assert (record.entities, record.relations) == (emoji_document().entities, [
        Relation("per", "gpe", "PHYS.Located", "per|PHYS.Located|gpe")])
    [record] = list(task_to_records(tasks_in_export["new-1"]))
    assert record.entities == new_document().entities
    report = validate_export(export, ontology=ontology)
    assert report.valid, [p.to_dict() for p in report.errors]

    again = import_predictions(ls_client, project, docs, ontology=ontology, model_version="m1",
                               index_dir=tmp_path / "ix")
    stats = again.stats
    assert (stats["predictions_added"], stats["tasks_imported"], stats["already_present"], stats["text_differs"]) \
        == (0, 0, 2, 1)
    assert sorted(stats["already_present_ids"]) == ["emoji", "new-1"]
    assert ls_client.count_tasks(project.id) == 3

    other = import_predictions(ls_client, project, docs, ontology=ontology, model_version="m2",
                               index_dir=tmp_path / "ix")
    assert (other.stats["predictions_added"], other.stats["tasks_imported"]) == (2, 0)
    found = predictions_by_article(ls_client, project.id, tmp_path / "e2.json")
    assert sorted(p["model_version"] for p in found["emoji"]) == ["m1", "m2"]
    assert sorted(p["model_version"] for p in found["new-1"]) == ["m1", "m2"]
    assert found["clitic"] == []


def test_an_error_in_any_document_uploads_nothing(ls_client, ls_project, ontology, tmp_path):
    project = ls_project()
    articles = write_jsonl(tmp_path / "a.jsonl", [article("emoji", EMOJI_TEXT)])
    import_articles(ls_client, project, articles, ontology=ontology, index_dir=tmp_path / "ix")
    bad = new_document()
    bad.entities[0] = Span(bad.entities[0].start, bad.entities[0].end, "PERSON", "abbas", "عباس")
    docs = write_jsonl(tmp_path / "docs.jsonl", [emoji_document().to_dict(), bad.to_dict()])
    with pytest.raises(InvalidDataError) as caught:
        import_predictions(ls_client, project, docs, ontology=ontology, index_dir=tmp_path / "ix")
    assert sorted((p.code, p.line, p.json_path) for p in caught.value.report.problems) == [
        ("span-unknown-label", 2, "$.entities[0].label"),
        ("upload-missing-model-version", 1, "$.meta.model_version"),
        ("upload-missing-model-version", 2, "$.meta.model_version"),
    ]
    assert ls_client.count_tasks(project.id) == 1
    assert predictions_by_article(ls_client, project.id, tmp_path / "e.json") == {"emoji": []}


def run(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "corpus_tools", *args], capture_output=True, text=True, env=env,
                          timeout=300)


def test_cli_adds_doccano_predictions_and_says_what_it_did(ls_server, tmp_path):
    env = ls_server.env(CORPUS_TOOLS_CACHE=str(tmp_path / "cache"))
    project = json.loads(run("ls", "setup", "--project", "cli doccano predictions", "--json", env=env).stdout)
    project_id = str(project["project_id"])
    articles = write_jsonl(tmp_path / "a.jsonl", [article("emoji", EMOJI_TEXT), article("clitic", CLITIC_TEXT)])
    assert run("ls", "import", str(articles), "--project", project_id, env=env).returncode == 0
    doccano = tmp_path / "model.jsonl"
    write_doccano([emoji_document(), new_document(), rebuilt_document()], doccano, Context())

    first = run("ls", "import", "--project", project_id, "--predictions", str(doccano), "--from", "doccano",
                "--model-version", "crf-2", "--json", env=env)
    assert first.returncode == 0, first.stderr
    data = json.loads(first.stdout)
    assert list(data) == list(Report().to_dict())
    assert [(p["code"], p["details"]["document_id"]) for p in data["problems"]] == [
        ("upload-prediction-text-differs", "clitic")]
    assert (data["stats"]["predictions_added"], data["stats"]["tasks_imported"]) == (1, 1)

    second = run("ls", "import", "--project", project_id, "--predictions", str(doccano), "--from", "doccano",
                 "--model-version", "crf-2", env=env)
    assert second.returncode == 0, second.stderr
    assert ("added 0 predictions (model version crf-2) to existing tasks; imported 0 new tasks with their"
            " predictions in 0 batches; 2 already had a prediction of this model version: ") in second.stderr
    assert "1 skipped, their text differs from their task's: clitic." in second.stderr

    usage = run("ls", "import", str(articles), "--project", project_id, "--predictions", str(doccano), "--from",
                "doccano", env=env)
    assert usage.returncode == 2 and "--from and --option read --predictions" in usage.stderr
    unknown = run("ls", "import", "--project", project_id, "--predictions", str(doccano), "--from", "doccano",
                  "--option", "offsets=graphemes", "--model-version", "x", env=env)
    assert unknown.returncode == 3 and unknown.stderr.strip().splitlines()[-1].startswith("Error: ")
    no_such = run("ls", "import", "--project", project_id, "--predictions", str(doccano), "--from", "doccano",
                  "--option", "colour=red", "--model-version", "x", env=env)
    assert no_such.returncode == 2 and "no option colour" in no_such.stderr and "offsets" in no_such.stderr
