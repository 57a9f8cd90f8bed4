"""A clean export from the real Label Studio validates with no problem at all; a broken copy does not."""

from __future__ import annotations

import json

import pytest
from labelstudio_server import CLITIC_TEXT, EMOJI_TEXT, article, write_jsonl

from corpus_tools.labelstudio.importer import annotate_task, import_articles
from corpus_tools.labelstudio.snapshot import export_project
from corpus_tools.spans import Document, Relation, make_span
from corpus_tools.validate.driver import validate_export

pytestmark = pytest.mark.labelstudio


def _emoji_doc(prefix: str) -> Document:
    per = make_span(EMOJI_TEXT, len("😀 زار "), len("😀 زار محمد بن سلمان"), "PER", f"{prefix}per")
    gpe = make_span(EMOJI_TEXT, len("😀 زار محمد بن سلمان "), len("😀 زار محمد بن سلمان باريس"), "GPE", f"{prefix}gpe")
    rel = Relation(per.id, gpe.id, "PHYS.Located", f"{per.id}|PHYS.Located|{gpe.id}")
    return Document("emoji", EMOJI_TEXT, [per, gpe], [rel], meta={"model_version": "ner-v1", "score": 0.5})


def test_real_export_is_clean_and_a_mutation_is_caught(ls_client, ls_project, ontology, tmp_path):
    project = ls_project()
    articles = write_jsonl(tmp_path / "a.jsonl", [article("emoji", EMOJI_TEXT), article("clitic", CLITIC_TEXT),
                                                   article("empty", "لا شيء هنا")])
    preds = write_jsonl(tmp_path / "p.jsonl", [_emoji_doc("p").to_dict()])
    import_articles(ls_client, project, articles, ontology=ontology, predictions_path=preds,
                    index_dir=tmp_path / "ix")
    tasks = {data["article_id"]: task_id for task_id, data in ls_client.iter_task_data(project.id)}
    annotate_task(ls_client, tasks["emoji"], _emoji_doc("a"), ontology=ontology, lead_time=3.0)
    start = len("وصل الوفد أمس إلى العاصمة\nو")  # after the leading clitic و
    gpe = make_span(CLITIC_TEXT, start, start + len("بغداد"), "GPE", "c1")
    annotate_task(ls_client, tasks["clitic"], Document("clitic", CLITIC_TEXT, [gpe]), ontology=ontology)

    export = tmp_path / "export.json"
    export_project(ls_client, project.id, export)
    report = validate_export(export, ontology=ontology)
    assert report.problems == [] and report.valid
    assert (report.stats["tasks"], report.stats["annotations"], report.stats["predictions"]) == (3, 2, 1)
    assert (report.stats["spans"], report.stats["relations"]) == (5, 2)

    tasks_json = json.loads(export.read_text(encoding="utf-8"))
    index = next(i for i, t in enumerate(tasks_json) if t["data"]["article_id"] == "clitic")
    region = tasks_json[index]["annotations"][0]["result"][0]
    region["value"]["start"] -= 1  # the selection now swallows the clitic و
    broken = tmp_path / "broken.json"
    broken.write_text(json.dumps(tasks_json, ensure_ascii=False), encoding="utf-8")
    codes = {(p.code, p.task_id, p.json_path) for p in validate_export(broken, ontology=ontology).problems}
    assert ("span-text-mismatch", tasks_json[index]["id"], f"$[{index}].annotations[0].result[0].value.text") in codes
