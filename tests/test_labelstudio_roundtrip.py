"""Round trips through a real Label Studio: setup, idempotent import, predictions, annotations, export."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import pytest
import yaml
from labelstudio_server import CLITIC_TEXT, EMOJI_TEXT, arabic_articles, article, write_jsonl

from corpus_tools.artefacts import ontology_to_labelstudio_config
from corpus_tools.errors import ConfigChangeRefused, InvalidDataError, LabelStudioError
from corpus_tools.labelstudio.export import task_to_records
from corpus_tools.labelstudio.importer import add_prediction, annotate_task, import_articles
from corpus_tools.labelstudio.project import config_labels, setup_project
from corpus_tools.labelstudio.snapshot import export_project
from corpus_tools.ontology import default_ontology_path, load_ontology
from corpus_tools.report import Report
from corpus_tools.spans import Document, Relation, Span

pytestmark = pytest.mark.labelstudio

def export_tasks(client, project_id: int, path: Path) -> list[dict]:
    export_project(client, project_id, path)
    return json.loads(path.read_text(encoding="utf-8"))


# ---------------------------------------------------------------------------- setup


def test_setup_from_default_ontology_is_accepted_then_unchanged(ls_client, ontology):
    title = "setup from the default ontology"
    created = setup_project(ls_client, title, ontology)
    assert created.action == "created"
    project = ls_client.get_project(created.project.id)
    assert project.label_config.strip() == ontology_to_labelstudio_config(ontology).strip()
    assert config_labels(project.label_config) == set(ontology.entity_labels) | set(ontology.relation_labels)
    assert "PER" in project.expert_instruction and "و" in project.expert_instruction
    again = setup_project(ls_client, title, ontology)
    assert (again.action, again.project.id) == ("unchanged", created.project.id)


def test_setup_with_spaces_around_the_title_finds_its_project_again(ls_client, ontology):
    """Label Studio strips the spaces around a title: a second setup must find the project, not make another."""
    created = setup_project(ls_client, "  padded title\u00a0", ontology)
    assert (created.action, created.project.title) == ("created", "padded title")
    again = setup_project(ls_client, "  padded title\u00a0", ontology)
    assert (again.action, again.project.id) == ("unchanged", created.project.id)
    assert ls_client.find_project(" padded title ").id == created.project.id
    assert [p.id for p in ls_client.find_projects("padded title")] == [created.project.id]


def _ontology_without_norp(tmp_path: Path):
    data = yaml.safe_load(default_ontology_path().read_text(encoding="utf-8"))
    data["entities"] = [e for e in data["entities"] if e["label"] != "NORP"]
    for rel in data["relations"]:
        rel["tail"] = [t for t in rel["tail"] if t != "NORP"]
    path = tmp_path / "no-norp.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return load_ontology(path)


def test_setup_refuses_removing_a_label_in_use_and_allows_an_unused_one(ls_client, ontology, tmp_path):
    smaller = _ontology_without_norp(tmp_path)
    used = setup_project(ls_client, "NORP in use", ontology).project
    unused = setup_project(ls_client, "NORP unused", ontology).project
    text = "قال المسؤول إن العرب يرحبون"
    start = len("قال المسؤول إن ")
    for project in (used, unused):
        import_articles(ls_client, project, write_jsonl(tmp_path / f"a{project.id}.jsonl", [article("n1", text)]),
                        ontology=ontology, index_dir=tmp_path / "index")
    task_id, _ = next(ls_client.iter_task_data(used.id))
    annotate_task(ls_client, task_id, Document("n1", text, [Span(start, start + len("العرب"), "NORP", "s1",
                                                                 "العرب")]), ontology=ontology)

    with pytest.raises(ConfigChangeRefused, match=r"NORP \(1 results\)"):
        setup_project(ls_client, used.title, smaller)
    assert "NORP" in config_labels(ls_client.get_project(used.id).label_config)

    result = setup_project(ls_client, unused.title, smaller)
    assert (result.action, result.removed_labels, result.added_labels) == ("updated", ("NORP",), ())
    assert "NORP" not in config_labels(ls_client.get_project(unused.id).label_config)


# ---------------------------------------------------------------------------- import


def test_import_twice_adds_nothing_the_second_time(ls_client, ls_project, ontology, tmp_path):
    project = ls_project()
    path = write_jsonl(tmp_path / "articles.jsonl", arabic_articles(120) + [article("emoji", EMOJI_TEXT)])
    first = import_articles(ls_client, project, path, ontology=ontology, batch_size=50, index_dir=tmp_path / "ix")
    assert (first.stats["imported"], first.stats["already_present"], first.stats["batches"]) == (121, 0, 3)
    second = import_articles(ls_client, project, path, ontology=ontology, index_dir=tmp_path / "ix")
    assert (second.stats["imported"], second.stats["already_present"]) == (0, 121)
    assert second.stats["existing_found_by"] == "index"
    third = import_articles(ls_client, project, path, ontology=ontology, use_index=False)
    assert (third.stats["imported"], third.stats["existing_found_by"]) == (0, "listing")
    assert ls_client.count_tasks(project.id) == 121
    texts = {t["data"]["article_id"]: t["data"]["text"] for t in export_tasks(ls_client, project.id,
                                                                             tmp_path / "e.json")}
    assert texts["emoji"] == EMOJI_TEXT and len(texts) == 121


def test_a_second_import_into_the_same_project_waits_its_turn(ls_client, ls_project, ontology, tmp_path):
    """Two imports at once would both find every article new: the second is refused while the first runs."""
    project = ls_project()
    path = write_jsonl(tmp_path / "articles.jsonl", arabic_articles(60))
    first_batch_landed, second_tried = threading.Event(), threading.Event()
    outcome: dict[str, object] = {}

    def pause(done: int, total: int) -> None:  # the first import, between its batches
        if done == 20:
            first_batch_landed.set()
            second_tried.wait(60)

    def first() -> None:
        outcome["first"] = import_articles(ls_client, project, path, ontology=ontology, batch_size=20,
                                           index_dir=tmp_path / "ix", on_batch=pause)

    thread = threading.Thread(target=first)
    thread.start()
    try:
        assert first_batch_landed.wait(60)
        with pytest.raises(LabelStudioError, match=f"another import or annotate run into project {project.id}"):
            import_articles(ls_client, project, path, ontology=ontology, index_dir=tmp_path / "ix")
    finally:
        second_tried.set()
        thread.join(120)
    assert outcome["first"].stats["imported"] == 60
    assert ls_client.count_tasks(project.id) == 60
    again = import_articles(ls_client, project, path, ontology=ontology, index_dir=tmp_path / "ix")
    assert (again.stats["imported"], again.stats["already_present"]) == (0, 60)


def test_index_is_not_trusted_when_the_server_differs(ls_client, ls_project, ontology, tmp_path):
    project = ls_project()
    path = write_jsonl(tmp_path / "a.jsonl", arabic_articles(30))
    import_articles(ls_client, project, path, ontology=ontology, index_dir=tmp_path / "ix")
    # Another client imports the same articles' neighbours behind the index's back.
    other = write_jsonl(tmp_path / "b.jsonl", arabic_articles(40))
    import_articles(ls_client, project, other, ontology=ontology, use_index=False)
    again = import_articles(ls_client, project, other, ontology=ontology, index_dir=tmp_path / "ix")
    assert (again.stats["imported"], again.stats["existing_found_by"]) == (0, "listing")
    assert ls_client.count_tasks(project.id) == 40


def test_interrupted_import_resumes_without_duplicates(ls_server, ontology, tmp_path):
    """Kill the server in the middle of a batch request, restart it, re-run: exact task count."""
    client = ls_server.client()
    project = client.create_project("interrupted import", ontology_to_labelstudio_config(ontology))
    total, batch = 3000, 500
    path = write_jsonl(tmp_path / "a.jsonl", arabic_articles(total))
    first_batch = threading.Event()
    outcome: dict[str, object] = {}

    def run() -> None:
        try:
            import_articles(client, project, path, ontology=ontology, batch_size=batch, index_dir=tmp_path / "ix",
                            on_batch=lambda done, _: first_batch.set())
        except Exception as exc:  # noqa: BLE001 - the test inspects it
            outcome["error"] = exc

    worker = threading.Thread(target=run)
    worker.start()
    assert first_batch.wait(60), "the first batch never landed"
    time.sleep(0.15)  # the second request is now in flight
    ls_server.kill()
    worker.join(120)
    assert isinstance(outcome.get("error"), LabelStudioError)

    ls_server.restart()
    client = ls_server.client()
    landed = client.count_tasks(project.id)
    assert landed % batch == 0 and batch <= landed < total  # each request landed whole or not at all
    resumed = import_articles(client, project, path, ontology=ontology, batch_size=batch, index_dir=tmp_path / "ix")
    assert (resumed.stats["imported"], resumed.stats["already_present"]) == (total - landed, landed)
    assert client.count_tasks(project.id) == total
    ids = [data["article_id"] for _, data in client.iter_task_data(project.id)]
    assert len(ids) == len(set(ids)) == total


# ---------------------------------------------------------------------------- predictions and annotations


def _emoji_document(prefix: str = "p") -> tuple[Document, Span, Span]:
    per_start = len("😀 زار ")
    gpe_start = len("😀 زار محمد بن سلمان ")
    per = Span(per_start, per_start + len("محمد بن سلمان"), "PER", f"{prefix}_per", "محمد بن سلمان")
    gpe = Span(gpe_start, gpe_start + len("باريس"), "GPE", f"{prefix}_gpe", "باريس")
    rel = Relation(per.id, gpe.id, "PHYS.Located", f"{per.id}|PHYS.Located|{gpe.id}")
    return Document("emoji", EMOJI_TEXT, [per, gpe], [rel], meta={"model_version": "ner-v1", "score": 0.87}), per, gpe


def test_predictions_with_a_relation_become_full_prediction_objects(ls_client, ls_project, ontology, tmp_path):
    project = ls_project()
    doc, per, gpe = _emoji_document()
    articles = write_jsonl(tmp_path / "a.jsonl", [article("emoji", EMOJI_TEXT), article("plain", CLITIC_TEXT)])
    preds = write_jsonl(tmp_path / "p.jsonl", [doc.to_dict()])
    report = import_articles(ls_client, project, articles, ontology=ontology, predictions_path=preds,
                             index_dir=tmp_path / "ix")
    assert (report.stats["imported"], report.stats["predictions_imported"]) == (2, 1)

    tasks = {t["data"]["article_id"]: t for t in export_tasks(ls_client, project.id, tmp_path / "e.json")}
    [prediction] = tasks["emoji"]["predictions"]
    assert isinstance(prediction, dict)  # a full object, not an id
    assert (prediction["model_version"], prediction["score"]) == ("ner-v1", 0.87)
    assert {"from_id": "p_per", "to_id": "p_gpe", "type": "relation", "direction": "right",
            "labels": ["PHYS.Located"]} in prediction["result"]
    [record] = list(task_to_records(tasks["emoji"]))
    assert record.kind == "prediction" and record.entities == [per, gpe]
    assert record.relations == [Relation("p_per", "p_gpe", "PHYS.Located", "p_per|PHYS.Located|p_gpe")]
    assert tasks["plain"]["predictions"] == []

    again = import_articles(ls_client, project, articles, ontology=ontology, predictions_path=preds,
                            index_dir=tmp_path / "ix")
    assert (again.stats["imported"], again.stats["predictions_skipped"]) == (0, 1)


def test_invalid_predictions_are_refused_before_any_upload(ls_client, ls_project, ontology, tmp_path):
    project = ls_project()
    start = len("😀 زار ")
    bad = {
        "id": "emoji", "text": EMOJI_TEXT, "meta": {"model_version": "m"},
        "entities": [
            {"id": "a", "start": start, "end": start + len("محمد"), "text": "محمد", "label": "PERSON"},
            {"id": "b", "start": 30, "end": 99, "text": "x", "label": "GPE"},
            {"id": "c", "start": start, "end": start + 4, "text": "محمود", "label": "PER"},
        ],
        "relations": [{"head": "a", "tail": "zzz", "label": "PHYS.Located"}],
    }
    articles = write_jsonl(tmp_path / "a.jsonl", [article("emoji", EMOJI_TEXT)])
    preds = write_jsonl(tmp_path / "p.jsonl", [bad])
    with pytest.raises(InvalidDataError) as caught:
        import_articles(ls_client, project, articles, ontology=ontology, predictions_path=preds)
    found = sorted((p.code, p.json_path) for p in caught.value.report.problems)
    assert found == [
        ("relation-dangling", "$.relations[0].tail"),
        ("span-out-of-range", "$.entities[1].end"),
        ("span-text-mismatch", "$.entities[2].text"),
        ("span-unknown-label", "$.entities[0].label"),
    ]
    assert {p.line for p in caught.value.report.problems} == {1}
    assert ls_client.count_tasks(project.id) == 0


def test_annotations_through_the_api_export_with_exact_offsets(ls_client, ls_project, ontology, tmp_path):
    project = ls_project()
    import_articles(ls_client, project, write_jsonl(tmp_path / "a.jsonl", [
        article("emoji", EMOJI_TEXT), article("clitic", CLITIC_TEXT), article("empty", "نص بلا تعليق")]),
        ontology=ontology, index_dir=tmp_path / "ix")
    task_ids = {data["article_id"]: tid for tid, data in ls_client.iter_task_data(project.id)}

    per_start, gpe_start = len("😀 زار "), len("😀 زار محمد بن سلمان ")
    emoji_doc = Document("emoji", EMOJI_TEXT, [
        Span(per_start, per_start + len("محمد بن سلمان"), "PER", "e_per", "محمد بن سلمان"),
        Span(gpe_start, gpe_start + len("باريس"), "GPE", "e_gpe", "باريس"),
    ], [Relation("e_per", "e_gpe", "PHYS.Located")])
    clitic_start = len("وصل الوفد أمس إلى العاصمة\nو")
    clitic_doc = Document("clitic", CLITIC_TEXT, [Span(clitic_start, clitic_start + len("بغداد"), "GPE", "c_gpe",
                                                       "بغداد")])
    annotate_task(ls_client, task_ids["emoji"], emoji_doc, ontology=ontology, lead_time=12.5)
    annotate_task(ls_client, task_ids["clitic"], clitic_doc, ontology=ontology)

    with pytest.raises(InvalidDataError) as caught:  # checked against the stored text before upload
        annotate_task(ls_client, task_ids["clitic"], Document("clitic", CLITIC_TEXT, [
            Span(clitic_start - 1, clitic_start + 4, "GPE", "x", "بغداد")]), ontology=ontology)
    assert [(p.code, p.json_path, p.task_id) for p in caught.value.report.errors] == [
        ("span-text-mismatch", "$.entities[0].text", task_ids["clitic"])]
    # a warning does not block: the prediction is uploaded and the warning reported
    inside = clitic_start + len("بغ")  # starts inside بغداد, after letters that are no proclitic
    warned = Report()
    assert add_prediction(ls_client, task_ids["clitic"], Document("clitic", CLITIC_TEXT, [
        Span(inside, inside + len("داد"), "GPE", "w", "داد")]), ontology=ontology, model_version="m1", report=warned)
    assert [(p.code, p.json_path, p.task_id) for p in warned] == [
        ("span-left-edge-inside-word", "$.entities[0].start", task_ids["clitic"])]

    out = tmp_path / "export.json"
    summary = export_project(ls_client, project.id, out)
    assert (summary.tasks, summary.unannotated_tasks, summary.annotations, summary.relations) == (3, 1, 2, 1)
    assert summary.annotators == 1
    tasks = {t["data"]["article_id"]: t for t in json.loads(out.read_text(encoding="utf-8"))}
    [emoji_ann] = tasks["emoji"]["annotations"]
    assert emoji_ann["result"][0]["value"] == {"start": len("😀 زار "), "end": len("😀 زار محمد بن سلمان"),
                                               "text": "محمد بن سلمان", "labels": ["PER"]}
    assert emoji_ann["completed_by"]["email"] == ls_client.whoami()["email"]
    assert emoji_ann["lead_time"] == 12.5
    [clitic_ann] = tasks["clitic"]["annotations"]
    value = clitic_ann["result"][0]["value"]
    assert (value["start"], value["end"]) == (len("وصل الوفد أمس إلى العاصمة\nو"),
                                              len("وصل الوفد أمس إلى العاصمة\nوبغداد"))
    assert CLITIC_TEXT[value["start"]:value["end"]] == "بغداد"
    assert tasks["empty"]["annotations"] == []

    [record] = list(task_to_records(tasks["emoji"]))
    assert record.entities == emoji_doc.entities and not record.cancelled
    assert record.relations == [Relation("e_per", "e_gpe", "PHYS.Located", "e_per|PHYS.Located|e_gpe")]


def test_export_is_atomic_and_leaves_no_partial_file(ls_client, ls_project, tmp_path):
    project = ls_project()
    out = tmp_path / "export.json"
    out.write_text("previous export", encoding="utf-8")
    summary = export_project(ls_client, project.id, out)
    assert summary.tasks == 0 and json.loads(out.read_text(encoding="utf-8")) == []
    assert sorted(p.name for p in tmp_path.iterdir()) == ["export.json"]


def test_an_export_that_cannot_be_written_leaves_nothing_behind(ls_client, ls_project, ontology, tmp_path,
                                                                  monkeypatch):
    import errno
    import os

    from corpus_tools import files
    from corpus_tools.errors import OutputError

    project = ls_project()
    import_articles(ls_client, project, write_jsonl(tmp_path / "a.jsonl", arabic_articles(3)), ontology=ontology)
    (tmp_path / "file").write_text("not a folder", encoding="utf-8")
    for inside in (tmp_path / "file" / "export.json", tmp_path / "file" / "deeper" / "export.json"):
        with pytest.raises(OutputError) as refused:  # found before the server builds a snapshot
            ls_client.export_snapshot(project.id, inside)
        assert str(refused.value) == f"cannot write {inside}: {tmp_path / 'file'} is a file, not a folder"
    out = tmp_path / "export.json"

    def no_space(*args: object, **kwargs: object) -> None:  # the download's temporary file cannot be created
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(files, "claim_temporary", no_space)
    with pytest.raises(OutputError, match="cannot write"):
        ls_client.export_snapshot(project.id, out)
    assert not out.exists()
    snapshots = ls_client._sdk.projects.exports.list(id=project.id)
    assert list(snapshots) == []  # the snapshot made for the failed download was deleted


def test_an_export_interrupted_while_the_server_builds_it_leaves_no_snapshot(ls_server, ls_client, ls_project,
                                                                               ontology, tmp_path):
    """Ctrl-C (here: a timeout) during the request that builds the snapshot: the server goes on building it (and
    would save it again if it were deleted meanwhile), so the next export of the project deletes it."""
    from corpus_tools.errors import LabelStudioError

    project = ls_project()
    import_articles(ls_client, project, write_jsonl(tmp_path / "a.jsonl", arabic_articles(3000)), ontology=ontology,
                    batch_size=1000)
    built = ls_server.data_dir / "media" / "export" / str(project.id)  # where the server writes the snapshot it built
    out = tmp_path / "export.json"
    with pytest.raises(LabelStudioError, match="timed out"):
        ls_client.export_snapshot(project.id, out, timeout=0.3)
    deadline = time.monotonic() + 60
    while not (built.is_dir() and any(built.iterdir())) and time.monotonic() < deadline:
        time.sleep(0.2)
    time.sleep(1)  # the server's last save after writing the file
    assert built.is_dir() and not out.exists()
    assert len(list(ls_client._sdk.projects.exports.list(id=project.id))) == 1
    assert export_project(ls_client, project.id, out).tasks == 3000
    assert list(ls_client._sdk.projects.exports.list(id=project.id)) == []


# ---------------------------------------------------------------------------- a text changed at the source


def _spans_and_relations(result: list[dict]) -> tuple[list[tuple], list[tuple]]:
    spans = sorted((r["id"], r["value"]["start"], r["value"]["end"], r["value"]["text"], r["value"]["labels"][0])
                   for r in result if r.get("type") == "labels")
    relations = sorted((r["from_id"], r["to_id"], r["labels"][0]) for r in result if r.get("type") == "relation")
    return spans, relations


def test_a_changed_text_is_reported_then_updated_in_place_with_its_spans_moved(ls_client, ls_project, ontology,
                                                                               tmp_path):
    project = ls_project()
    old = "زار محمد بيروت ثم عاد إلى دمشق"
    new = "وقال: " + old.replace("بيروت", "القاهرة")
    person, beirut, damascus = len("زار "), len("زار محمد "), len("زار محمد بيروت ثم عاد إلى ")
    first = write_jsonl(tmp_path / "a.jsonl", [article("wire-1", old), article("wire-2", CLITIC_TEXT)])
    import_articles(ls_client, project, first, ontology=ontology, index_dir=tmp_path / "ix")
    task_ids = {data["article_id"]: tid for tid, data in ls_client.iter_task_data(project.id)}
    task = task_ids["wire-1"]
    per = Span(person, person + len("محمد"), "PER", "per", "محمد")
    gpe1 = Span(beirut, beirut + len("بيروت"), "GPE", "gpe1", "بيروت")
    gpe2 = Span(damascus, damascus + len("دمشق"), "GPE", "gpe2", "دمشق")
    annotation_id = annotate_task(ls_client, task, Document("wire-1", old, [per, gpe1, gpe2], [
        Relation("per", "gpe1", "PHYS.Located"), Relation("per", "gpe2", "PHYS.Located")]), ontology=ontology)
    prediction_id = add_prediction(ls_client, task, Document("wire-1", old, [gpe1, gpe2]), ontology=ontology,
                                   model_version="ner-v1")
    edited = write_jsonl(tmp_path / "b.jsonl", [article("wire-1", new), article("wire-2", CLITIC_TEXT)])

    # by default the task is left alone, and the import says so
    report = import_articles(ls_client, project, edited, ontology=ontology, index_dir=tmp_path / "ix")
    assert [(p.code, p.severity, p.line, p.json_path, p.task_id) for p in report.problems] == [
        ("upload-text-changed", "warning", 1, "$.text", task)]
    assert report.problems[0].message == (f"Article 'wire-1' (task {task}): text changed; run with --update-changed"
                                          " to replace it.")
    assert (report.stats["imported"], report.stats["text_changed"], report.stats["updated"]) == (0, 1, 0)
    assert ls_client.get_task_text(task) == old

    # --update-changed: the same task, the new text, every span moved or removed
    report = import_articles(ls_client, project, edited, ontology=ontology, index_dir=tmp_path / "ix",
                             update_changed=True)
    assert report.stats["updated_tasks"] == [{"article_id": "wire-1", "task_id": task, "annotations": 1,
                                              "predictions": 1, "spans_removed": 2}]
    assert [(p.code, p.task_id, p.annotation_id, p.details.get("prediction_id"), p.details["kind"],
             p.details["start"], p.details["end"]) for p in report.problems] == [
        ("upload-span-removed", task, annotation_id, None, "span", beirut, beirut + len("بيروت")),
        ("upload-span-removed", task, annotation_id, None, "relation", None, None),
        ("upload-span-removed", task, None, prediction_id, "span", beirut, beirut + len("بيروت"))]
    assert {tid for tid, _ in ls_client.iter_task_data(project.id)} == set(task_ids.values())
    assert ls_client.get_task_text(task) == new
    shift = len("وقال: ")
    moved_damascus = shift + damascus + len("القاهرة") - len("بيروت")
    moved = [("gpe2", moved_damascus, moved_damascus + len("دمشق"), "دمشق", "GPE"),
             ("per", shift + person, shift + person + len("محمد"), "محمد", "PER")]
    [annotation], [prediction] = ls_client.task_results(task)
    assert (annotation["id"], prediction["id"]) == (annotation_id, prediction_id)
    assert _spans_and_relations(annotation["result"]) == (moved, [("per", "gpe2", "PHYS.Located")])
    assert _spans_and_relations(prediction["result"]) == ([moved[0]], [])
    exported = {t["data"]["article_id"]: t for t in export_tasks(ls_client, project.id, tmp_path / "e.json")}
    assert exported["wire-1"]["data"]["sha256"] == article("wire-1", new)["sha256"]

    # idempotent: again (from the index, then from a listing) nothing changes
    for use_index in (True, False):
        again = import_articles(ls_client, project, edited, ontology=ontology, index_dir=tmp_path / "ix",
                                update_changed=True, use_index=use_index)
        assert (again.stats["imported"], again.stats["text_changed"], again.stats["updated"]) == (0, 0, 0)
        assert again.problems == []
    assert ls_client.task_results(task) == ([annotation], [prediction])
