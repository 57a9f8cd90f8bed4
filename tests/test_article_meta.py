"""Article metadata declared in the ontology, carried from ingest through Label Studio into the release's
``meta`` struct; and the one title rule (the title is always the text's first non-blank line(s))."""

from __future__ import annotations

import csv
import datetime
import io
import json
from pathlib import Path

import build_inputs as B
import pyarrow.parquet as pq
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from corpus_tools.artefacts import ontology_to_export_schema, ontology_to_features
from corpus_tools.build.driver import build_release
from corpus_tools.checks import validate_document, validate_task
from corpus_tools.ingest.driver import ingest_paths, ingest_to_jsonl, parse_field_mapping
from corpus_tools.ingest.newswire import is_blank, line_ranges
from corpus_tools.labelstudio.export import task_to_document
from corpus_tools.labelstudio.tasks import article_to_task
from corpus_tools.ontology import check_ontology, default_ontology_path, load_ontology
from corpus_tools.validate.driver import validate_export

TITLE = "زيارة محمد بن سلمان إلى باريس"
BODY = "زار محمد بن سلمان باريس أمس والتقى ماكرون."
DATELINE = "باريس ـ (الوطن) ـ وكالات:"
URL = "https://example.org/news/1?lang=ar&page=2"


def _ontology_with_meta(tmp_path: Path, meta: dict) -> Path:
    data = yaml.safe_load(default_ontology_path().read_text(encoding="utf-8"))
    data["meta"] = meta
    path = tmp_path / "meta-ontology.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def _ingest(path: Path, *specs: str, **options):
    result = ingest_paths([str(path)], fields=parse_field_mapping(specs), **options)
    return list(result.articles), result.report


def _located(report):
    return [(p.code, p.line, p.json_path) for p in report.problems]


def _csv(path: Path, header: list[str], rows: list[list[str]]) -> Path:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n", quoting=csv.QUOTE_ALL)
    writer.writerow(header)
    writer.writerows(rows)
    path.write_text(buffer.getvalue(), encoding="utf-8")
    return path


# ---------------------------------------------------------------------------------------------- the ontology


def test_the_first_class_meta_fields_are_always_declared_and_extra_ones_follow(tmp_path):
    assert load_ontology().meta_fields == (("published", "date"), ("url", "string"), ("source_id", "string"),
                                           ("synthetic", "bool"))  # the bundled ontology declares synthetic
    extra = load_ontology(_ontology_with_meta(tmp_path, {"section": "string", "words": "int"}))
    assert extra.meta_fields[3:] == (("section", "string"), ("words", "int"))


def test_a_meta_declaration_with_a_reserved_name_or_unknown_type_is_located(tmp_path):
    path = _ontology_with_meta(tmp_path, {"published": "date", "words": "integer"})
    report, ontology = check_ontology(path)
    assert ontology is None
    assert sorted((p.code, p.json_path) for p in report.problems) == [
        ("ontology-schema", "$.meta"), ("ontology-schema", "$.meta.words")]


def test_features_and_export_schema_come_from_the_declaration(tmp_path):
    from datasets import Value

    ontology = load_ontology(_ontology_with_meta(tmp_path, {"words": "int", "score_x": "float", "paid": "bool"}))
    assert ontology_to_features(ontology)["documents"]["meta"] == {
        "published": Value("date32"), "url": Value("string"), "source_id": Value("string"),
        "words": Value("int64"), "score_x": Value("float64"), "paid": Value("bool")}
    meta = ontology_to_export_schema(ontology)["$defs"]["task"]["properties"]["data"]["properties"]["meta"]
    assert [(k, v["type"]) for k, v in meta["properties"].items()] == [
        ("published", ["string", "null"]), ("url", ["string", "null"]), ("source_id", ["string", "null"]),
        ("words", ["integer", "null"]), ("score_x", ["number", "null"]), ("paid", ["boolean", "null"])]


# ---------------------------------------------------------------------------------------------- ingest


def test_csv_meta_is_parsed_as_its_declared_type(tmp_path):
    ontology = load_ontology(_ontology_with_meta(tmp_path, {"words": "int", "paid": "bool"}))
    path = _csv(tmp_path / "a.csv", ["Body", "Published", "URL", "Words", "Paid", "Desk"],
                [[BODY, "2024-03-01", URL, "42", "TRUE", "world"]])
    (article,), report = _ingest(path, "text=Body", "meta.published=Published", "meta.url=URL", "meta.words=Words",
                                 "meta.paid=Paid", "meta.desk=Desk", ontology=ontology)
    assert article["meta"] == {"published": "2024-03-01", "url": URL, "words": 42, "paid": True, "desk": "world"}
    # the undeclared field is kept and reported once, at its record; the rest is clean
    assert [(p.code, p.line, p.details["field"]) for p in report.problems if "meta" in p.code] == [
        ("ingest-meta-undeclared", 2, "desk")]


