"""diff_releases between two builds whose differences the test made on purpose."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import build_inputs as B
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from corpus_tools.build.driver import build_release
from corpus_tools.release.diff import diff_releases


def _export(articles: list[B.Article]) -> list[dict]:
    return [B.task(n + 1, art, [B.annotation(500 + n, art.result(f"r{n}-"))]) for n, art in enumerate(articles)]


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    root = tmp_path_factory.mktemp("diff")
    old = [B.news_article(i) for i in range(10)]
    new = [B.news_article(i) for i in range(1, 12)]  # art-0000 removed; art-0010, art-0011 added
    new[0] = B.news_article(1, variant=1)  # art-0001: text changed
    by_id = {a.id: a for a in new}
    a2 = by_id["art-0002"]
    a2.spans = [(k, s, e, "LOC" if k == "city2" else lab) for k, s, e, lab in a2.spans]  # relabelled span
    a3 = by_id["art-0003"]
    a3.spans = [sp for sp in a3.spans if sp[0] != "un"]  # removed span
    a4 = by_id["art-0004"]
    a4.relations = [("per", "city", "PHYS.Located"), ("per", "org", "ORG-AFF.Membership"),  # relabelled
                    ("un", "city2", "GEN-AFF.Org-Location-Origin")]  # added relation
    v1, v2 = root / "v1", root / "v2"
    build_release(B.write_export(root / "old.json", _export(old)), version="1.0.0", out=v1)
    build_release(B.write_export(root / "new.json", _export(new)), version="1.1.0", out=v2, previous=v1)
    return v1, v2, old, new


def test_diff_counts(pair):
    v1, v2, old, new = pair
    diff = diff_releases(v1, v2)
    assert (diff.old_version, diff.new_version) == ("1.0.0", "1.1.0")
    assert diff.documents_added == ["art-0010", "art-0011"]
    assert diff.documents_removed == ["art-0000"]
    assert diff.documents_text_changed == ["art-0001"]
    assert diff.documents_annotation_changed == ["art-0002", "art-0003", "art-0004"]
    assert diff.documents_moved == []
    assert diff.spans.to_dict() == {"added": 6 + 12, "removed": 6 + 6 + 1, "relabelled": 1}
    assert diff.relations.to_dict() == {"added": 2 + 4 + 1, "removed": 2 + 2, "relabelled": 1}
    old_spans = sum(len(a.spans) for a in old)
    new_spans = sum(len(a.spans) for a in new)
    assert old_spans - diff.spans.removed - diff.spans.relabelled + diff.spans.added + diff.spans.relabelled \
        == new_spans
    before = Counter(lab for a in old for *_, lab in a.spans)
    after = Counter(lab for a in new for *_, lab in a.spans)
    assert diff.entity_labels == {lab: (before[lab], after[lab]) for lab in sorted(before | after)}
    rel_before = Counter(lab for a in old for *_, lab in a.relations)
    rel_after = Counter(lab for a in new for *_, lab in a.relations)
    assert diff.relation_labels == {lab: (rel_before[lab], rel_after[lab]) for lab in sorted(rel_before | rel_after)}
    assert sum(new for _, new in (c["documents"] for c in diff.splits.values())) == len(new)
    as_dict = diff.to_dict()
    assert as_dict["changed"] is True and json.dumps(as_dict)
    assert as_dict["entity_labels"]["LOC"]["delta"] == 1


def _ingested_export(tmp_path, name: str, articles: list[B.Article]) -> Path:
    """The articles through ingest (a JSONL file whose records carry the source's id and the text; no title field,
    which would be put first in the text) and into an export, each task annotated with its article's gold."""
    from corpus_tools.ingest.driver import ingest_paths
    from corpus_tools.labelstudio.tasks import article_to_task

    source = tmp_path / f"{name}.jsonl"
    source.write_text("".join(json.dumps({"id": f"wire-{k}", "text": a.text}, ensure_ascii=False)
                              + "\n" for k, a in enumerate(articles)), encoding="utf-8")
    result = ingest_paths([source])
    ingested = list(result.articles)
    assert result.report.valid and len(ingested) == len(articles)
    tasks = []
    for k, (record, art) in enumerate(zip(ingested, articles, strict=True)):
        tasks.append({"id": k + 1, **article_to_task(record),
                      "annotations": [B.annotation(700 + k, art.result(f"e{k}-"))], "predictions": []})
    return B.write_export(tmp_path / f"{name}-export.json", tasks)


