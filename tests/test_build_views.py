"""build --view: configs documents-NAME and tokens-NAME on a normalised view, loaded with datasets and checked
against the original documents through the view's offset map."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import build_inputs as B
import pyarrow.parquet as pq
import pytest
from datasets import load_dataset

from corpus_tools.build.driver import build_release
from corpus_tools.errors import InputError
from corpus_tools.release.checks import check_release
from corpus_tools.release.diff import diff_releases
from corpus_tools.views import normalise, normalise_text

STEPS = ["tatweel", "diacritics", "alef", "ligatures", "digits"]


def view_article(i: int) -> B.Article:
    """An article whose names carry harakat, tatweel, hamza on alef, a lam-alef ligature and Eastern digits,
    and one entity that is nothing but tatweels (it vanishes from a view without tatweel)."""
    pieces = [
        B.Piece(f"قالَ الرئيسُ {i} "), B.Piece("مُحَمَّد بن سَلْمان", "PER", "per"),
        B.Piece(" في "), B.Piece("الإسكـــندرية", "GPE", "city"),
        B.Piece(" يوم ١٢ أيار إن "), B.Piece("ﻻتحاد الكتاب", "ORG", "org"),
        B.Piece(" و "), B.Piece("ـــ", "LOC", "dash"),
        B.Piece(f" عام ٢٠٢{i % 10}.\n"),
    ]
    relations = [("per", "city", "PHYS.Located"), ("per", "org", "ORG-AFF.Membership"),
                 ("per", "dash", "PHYS.Located")]
    article = B.assemble(f"view-{i:03d}", pieces, relations)
    article.title = f"خبر {i}"
    return article


def _export(path: Path, n: int) -> Path:
    tasks = []
    for i in range(n):
        art = view_article(i)
        tasks.append(B.task(i + 1, art, [B.annotation(700 + i, art.result(f"v{i}-"))]))
    return B.write_export(path, tasks)


@pytest.fixture(scope="module")
def release(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("views")
    out = root / "rel"
    build_release(_export(root / "export.json", 12), version="1.0.0", out=out, views=[f"plain={','.join(STEPS)}"])
    return out


def _rows(release: Path, config: str, cache: Path) -> list[dict]:
    ds = load_dataset(str(release), config, cache_dir=str(cache))
    return [row for split in ds for row in ds[split]]


def test_the_view_configs_load_and_their_spans_map_back_to_the_original(release, tmp_path):
    originals = {row["id"]: row for row in _rows(release, "documents", tmp_path / "c")}
    views = _rows(release, "documents-plain", tmp_path / "c")
    assert sorted(row["id"] for row in views) == sorted(originals)
    vanished = 0
    for row in views:
        original = originals[row["id"]]
        view = normalise(original["text"], STEPS)
        assert row["text"] == view.text
        # an independent expectation of the view text: each step written out by hand
        expected = original["text"].replace("\u0640", "").replace("ﻻ", "لا").replace("إ", "ا").replace("أ", "ا")
        for mark in "\u064e\u064f\u0650\u0651\u0652":
            expected = expected.replace(mark, "")
        expected = expected.translate(str.maketrans("٠١٢٣٤٥٦٧٨٩", "0123456789"))
        assert row["text"] == expected
        by_id = {e["id"]: e for e in original["entities"]}
        assert {e["id"] for e in row["entities"]} == set(by_id) - {e["id"] for e in original["entities"]
                                                                  if not normalise_text(e["text"], STEPS)}
        vanished += len(by_id) - len(row["entities"])
        for entity in row["entities"]:
            source = by_id[entity["id"]]
            assert row["text"][entity["start"]:entity["end"]] == entity["text"] == normalise_text(source["text"], STEPS)
            assert view.span_to_original(entity["start"], entity["end"]) == (source["start"], source["end"])
            assert entity["label"] == source["label"]
        kept = {e["id"] for e in row["entities"]}
        assert [r for r in original["relations"] if r["head"] in kept and r["tail"] in kept] == row["relations"]
    assert vanished == len(views)  # the tatweel-only entity of every article
    card = (release / "README.md").read_text(encoding="utf-8")
    assert "### `plain`: `ligatures`, `tatweel`, `diacritics`, `alef`, `digits`" in card
    assert f"{vanished} entities (LOC: {vanished}) consist only of characters the view deletes" in card
    assert "view.span_to_original(pred_start, pred_end)" in card


def test_the_view_tokens_are_those_of_the_normalised_text(release, tmp_path):
    from corpus_tools.spans import tokenize

    texts = {row["id"]: row["text"] for row in _rows(release, "documents-plain", tmp_path / "c")}
    tokens = _rows(release, "tokens-plain", tmp_path / "c")
    names = load_dataset(str(release), "tokens-plain", cache_dir=str(tmp_path / "c"))["train"].features[
        "ner_tags"].feature.names
    for row in tokens:
        expected = tokenize(texts[row["id"]])
        assert row["tokens"] == [t.text for t in expected]
        assert row["token_start"] == [t.start for t in expected]
        tags = [names[t] for t in row["ner_tags"]]
        assert tags[row["tokens"].index("الاسكندرية")] == "B-GPE"
        assert tags[row["tokens"].index("لاتحاد")] == "B-ORG"


def test_streaming_loads_the_view_configs(release, tmp_path):
    first = next(iter(load_dataset(str(release), "documents-plain", split="train", streaming=True)))
    assert "ـ" not in first["text"] and all(first["text"][e["start"]:e["end"]] == e["text"]
                                             for e in first["entities"])
    row = next(iter(load_dataset(str(release), "tokens-plain", split="train", streaming=True)))
    assert row["tokens"] and len(row["tokens"]) == len(row["ner_tags"])
    original = next(iter(load_dataset(str(release), "tokens", split="train", streaming=True)))
    assert original["tokens"] and len(original["tokens"]) == len(original["ner_tags"])


def test_the_release_with_views_passes_its_checks_and_records_them(release, ontology):
    assert check_release(release, ontology=ontology).problems == []
    assert check_release(release).problems == []
    manifest = json.loads((release / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["views"] == {"plain": ["ligatures", "tatweel", "diacritics", "alef", "digits"]}
    assert {"documents-plain", "tokens-plain"} <= set(manifest["configs"])


def _damaged_copy(release: Path, tmp_path: Path, config: str, edit) -> tuple[Path, str]:
    import shutil

    import pyarrow as pa
    from release_factory import rehash

    copy = tmp_path / "copy"
    shutil.copytree(release, copy)
    manifest = json.loads((copy / "manifest.json").read_text(encoding="utf-8"))
    rel = manifest["configs"][config]["train"]["files"][0]
    table = pq.read_table(copy / rel)
    rows = table.to_pylist()
    edit(rows)
    pq.write_table(pa.Table.from_pylist(rows, schema=table.schema), copy / rel)
    rehash(copy)
    return copy, rel


def test_a_view_row_that_is_not_its_document_on_the_view_fails_the_checks(release, ontology, tmp_path):
    def relabel(rows):
        rows[0]["entities"][0]["label"] = (rows[0]["entities"][0]["label"] + 1) % len(ontology.entity_labels)

    copy, rel = _damaged_copy(release, tmp_path, "documents-plain", relabel)
    problems = check_release(copy, ontology=ontology).problems
    assert [(p.code, p.file, p.details["row"]) for p in problems if p.code == "release-view-document"] == [
        ("release-view-document", rel, 0)]
    assert "its entities are not the documents' entities moved onto the view" in problems[0].message


@pytest.mark.parametrize(("edit", "what"), [
    (lambda row: row.__setitem__("text", row["text"][:-2] + "!\n"), "its text is not the documents text normalised"),
    (lambda row: row["relations"].pop(), "its relations are not the documents' relations"),
    (lambda row: row.__setitem__("id", "other"), "its id 'other' is not its documents row's"),
    (lambda row: row.__setitem__("text_sha256", "0" * 64), "its text_sha256 is not its documents row's"),
])
def test_each_part_of_a_view_row_is_checked(release, ontology, tmp_path, edit, what):
    copy, rel = _damaged_copy(release, tmp_path, "documents-plain", lambda rows: edit(rows[1]))
    problems = [p for p in check_release(copy, ontology=ontology).problems if p.code == "release-view-document"]
    assert [(p.file, p.details["row"]) for p in problems] == [(rel, 1)]
    assert what in problems[0].message


def test_fewer_view_tokens_rows_than_documents_rows_fail_the_checks(release, ontology, tmp_path):
    copy, rel = _damaged_copy(release, tmp_path, "tokens-plain", lambda rows: rows.pop())
    codes = {p.code for p in check_release(copy, ontology=ontology).problems}
    assert "release-cross-config" in codes


def test_the_ontology_declares_views_every_release_repeats(tmp_path, repo_root):
    from corpus_tools.ontology import load_ontology

    text = (repo_root / "annotations" / "ontology.yaml").read_text(encoding="utf-8")
    path = tmp_path / "ontology.yaml"
    path.write_text(text.replace("span_policy:", "views:\n  bare: [diacritics, tatweel]\nspan_policy:", 1),
                    encoding="utf-8")
    declared = load_ontology(path)
    assert declared.views == (("bare", ("diacritics", "tatweel")),)
    out = tmp_path / "rel"
    build_release(_export(tmp_path / "e.json", 4), version="1.0.0", out=out, ontology=declared,
                  views=["bare=tatweel,diacritics", "digits=digits"])
    configs = json.loads((out / "manifest.json").read_text(encoding="utf-8"))["configs"]
    assert {"documents-bare", "tokens-bare", "documents-digits", "tokens-digits"} <= set(configs)
    with pytest.raises(InputError, match="view 'bare' is given twice with different steps"):
        build_release(_export(tmp_path / "f.json", 4), version="1.0.0", out=tmp_path / "other", ontology=declared,
                      views=["bare=alef"])
    bad = tmp_path / "bad.yaml"
    bad.write_text(text.replace("span_policy:", "views:\n  bare: [nfkc]\nspan_policy:", 1), encoding="utf-8")
    from corpus_tools.errors import OntologyError

    with pytest.raises(OntologyError):
        load_ontology(bad)


def test_the_ontology_schema_lists_the_steps_of_the_library(repo_root):
    from corpus_tools.views import STEPS as LIBRARY_STEPS

    for name in ("ontology.schema.json", "manifest.schema.json"):
        schema = json.loads((repo_root / "schemas" / name).read_text(encoding="utf-8"))
        assert set(schema["properties"]["views"]["additionalProperties"]["items"]["enum"]) == set(LIBRARY_STEPS)


def test_build_cli_view_option(tmp_path):
    export = _export(tmp_path / "e.json", 4)

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "corpus_tools", "build", str(export), "--version", "1.0.0",
                               "--quiet", *args], capture_output=True, text=True, timeout=300)

    bad = run("--out", str(tmp_path / "bad"), "--view", "plain=tatweel,nfkc")
    assert bad.returncode == 2 and "unknown step 'nfkc'" in bad.stderr and "Traceback" not in bad.stderr
    assert not (tmp_path / "bad").exists()
    good = run("--out", str(tmp_path / "good"), "--view", "plain=tatweel", "--view", "d=digits")
    assert good.returncode == 0, good.stderr
    configs = json.loads((tmp_path / "good" / "manifest.json").read_text(encoding="utf-8"))["configs"]
    assert {"documents-plain", "tokens-plain", "documents-d", "tokens-d"} <= set(configs)


def test_diff_against_a_release_with_views(release, tmp_path):
    out = tmp_path / "next"
    build_release(_export(tmp_path / "e.json", 12), version="1.1.0", out=out, previous=release,
                  views=[f"plain={','.join(STEPS)}"])
    assert diff_releases(release, out).documents_added == []


def test_views_normalised_in_short_runs_are_the_same(release, tmp_path, monkeypatch):
    # A run boundary between every two documents (in this process): the same view rows as one long run.
    import corpus_tools.build.tables as tables

    monkeypatch.setattr(tables, "VIEW_RUN", 10)
    out = tmp_path / "short"
    build_release(_export(tmp_path / "e.json", 12), version="1.0.0", out=out, views=[f"plain={','.join(STEPS)}"],
                  workers=0)
    for config in ("documents-plain", "tokens-plain"):
        for split in ("train", "validation", "test"):
            files = sorted((release / "data" / config).glob(f"{split}-*.parquet"))
            assert [pq.read_table(f).to_pylist() for f in files] == [
                pq.read_table(out / f.relative_to(release)).to_pylist() for f in files]