def test_a_declared_value_that_does_not_parse_is_a_located_error(tmp_path):
    path = _csv(tmp_path / "a.csv", ["Body", "Published"], [[BODY, "2024-03-01"], [BODY + " ثانية", "1 March 2024"]])
    articles, report = _ingest(path, "text=Body", "meta.published=Published")
    assert [a["source_line"] for a in articles] == [2]
    assert [(p.code, p.file, p.line, p.details["field"]) for p in report.errors] == [
        ("ingest-meta-type", str(path), 3, "published")]
    lines = [json.dumps({"text": BODY, "info": {"published": "2024-02-30", "url": 7}})]
    path = tmp_path / "a.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    articles, report = _ingest(path, "meta=info")
    assert articles == [] and _located(report) == [("ingest-meta-type", 1, "$.info.published")]  # the first only


def test_a_failed_meta_check_leaves_the_output_unwritten(tmp_path):
    path = _csv(tmp_path / "a.csv", ["text", "Published"], [[BODY, "yesterday"]])
    out = tmp_path / "articles.jsonl"
    report = ingest_to_jsonl([path], out, fields=parse_field_mapping(["meta.published=Published"]))
    assert [(p.code, p.line) for p in report.errors] == [("ingest-meta-type", 2)] and not out.exists()


# ---------------------------------------------------------------------------------------------- the title rule


def _title_holds(article: dict) -> None:
    """The invariant of docs/ingest.md: the title is the text's first non-blank line(s), as stored."""
    text, title = article["text"], article["title"]
    k = next(s for s, e in line_ranges(text) if not is_blank(text[s:e]))
    assert title and text[k : k + len(title)] == title
    assert k + len(title) == len(text) or text[k + len(title)] == "\n"


def test_a_title_field_goes_first_in_the_text_for_csv_and_jsonl(tmp_path):
    body = f"{DATELINE}\n{BODY}"
    csv_path = _csv(tmp_path / "a.csv", ["Headline", "Body"], [[TITLE, body], [TITLE, f"{TITLE}\n{body}"]])
    jsonl_path = tmp_path / "a.jsonl"
    jsonl_path.write_text(json.dumps({"title": TITLE, "text": body}, ensure_ascii=False) + "\n", encoding="utf-8")
    txt_path = tmp_path / "a.txt"
    txt_path.write_text(f"{TITLE}\n\n{body}", encoding="utf-8")
    composed, already = _ingest(csv_path, "text=Body", "title=Headline")[0]
    (from_jsonl,), _ = _ingest(jsonl_path)
    (from_txt,), _ = _ingest(txt_path)
    expected = f"{TITLE}\n\n{body}"
    assert composed["text"] == from_jsonl["text"] == from_txt["text"] == expected
    assert already["text"] == f"{TITLE}\n{body}"  # the body starts with the title: kept as it is
    for article in (composed, from_jsonl, from_txt, already):
        _title_holds(article)
        assert article["title"] == TITLE
        assert article["dateline"]["text"] == DATELINE
        start = article["dateline"]["start"]
        assert article["text"][start : start + len(DATELINE)] == DATELINE
        assert [article["text"][p["start"] : p["end"]] for p in article["paragraphs"]] == [BODY]
    assert composed["dateline"]["start"] == len(f"{TITLE}\n\n")


def test_a_title_fields_blank_lines_and_line_ends_are_not_part_of_the_title(tmp_path):
    path = tmp_path / "a.jsonl"
    records = [{"title": " \r\nعنوان\r\nثان\n\n", "text": BODY}, {"title": " \u200f\n", "text": f"{TITLE}\n{BODY}"}]
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    (first, second), _ = _ingest(path)
    assert (first["title"], first["text"]) == ("عنوان\nثان", f"عنوان\nثان\n\n{BODY}")
    assert (second["title"], second["text"]) == (TITLE, f"{TITLE}\n{BODY}")  # a blank title: the text's first line
    for article in (first, second):
        _title_holds(article)


def test_bidi_positions_are_counted_in_the_text_with_its_title(tmp_path):
    path = tmp_path / "a.jsonl"
    path.write_text(json.dumps({"title": TITLE, "text": "\u200fنص"}, ensure_ascii=False) + "\n", encoding="utf-8")
    (article,), report = _ingest(path)
    [problem] = report.problems
    assert problem.code == "ingest-bidi-control" and problem.details["positions"] == [len(f"{TITLE}\n\n")]
    assert article["text"][len(f"{TITLE}\n\n")] == "\u200f"