def test_an_edited_text_keeps_its_id_and_split(tmp_path):
    """An article edited at its source (same source id, fixed text) is the same document in the next release: it
    stays in its split, no other document moves, and the diff and the changelog say its text changed."""
    old = [B.news_article(i) for i in range(20)]
    v1, v2 = tmp_path / "v1", tmp_path / "v2"
    build_release(_ingested_export(tmp_path, "old", old), version="1.0.0", out=v1)
    before = json.loads((v1 / "splits.json").read_text(encoding="utf-8"))["assignments"]
    edited = next(k for k in range(20) if before[f"wire-{k}"] != "train")  # not in the largest split by chance
    new = list(old)
    new[edited] = B.news_article(edited, variant=1)  # the same spans, a word of the text fixed
    assert new[edited].text != old[edited].text
    build_release(_ingested_export(tmp_path, "new", new), version="1.1.0", out=v2, previous=v1)
    after = json.loads((v2 / "splits.json").read_text(encoding="utf-8"))["assignments"]
    assert after == before and sorted(after) == sorted(f"wire-{k}" for k in range(20))
    diff = diff_releases(v1, v2, detail=None)
    assert (diff.documents_added, diff.documents_removed, diff.documents_moved) == ([], [], [])
    assert diff.documents_text_changed == [f"wire-{edited}"]
    sha = lambda text: hashlib.sha256(text.encode("utf-8")).hexdigest()  # noqa: E731
    offset = len(old[edited].text.rsplit(" 0.", 1)[0]) + 1  # "... من نشرة 0." became "... من نشرة 1."
    assert [t.to_dict() for t in diff.text_changes] == [{
        "id": f"wire-{edited}", "split": before[f"wire-{edited}"], "old_sha256": sha(old[edited].text),
        "new_sha256": sha(new[edited].text), "first_difference": {
            "offset": offset, "old": old[edited].text[offset - 20 : offset + 30],
            "new": new[edited].text[offset - 20 : offset + 30]}}]
    readme = (v2 / "README.md").read_text(encoding="utf-8")
    assert (f"- Text changed under the same id (1; its spans and relations count as removed and added):"
            f" `wire-{edited}` (sha256 {sha(old[edited].text)[:12]} → {sha(new[edited].text)[:12]}).") in readme
    assert "1 with changed text, 0 with changed annotations, 0 moved between splits" in readme


def test_card_changelog_comes_from_the_diff(pair):
    _, v2, _, _ = pair
    readme = (v2 / "README.md").read_text(encoding="utf-8")
    assert "- Entity spans: 18 added, 13 removed, 1 relabelled." in readme
    assert "- Relations: 7 added, 4 removed, 1 relabelled." in readme
    assert "2 documents added, 1 removed, 1 with changed text, 3 with changed annotations, 0 moved" in readme


def test_identical_releases_have_no_differences(pair):
    v1, _, _, _ = pair
    diff = diff_releases(v1, v1)
    assert not diff.changed and diff.spans.to_dict() == {"added": 0, "removed": 0, "relabelled": 0}


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "corpus_tools", *args], capture_output=True, text=True,
                          timeout=300)


def test_diff_cli(pair):
    v1, v2, _, _ = pair
    result = run_cli("diff", str(v1), str(v2), "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == diff_releases(v1, v2).to_dict()
    table = run_cli("diff", str(v1), str(v2))
    assert table.returncode == 0 and "spans added / removed / relabelled" in table.stdout
    assert "18 / 13 / 1" in table.stdout
    same = run_cli("diff", str(v1), str(v1))
    assert same.returncode == 0 and "No differences." in same.stdout
    missing = run_cli("diff", str(v1), str(v1.parent / "nope"))
    assert missing.returncode != 0 and "Traceback" not in missing.stderr and "Error:" in missing.stderr


def test_label_names_are_read_without_datasets_and_equal_its_reading(pair):
    import pyarrow.parquet as pq
    from datasets import Features

    from corpus_tools.release.diff import _classlabel_names, label_names
    from corpus_tools.release.manifest import read_manifest

    v1 = pair[0]
    schema = pq.read_schema(v1 / read_manifest(v1)["configs"]["documents"]["train"]["files"][0])
    features = Features.from_arrow_schema(schema)
    expected = (features["entities"].feature["label"].names, features["relations"].feature["label"].names)
    assert label_names(schema) == expected
    # the older shape of a list of structs, and shapes that are not a ClassLabel list
    label = {"names": ["PER", "ORG"], "_type": "ClassLabel"}
    assert _classlabel_names([{"id": {"dtype": "string", "_type": "Value"}, "label": label}]) == ["PER", "ORG"]
    for odd in ({"feature": {"label": {"dtype": "int64", "_type": "Value"}}, "_type": "List"}, {"_type": "Value"}):
        with pytest.raises(TypeError):
            _classlabel_names(odd)


def test_a_build_with_previous_does_not_import_datasets(pair, tmp_path):
    v1, _, old, _ = pair
    export = B.write_export(tmp_path / "export.json", _export(old))
    script = ("import sys; from pathlib import Path; from corpus_tools.build.driver import build_release; "
              f"build_release(Path({str(export)!r}), version='1.0.1', out=Path({str(tmp_path / 'v')!r}), "
              f"previous=Path({str(v1)!r})); print('datasets' in sys.modules, 'pandas' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False False"  # pyarrow imports pandas at any to_numpy: the diff reads buffers
    assert "Changelog" in (tmp_path / "v" / "README.md").read_text(encoding="utf-8")


# -- the column-wise loader against a row-by-row reading of the same files --------------------------------
def _reference(files: dict[str, list], schema) -> tuple[dict, Counter, Counter, dict]:
    """Documents, label counts and split counts read row by row, as plain Python (the expectation)."""
    from corpus_tools.release.diff import label_names

    entity_names, relation_names = label_names(schema)
    docs, entity_labels, relation_labels, splits = {}, Counter(), Counter(), {}
    for split, rows in files.items():
        totals = splits.setdefault(split, Counter())
        for row in rows:
            ends = {e["id"]: (e["start"], e["end"]) for e in row["entities"]}
            spans = Counter((e["start"], e["end"], entity_names[e["label"]]) for e in row["entities"])
            rels = Counter((ends[r["head"]], ends[r["tail"]], relation_names[r["label"]]) for r in row["relations"]
                           if r["head"] in ends and r["tail"] in ends)
            docs[row["id"]] = (split, row["text"], spans, rels)
            entity_labels.update(label for *_, label in spans.elements())
            relation_labels.update(label for *_, label in rels.elements())
            totals.update(documents=1, entities=sum(spans.values()), relations=sum(rels.values()))
    return docs, entity_labels, relation_labels, splits


def _reference_diff(old: tuple, new: tuple) -> dict:
    """The diff of two references, written out from the rules in the module docstring."""
    (a_docs, a_ent, a_rel, a_splits), (b_docs, b_ent, b_rel, b_splits) = old, new
    counts = {"spans": Counter(), "relations": Counter()}
    changed, text_changed, moved = [], [], []
    for doc_id in sorted(set(a_docs) | set(b_docs)):
        a, b = a_docs.get(doc_id), b_docs.get(doc_id)
        if a is None or b is None:
            side = "added" if a is None else "removed"
            doc = b if a is None else a
            counts["spans"][side] += sum(doc[2].values())
            counts["relations"][side] += sum(doc[3].values())
            continue
        if a[0] != b[0]:
            moved.append({"id": doc_id, "old": a[0], "new": b[0]})
        if a[1] != b[1]:
            text_changed.append(doc_id)
            for kind, k in (("spans", 2), ("relations", 3)):
                counts[kind]["added"] += sum(b[k].values())
                counts[kind]["removed"] += sum(a[k].values())
            continue
        differs = False
        for kind, k in (("spans", 2), ("relations", 3)):
            gone, came = a[k] - b[k], b[k] - a[k]
            relabelled = sum((Counter(x[:2] for x in gone.elements()) & Counter(x[:2] for x in came.elements()))
                             .values())
            counts[kind]["relabelled"] += relabelled
            counts[kind]["added"] += sum(came.values()) - relabelled
            counts[kind]["removed"] += sum(gone.values()) - relabelled
            differs |= bool(gone or came)
        if differs:
            changed.append(doc_id)
    splits = {}
    for split in dict.fromkeys([*a_splits, *b_splits]):
        splits[split] = {w: {"old": a_splits.get(split, Counter())[w], "new": b_splits.get(split, Counter())[w],
                             "delta": b_splits.get(split, Counter())[w] - a_splits.get(split, Counter())[w]}
                         for w in ("documents", "entities", "relations")}
    return {
        "added": sorted(set(b_docs) - set(a_docs)), "removed": sorted(set(a_docs) - set(b_docs)),
        "text_changed": text_changed, "annotation_changed": changed, "moved": moved,
        "spans": {k: counts["spans"][k] for k in ("added", "removed", "relabelled")},
        "relations": {k: counts["relations"][k] for k in ("added", "removed", "relabelled")},
        "entity_labels": {k: (a_ent[k], b_ent[k]) for k in sorted(set(a_ent) | set(b_ent))},
        "relation_labels": {k: (a_rel[k], b_rel[k]) for k in sorted(set(a_rel) | set(b_rel))},
        "splits": splits,
    }


@st.composite
def _release_rows(draw: st.DrawFn) -> dict[str, list]:
    """Documents of a small release: ids from a small pool (so two draws share some), spans at a few offsets
    (so they repeat and get relabelled), relation ends that may name no span, a span id used twice."""
    files: dict[str, list] = {}
    for doc_id in draw(st.lists(st.sampled_from([f"d{i}" for i in range(6)]), unique=True, max_size=6)):
        split = draw(st.sampled_from(["train", "test"]))
        text = draw(st.sampled_from(["مصر والقاهرة 😀", "بغداد\r\nالعراق"]))
        entities = [{"id": draw(st.sampled_from(["a", "b", "c", "d"])), "start": s, "end": s + draw(st.integers(1, 3)),
                     "text": "", "label": draw(st.integers(0, 2))}
                    for s in draw(st.lists(st.integers(0, 4), max_size=5))]
        relations = [{"id": f"r{k}", "head": draw(st.sampled_from(["a", "b", "c", "x"])),
                      "tail": draw(st.sampled_from(["a", "b", "d"])), "label": draw(st.integers(0, 2))}
                     for k in range(draw(st.integers(0, 4)))]
        files.setdefault(split, []).append({"id": doc_id, "title": "", "text": text, "text_sha256": "",
                                            "source": "", "lang": "ar",
                                            "dateline_places": [], "dateline_paper": None, "dateline_agencies": [],
                                            "entities": entities, "relations": relations})
    return files


def _write(root, name: str, files: dict[str, list], schema, rows_per_file: int) -> tuple:
    import pyarrow as pa
    import pyarrow.parquet as pq

    from corpus_tools.release.diff import load_documents

    layout = {}
    for split, rows in files.items():
        layout[split] = []
        for k in range(0, len(rows), rows_per_file):  # several files per split, several batches
            rel = f"{name}/{split}-{k}.parquet"
            (root / name).mkdir(parents=True, exist_ok=True)
            pq.write_table(pa.Table.from_pylist(rows[k:k + rows_per_file], schema=schema), root / rel,
                           row_group_size=2)  # several row groups per file: texts are read again by row group
            layout[split].append(rel)
    return load_documents(root, version=name, files=layout)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(_release_rows(), _release_rows(), st.integers(1, 3))
def test_column_wise_loading_gives_the_row_by_row_diff(tmp_path_factory, old, new, rows_per_file):
    from corpus_tools.features import release_features
    from corpus_tools.ontology import load_ontology
    from corpus_tools.release.diff import diff_loaded

    schema = release_features(load_ontology()).schemas["documents"]
    root = tmp_path_factory.mktemp("rows")
    loaded = _write(root, "1.0.0", old, schema, rows_per_file)
    reference = _reference(old, schema)
    assert {doc_id: (d.split, d.spans, d.relations) for doc_id, d in loaded.docs.items()} == {
        doc_id: (split, spans, rels) for doc_id, (split, _, spans, rels) in reference[0].items()}
    diff = diff_loaded(loaded, _write(root, "1.1.0", new, schema, rows_per_file), detail=None)
    new_reference = _reference(new, schema)
    expected = _reference_diff(reference, new_reference)
    got = diff.to_dict()
    assert got["documents"] == {k: expected[k] for k in ("added", "removed", "text_changed", "annotation_changed",
                                                        "moved")}
    assert got["spans"] == expected["spans"] and got["relations"] == expected["relations"]
    assert diff.entity_labels == expected["entity_labels"]
    assert diff.relation_labels == expected["relation_labels"]
    assert got["splits"] == expected["splits"]
    # the detail of every document with changed annotations: what left and what came, with the text at the offsets
    assert [d.id for d in diff.document_changes] == expected["annotation_changed"]
    for doc in diff.document_changes:
        (_, text, spans_before, rels_before), (split, _, spans_after, rels_after) = (
            reference[0][doc.id], new_reference[0][doc.id])
        assert doc.split == split
        assert Counter((c.start, c.end, c.old_label) for c in doc.spans if c.old_label) == spans_before - spans_after
        assert Counter((c.start, c.end, c.new_label) for c in doc.spans if c.new_label) == spans_after - spans_before
        assert Counter((c.head, c.tail, c.old_label) for c in doc.relations if c.old_label) == rels_before - rels_after
        assert Counter((c.head, c.tail, c.new_label) for c in doc.relations if c.new_label) == rels_after - rels_before
        assert all(c.text == text[c.start:c.end] for c in doc.spans)
        assert all((c.head_text, c.tail_text) == (text[slice(*c.head)], text[slice(*c.tail)]) for c in doc.relations)
    relabelled = sum(1 for d in diff.document_changes for c in d.spans if c.old_label and c.new_label)
    assert relabelled == expected["spans"]["relabelled"]
    assert not diff_loaded(_write(root, "1.0.1", old, schema, 2), _write(root, "1.0.2", old, schema, 3)).changed


def test_a_damaged_or_unreadable_release_is_a_clear_error(pair, tmp_path):
    """No traceback: a label id beyond the names, bytes that are not Parquet, a file that cannot be opened."""
    import shutil

    import pyarrow as pa
    import pyarrow.parquet as pq

    from corpus_tools.release.manifest import read_manifest

    v1 = pair[0]
    damaged = tmp_path / "damaged"
    shutil.copytree(v1, damaged)
    rel = read_manifest(damaged)["configs"]["documents"]["train"]["files"][0]
    table = pq.read_table(damaged / rel)
    rows = table.to_pylist()
    rows[0]["entities"][0]["label"] = 99
    pq.write_table(pa.Table.from_pylist(rows, schema=table.schema), damaged / rel)
    result = run_cli("diff", str(v1), str(damaged))
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert f"{rel} is damaged: label id 99 is not one of the" in result.stderr
    (damaged / rel).write_bytes(b"not parquet")
    result = run_cli("diff", str(v1), str(damaged))
    assert result.returncode == 1 and "Traceback" not in result.stderr and f"{rel} is damaged" in result.stderr
    (damaged / rel).unlink()
    (damaged / rel).mkdir()  # a path that cannot be read as a file
    result = run_cli("diff", str(v1), str(damaged))
    assert result.returncode == 3 and "Traceback" not in result.stderr and "cannot read" in result.stderr


def test_entities_that_are_not_classlabel_name_the_damaged_file(pair, tmp_path):
    """A documents file whose entities.label is a plain string (written by hand with pyarrow): exit 1, the file
    named, no AttributeError."""
    import shutil

    import pyarrow as pa
    import pyarrow.parquet as pq

    from corpus_tools.release.manifest import read_manifest

    v1 = pair[0]
    damaged = tmp_path / "damaged"
    shutil.copytree(v1, damaged)
    rel = read_manifest(damaged)["configs"]["documents"]["train"]["files"][0]
    pq.write_table(pa.table({"id": ["a"], "text": ["x"],
                             "entities": [[{"id": "e", "start": 0, "end": 1, "label": "PER"}]],
                             "relations": [[]]}), damaged / rel)
    result = run_cli("diff", str(v1), str(damaged))
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert result.stderr.startswith(f"Error: {damaged / rel} is damaged: its entities.label is not a ClassLabel")


@pytest.mark.parametrize("outside", ["/etc/passwd", "../x.parquet", "data/../../x.parquet"])
def test_manifest_paths_that_leave_the_release_are_not_followed(pair, tmp_path, outside):
    import shutil

    from corpus_tools.release.checks import check_release

    v1 = pair[0]
    odd = tmp_path / "odd"
    shutil.copytree(v1, odd)
    manifest = json.loads((odd / "manifest.json").read_text(encoding="utf-8"))
    manifest["configs"]["documents"]["train"]["files"] = [outside]
    (odd / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    result = run_cli("diff", str(v1), str(odd))
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert result.stderr.startswith(f"Error: {odd / 'manifest.json'} lists {outside!r}, which is not a path inside")
    report = check_release(odd)
    assert ("release-manifest-invalid", "manifest.json") in [(p.code, p.file) for p in report]
    assert any(outside in p.message and "not a path inside the release folder" in p.message for p in report)


def test_a_tokenizer_change_is_a_major_change_named_by_diff_and_the_changelog(pair, tmp_path):
    from corpus_tools.release.manifest import read_manifest

    v1, _, old, _ = pair
    export = B.write_export(tmp_path / "same.json", _export(old))
    minor = build_release(export, version="1.1.0", out=tmp_path / "minor", previous=v1,
                          segmentation="proclitic-article")
    warnings = [(p.code, p.severity) for p in minor.report.problems]
    assert warnings == [("build-tokens-changed", "warning")]
    card = (tmp_path / "minor" / "README.md").read_text(encoding="utf-8")
    change = ("**MAJOR change of the `tokens` config:** tokenizer corpus-tools-words 2 (segmentation none) →"
              " corpus-tools-words 2 (segmentation proclitic-article)")
    assert change in card
    diff = diff_releases(v1, tmp_path / "minor")
    assert diff.to_dict()["tokens_config"] == {
        "old": {"name": "corpus-tools-words", "version": 2, "segmentation": "none"},
        "new": {"name": "corpus-tools-words", "version": 2, "segmentation": "proclitic-article"},
        "major_change": True}
    assert ("tokens config", "corpus-tools-words 2 (segmentation none)",
            "corpus-tools-words 2 (segmentation proclitic-article)", "MAJOR change") in diff.table_rows()
    assert diff.changed and diff.documents_annotation_changed == []  # the documents themselves are the same
    major = build_release(export, version="2.0.0", out=tmp_path / "major", previous=v1,
                          segmentation="proclitic-article")
    assert major.report.problems == []
    assert change in (tmp_path / "major" / "README.md").read_text(encoding="utf-8")
    same = diff_releases(v1, v1)
    assert same.tokens_config_change() is None and same.to_dict()["tokens_config"]["major_change"] is False
    # a release made before tokenizer version 2 has no tokenizer in its manifest
    legacy = tmp_path / "legacy"
    build_release(export, version="1.0.0", out=legacy)
    manifest = read_manifest(legacy)
    del manifest["tokenizer"]
    (legacy / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    after = build_release(export, version="2.0.0", out=tmp_path / "after", previous=legacy)
    assert "**MAJOR change of the `tokens` config:** tokenizer version 1 (tokens also cut at annotated span edges)" \
        " → corpus-tools-words 2 (segmentation none)" in (tmp_path / "after" / "README.md").read_text(encoding="utf-8")
    assert "the span modes are gone" in (tmp_path / "after" / "README.md").read_text(encoding="utf-8")
    assert "the span modes are gone" not in card
    assert after.report.problems == []


# -- which spans and relations changed, per document ------------------------------------------------------
def _offsets(article: B.Article, key: str) -> tuple[int, int]:
    """The (start, end) of the span ``key`` of an article, as tests/build_inputs.py assembled it."""
    (start, end), = [(s, e) for k, s, e, _ in article.spans if k == key]
    return start, end


def test_diff_names_the_changed_spans_and_relations_of_each_document(pair):
    v1, v2, old, _ = pair
    art = {a.id: a for a in old}
    # art-0002: the other city (CITIES[(2 + 3) % 8]) after " وب", relabelled GPE → LOC
    prefix2 = f"{B.CITIES[2]} ـ وكالات: وقال {B.PEOPLE[2]} في {B.CITIES[2]} إن {B.MINISTRIES[2]} {B.NATIONS[2]}" \
              " ستعمل مع \u200fالأمم المتحدة وب"
    city2 = (len(prefix2), len(prefix2 + B.CITIES[5]))
    assert _offsets(art["art-0002"], "city2") == city2
    # art-0003: the United Nations span removed
    prefix3 = f"{B.CITIES[3]} ـ وكالات: وقال {B.PEOPLE[3]} في {B.CITIES[3]} إن {B.MINISTRIES[0]} {B.NATIONS[3]}" \
              " ستعمل مع \u200f"
    un = (len(prefix3), len(prefix3 + "الأمم المتحدة"))
    assert _offsets(art["art-0003"], "un") == un
    # art-0004: per → org relabelled Employment → Membership, un → city2 added
    head4 = f"{B.CITIES[4]} ـ وكالات: وقال "
    per = (len(head4), len(head4 + B.PEOPLE[4]))
    org_prefix = f"{head4}{B.PEOPLE[4]} في {B.CITIES[4]} إن "
    org_text = f"{B.MINISTRIES[1]} {B.NATIONS[0]}"
    org = (len(org_prefix), len(org_prefix + org_text))
    un_prefix = f"{org_prefix}{org_text} ستعمل مع \u200f"
    un4 = (len(un_prefix), len(un_prefix + "الأمم المتحدة"))
    city2_prefix = f"{un_prefix}الأمم المتحدة وب"
    city2_4 = (len(city2_prefix), len(city2_prefix + B.CITIES[7]))
    assert [_offsets(art["art-0004"], k) for k in ("per", "org", "un", "city2")] == [per, org, un4, city2_4]

    diff = diff_releases(v1, v2)
    no_change = {"added": [], "removed": [], "relabelled": []}
    assert [d.to_dict() for d in diff.document_changes] == [
        {"id": "art-0002", "split": "train",
         "spans": {**no_change, "relabelled": [{"start": city2[0], "end": city2[1], "text": B.CITIES[5],
                                                "old_label": "GPE", "new_label": "LOC"}]},
         "relations": no_change},
        {"id": "art-0003", "split": "train",
         "spans": {**no_change, "removed": [{"start": un[0], "end": un[1], "text": "الأمم المتحدة", "label": "ORG"}]},
         "relations": no_change},
        {"id": "art-0004", "split": "validation",
         "spans": no_change,
         "relations": {
             "added": [{"head": {"start": un4[0], "end": un4[1], "text": "الأمم المتحدة"},
                        "tail": {"start": city2_4[0], "end": city2_4[1], "text": B.CITIES[7]},
                        "label": "GEN-AFF.Org-Location-Origin"}],
             "removed": [],
             "relabelled": [{"head": {"start": per[0], "end": per[1], "text": B.PEOPLE[4]},
                             "tail": {"start": org[0], "end": org[1], "text": org_text},
                             "old_label": "ORG-AFF.Employment", "new_label": "ORG-AFF.Membership"}]}},
    ]
    assert diff.to_dict()["document_changes"] == [d.to_dict() for d in diff.document_changes]
    assert diff.change_rows() == [
        ("art-0002", "span", "relabelled", f"{city2[0]}:{city2[1]}", B.CITIES[5], "GPE", "LOC"),
        ("art-0003", "span", "removed", f"{un[0]}:{un[1]}", "الأمم المتحدة", "ORG", ""),
        # sorted by offsets within a document
        ("art-0004", "relation", "relabelled", f"{per[0]}:{per[1]} → {org[0]}:{org[1]}",
         f"{B.PEOPLE[4]} → {org_text}", "ORG-AFF.Employment", "ORG-AFF.Membership"),
        ("art-0004", "relation", "added", f"{un4[0]}:{un4[1]} → {city2_4[0]}:{city2_4[1]}",
         f"الأمم المتحدة → {B.CITIES[7]}", "", "GEN-AFF.Org-Location-Origin"),
    ]
    # the detail of the first documents only, or of none; never of identical releases
    assert [d.id for d in diff_releases(v1, v2, detail=2).document_changes] == ["art-0002", "art-0003"]
    assert diff_releases(v1, v2, detail=0).document_changes == []
    assert diff_releases(v1, v2, detail=0).documents_annotation_changed == ["art-0002", "art-0003", "art-0004"]
    same = diff_releases(v1, v1)
    assert same.document_changes == [] and same.change_rows() == [] and same.to_dict()["document_changes"] == []


def test_diff_cli_lists_the_changes_up_to_the_limit(pair):
    v1, v2, _, _ = pair
    full = diff_releases(v1, v2).to_dict()
    result = run_cli("diff", str(v1), str(v2), "--json")
    assert result.returncode == 0 and json.loads(result.stdout) == full
    assert len(full["document_changes"]) == 3
    limited = run_cli("diff", str(v1), str(v2), "--json", "--limit", "1")
    assert limited.returncode == 0
    assert json.loads(limited.stdout) == diff_releases(v1, v2, detail=1).to_dict()
    assert [d["id"] for d in json.loads(limited.stdout)["document_changes"]] == ["art-0002"]
    wide = {**os.environ, "COLUMNS": "200"}
    table = subprocess.run([sys.executable, "-m", "corpus_tools", "diff", str(v1), str(v2), "--limit", "2"],
                           capture_output=True, text=True, timeout=300, env=wide)
    assert table.returncode == 0, table.stderr
    changes = table.stdout.split("Changed annotations")[1]
    assert "art-0002" in changes and "relabelled" in changes and "الأمم المتحدة" in changes
    assert "art-0004" not in changes and "ORG-AFF" not in changes
    assert "1 more document with changed annotations (--limit N lists more)." in table.stdout
    default = subprocess.run([sys.executable, "-m", "corpus_tools", "diff", str(v1), str(v2)],
                             capture_output=True, text=True, timeout=300, env=wide)
    changes = default.stdout.split("Changed annotations")[1]
    assert "ORG-AFF.Employment" in changes and "ORG-AFF.Membership" in changes and "more documents" not in changes
    narrow = subprocess.run([sys.executable, "-m", "corpus_tools", "diff", str(v1), str(v2)],
                            capture_output=True, text=True, timeout=300, env={**os.environ, "COLUMNS": "50"})
    changes = narrow.stdout.split("Changed annotations")[1]  # ids and labels stay whole on one line however narrow
    assert "art-0002" in changes and "ORG-AFF.Employment" in changes and "ORG-AFF.Membership" in changes
    counts_only = run_cli("diff", str(v1), str(v2), "--limit", "0")
    assert "Changed annotations" not in counts_only.stdout and "3 more documents" in counts_only.stdout
    bad = run_cli("diff", str(v1), str(v2), "--limit", "-1")
    assert bad.returncode == 2 and "Traceback" not in bad.stderr


def test_cli_diff_of_a_path_that_does_not_exist_says_so(tmp_path: Path) -> None:
    """A missing path is a failure to run (exit 3) that says the path does not exist; a file that is not a
    release folder says only that."""
    (tmp_path / "file.txt").write_text("x", encoding="utf-8")
    missing = run_cli("diff", str(tmp_path / "nothere"), str(tmp_path / "file.txt"))
    assert missing.returncode == 3
    assert missing.stderr.strip() == f"Error: {tmp_path / 'nothere'} is not a release folder (it does not exist)"
    a_file = run_cli("diff", str(tmp_path / "file.txt"), str(tmp_path / "file.txt"))
    assert a_file.returncode == 3
    assert a_file.stderr.strip() == f"Error: {tmp_path / 'file.txt'} is not a release folder"