_LINE = st.text(st.sampled_from("بغداد وَ ـ\u200f\u0651😀 abc\r"), min_size=1, max_size=12)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(title=_LINE, body=st.lists(_LINE, min_size=1, max_size=4).map("\n".join))
def test_the_title_is_the_texts_first_lines_in_every_format(tmp_path_factory, title, body):
    folder = tmp_path_factory.mktemp("title")
    csv_path = _csv(folder / "a.csv", ["title", "text"], [[title, body]])
    jsonl_path = folder / "a.jsonl"
    jsonl_path.write_text(json.dumps({"title": title, "text": body}) + "\n", encoding="utf-8")
    txt_path = folder / "a.txt"
    txt_path.write_text(f"{title}\n\n{body}", encoding="utf-8", newline="")
    for path in (csv_path, jsonl_path, txt_path):
        articles, report = _ingest(path)
        if not articles:  # a blank text is refused, in every format alike
            assert [p.code for p in report.errors] == ["ingest-empty"]
            continue
        (article,) = articles
        _title_holds(article)
        for p in article["paragraphs"]:
            assert not is_blank(article["text"][p["start"] : p["end"]])


# ---------------------------------------------------------------------------------------------- validate, build


def _task(meta: object, task_id: int = 1) -> dict:
    article = {"id": "a1", "text": BODY, "title": "", "source": "", "lang": "ar", "sha256": "0" * 64,
               "dateline": None, "meta": meta}
    return {"id": task_id, **article_to_task(article), "annotations": []}


def test_validate_checks_task_meta_against_the_declaration():
    task = _task({"published": "01/03/2024", "url": URL, "desk": "world", "source_id": 5})
    problems = validate_task(task, index=0)
    assert sorted((p.code, p.json_path, p.task_id) for p in problems) == [
        ("meta-type", "$[0].data.meta.published", 1),
        ("meta-type", "$[0].data.meta.source_id", 1),
        ("meta-undeclared", "$[0].data.meta.desk", 1),
    ]
    assert validate_task(_task({"published": "2024-03-01T09:30:00+03:00", "url": None})) == []
    assert [(p.code, p.json_path) for p in validate_task(_task(["2024-03-01"]))] == [("meta-type", "$.data.meta")]


def test_a_documents_meta_keeps_its_provenance_keys_out_of_the_warning():
    document = task_to_document(_task({"published": "2024-03-01", "desk": "world"}, task_id=9))
    assert document.meta == {"published": "2024-03-01", "desk": "world", "task_id": 9}
    problems = validate_document(document.to_dict(), line=3)
    assert [(p.code, p.json_path, p.task_id, p.line) for p in problems] == [("meta-undeclared", "$.meta.desk", 9, 3)]


def test_build_writes_the_declared_meta_struct_and_warns_of_undeclared_fields(tmp_path):
    tasks = B.simple_export(4)
    metas = [{"published": "2024-03-01", "url": URL}, {"published": "2024-03-02T23:30:00-05:00", "desk": "world"},
             {}, None]
    for task, meta in zip(tasks, metas, strict=True):
        if meta is not None:
            task["data"]["meta"] = meta
    export = B.write_export(tmp_path / "export.json", tasks)
    out = tmp_path / "rel"
    result = build_release(export, version="1.0.0", out=out)
    assert [(p.code, p.json_path, p.task_id) for p in result.report.problems if "meta" in p.code] == [
        ("meta-undeclared", "$[1].data.meta.desk", tasks[1]["id"])]
    rows = {}
    for shard in sorted(out.glob("data/documents/*.parquet")):
        table = pq.read_table(shard)
        rows.update(zip(table.column("id").to_pylist(), table.column("meta").to_pylist(), strict=True))
    ids = [t["data"]["article_id"] for t in tasks]
    empty = {"published": None, "url": None, "source_id": None, "synthetic": None}  # every declared field
    assert rows == {
        ids[0]: {**empty, "published": datetime.date(2024, 3, 1), "url": URL},
        ids[1]: {**empty, "published": datetime.date(2024, 3, 2)},  # the date as written, no zone conversion
        ids[2]: empty,
        ids[3]: empty,
    }


def test_a_meta_value_of_the_wrong_type_fails_validate_and_build(tmp_path):
    tasks = B.simple_export(2)
    tasks[0]["data"]["meta"] = {"url": ["not", "a", "string"]}
    export = B.write_export(tmp_path / "export.json", tasks)
    report = validate_export(export)
    assert [(p.code, p.json_path, p.task_id) for p in report.errors] == [
        ("meta-type", "$[0].data.meta.url", tasks[0]["id"])]


# ---------------------------------------------------------------------------------------------- end to end


@pytest.mark.labelstudio
def test_a_date_and_a_url_survive_label_studio_into_load_dataset(ls_client, ls_project, ontology, tmp_path):
    from datasets import load_dataset

    from corpus_tools.labelstudio.importer import annotate_task, import_articles
    from corpus_tools.labelstudio.snapshot import export_project
    from corpus_tools.spans import Document, Span

    second_title, second_body = "اجتماع في بغداد", "اجتمع الوزراء في بغداد."
    path = _csv(tmp_path / "news.csv", ["Headline", "Body", "Published", "URL"], [
        [TITLE, BODY, "2024-03-01", URL],
        [second_title, second_body, "2024-03-02T09:30:00+03:00", "https://example.org/news/2"],
    ])
    articles = tmp_path / "articles.jsonl"
    report = ingest_to_jsonl([path], articles, fields=parse_field_mapping(
        ["text=Body", "title=Headline", "meta.published=Published", "meta.url=URL"]), ontology=ontology)
    assert report.problems == []
    project = ls_project()
    import_articles(ls_client, project, articles, ontology=ontology, index_dir=tmp_path / "ix")
    tasks = {data["title"]: (task_id, data) for task_id, data in ls_client.iter_task_data(project.id)}
    assert tasks[TITLE][1]["meta"] == {"published": "2024-03-01", "url": URL}

    # a name in the title is annotatable in a CSV record too
    text = f"{TITLE}\n\n{BODY}"
    in_title = len("زيارة محمد بن سلمان إلى ")
    in_body = len(f"{TITLE}\n\nزار محمد بن سلمان ")
    task_id, data = tasks[TITLE]
    assert data["text"] == text
    annotate_task(ls_client, task_id, Document(data["article_id"], text, [
        Span(in_title, in_title + len("باريس"), "GPE", "t1", "باريس"),
        Span(in_body, in_body + len("باريس"), "GPE", "b1", "باريس")]), ontology=ontology)
    task_id, data = tasks[second_title]
    at = len(f"{second_title}\n\nاجتمع الوزراء في ")
    annotate_task(ls_client, task_id, Document(data["article_id"], data["text"], [
        Span(at, at + len("بغداد"), "GPE", "g1", "بغداد")]), ontology=ontology)

    export = tmp_path / "export.json"
    export_project(ls_client, project.id, export)
    validated = validate_export(export, ontology=ontology)
    assert validated.valid and [p for p in validated.problems if "meta" in p.code] == []
    out = tmp_path / "release"
    build_release(export, version="1.0.0", out=out, ontology=ontology)
    loaded = load_dataset(str(out), "documents", cache_dir=str(tmp_path / "hf-cache"))
    rows = {row["title"]: row for split in loaded.values() for row in split}
    unset = {"source_id": None, "synthetic": None}  # declared fields the CSV does not give
    assert rows[TITLE]["meta"] == {"published": datetime.date(2024, 3, 1), "url": URL, **unset}
    assert rows[second_title]["meta"] == {"published": datetime.date(2024, 3, 2),
                                          "url": "https://example.org/news/2", **unset}
    assert [(e["start"], e["text"]) for e in rows[TITLE]["entities"]] == [(in_title, "باريس"), (in_body, "باريس")]


@pytest.mark.parametrize("workers", [1, 2])
def test_an_undeclared_field_is_one_warning_per_file_and_field_however_many_tasks_hold_it(tmp_path, workers,
                                                                                          monkeypatch):
    from corpus_tools.validate import driver, segmented

    monkeypatch.setattr(segmented, "SEGMENT_BYTES", 4096)  # several segments, merged in input order
    monkeypatch.setattr(driver, "VALIDATE_SEGMENT_BYTES", 4096)
    tasks = B.simple_export(30)
    for k, task in enumerate(tasks):
        task["data"]["meta"] = {"desk": "world"} if k % 3 else {"desk": "sport", "edition": k}
    export = B.write_export(tmp_path / "export.json", tasks)
    report = validate_export(export, workers=workers)
    kept = [(p.code, p.json_path, p.task_id, p.details) for p in report.problems]
    assert kept == [("meta-undeclared", "$[0].data.meta.desk", tasks[0]["id"], {"field": "desk"}),
                    ("meta-undeclared", "$[0].data.meta.edition", tasks[0]["id"], {"field": "edition"})]
    assert report.counts() == {"meta-undeclared": 30 + 10}  # every task holds desk, every third edition too
    assert report.to_dict()["warnings"] == 40 and report.valid
    built = build_release(export, version="1.0.0", out=tmp_path / "rel", workers=workers)
    assert [(p.code, p.json_path) for p in built.report.problems] == [
        ("meta-undeclared", "$[0].data.meta.desk"), ("meta-undeclared", "$[0].data.meta.edition")]
    assert built.report.counts()["meta-undeclared"] == 40
