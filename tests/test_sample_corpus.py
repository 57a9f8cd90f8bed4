"""The bundled sample corpus (annotations/sample/) is exact, valid, and follows docs/annotation-guidelines.md."""

from __future__ import annotations

import json
import unicodedata
from pathlib import Path

import pytest
import regex

from corpus_tools.schemas import validator_for
from corpus_tools.spans import Span, select_flat, spans_to_bio

SEED = "000_6e18b1ef7decaba4.txt"
# A span may follow a letter only when the letters before it are a proclitic sequence: conjunction و/ف,
# then preposition ب/ل/ك (each optionally with harakat), then an optional tatweel (docs §3.1, §3.2, §3.4).
PROCLITIC_RUN = regex.compile(r"(?:[وف]\p{M}*)?(?:[بلك]\p{M}*)?\u0640?")
WORD_CHAR = regex.compile(r"[\p{L}\p{M}]")
DATELINE = regex.compile(r"^[^\n]+ ـ \([^()\n]+\) ـ [^\n]+:$")


@pytest.fixture(scope="module")
def sample_dir(repo_root) -> Path:
    return repo_root / "annotations" / "sample"


@pytest.fixture(scope="module")
def documents(sample_dir) -> list[dict]:
    with open(sample_dir / "documents.jsonl", encoding="utf-8", newline="") as fh:
        return [json.loads(line) for line in fh]


@pytest.fixture(scope="module")
def manifest(sample_dir) -> dict:
    return json.loads((sample_dir / "manifest.json").read_text(encoding="utf-8"))


def _files(sample_dir: Path) -> list[str]:
    return sorted(p.name for p in (sample_dir / "articles").glob("*.txt"))


def _preceding_letters(text: str, start: int) -> str:
    i = start
    while i > 0 and WORD_CHAR.match(text[i - 1]):
        i -= 1
    return text[i:start]


def test_one_document_per_article_and_manifest_entry(sample_dir, documents, manifest):
    files = _files(sample_dir)
    assert len(files) >= 10 and SEED in files
    assert sorted(d["meta"]["source_id"] + ".txt" for d in documents) == files
    assert sorted(manifest) == files


def test_articles_are_raw_utf8_lf_without_bom(sample_dir):
    for name in _files(sample_dir):
        raw = (sample_dir / "articles" / name).read_bytes()
        text = raw.decode("utf-8")
        assert not text.startswith("\ufeff"), name
        assert b"\r" not in raw, name


def test_seed_is_byte_identical_to_the_shared_seed(sample_dir, shared_dir):
    assert (sample_dir / "articles" / SEED).read_bytes() == (shared_dir / "seeds" / SEED).read_bytes()


def test_text_id_and_schema(sample_dir, documents):
    validator = validator_for("document.schema.json")
    ids = set()
    for doc in documents:
        raw = (sample_dir / "articles" / (doc["meta"]["source_id"] + ".txt")).read_bytes()
        assert doc["text"] == raw.decode("utf-8")
        assert doc["id"] == doc["meta"]["source_id"]  # the id ingest gives the file
        assert doc["lang"] == "ar"
        assert list(validator.iter_errors(doc)) == [], (doc["meta"]["source_id"] + ".txt")
        ids.add(doc["id"])
    assert len(ids) == len(documents)


def test_provenance(documents, manifest):
    for doc in documents:
        entry = manifest[(doc["meta"]["source_id"] + ".txt")]
        assert doc["meta"]["synthetic"] is entry["synthetic"]
        assert entry["source"] and entry["license"]
        if entry["synthetic"]:
            assert entry["license"] == "Apache-2.0"
        else:
            assert "not cleared" in entry["license"]
    assert [f for f, e in manifest.items() if not e["synthetic"]] == [SEED]


def test_layout_title_and_dateline(documents):
    for doc in documents:
        lines = doc["text"].split("\n")
        name = (doc["meta"]["source_id"] + ".txt")
        assert lines[0] and lines[0] == doc["title"], name
        assert lines[1] == "", name
        assert DATELINE.match(lines[2]), name
        dateline = doc["dateline"]
        assert dateline["text"] == lines[2]
        assert doc["text"][dateline["start"]:dateline["end"]] == lines[2]
        assert dateline["start"] == len(lines[0] + "\n\n")
        assert dateline["places"] and dateline["paper"] and dateline["agencies"]
        paragraphs = [line for line in lines[3:] if line.strip()]
        if doc["meta"]["synthetic"]:
            assert 4 <= len(paragraphs) <= 8, name
            assert doc["text"].endswith("\n") and not doc["text"].endswith("\n\n"), name


def test_spans_are_exact_and_labelled(documents, ontology):
    for doc in documents:
        text, ids = doc["text"], set()
        for e in doc["entities"]:
            assert 0 <= e["start"] < e["end"] <= len(text)
            assert text[e["start"]:e["end"]] == e["text"], e
            assert e["label"] in ontology.entity_labels, e
            assert e["id"] not in ids
            ids.add(e["id"])


def test_span_edges_follow_the_guidelines(documents):
    for doc in documents:
        text = doc["text"]
        for e in doc["entities"]:
            first, last = text[e["start"]], text[e["end"] - 1]
            for ch in (first, last):
                assert not ch.isspace() and unicodedata.category(ch) != "Cf", e
                assert unicodedata.category(ch)[0] in "LN", e  # no punctuation or symbol at an edge
            before = _preceding_letters(text, e["start"])
            assert PROCLITIC_RUN.fullmatch(before) and before != "\u0640", (e, before)
            assert e["end"] == len(text) or not WORD_CHAR.match(text[e["end"]]), e  # ends at a word end


def test_spans_never_cross(documents, ontology):
    assert ontology.overlap == "nested"
    nested = 0
    for doc in documents:
        spans = [Span.from_dict(e) for e in doc["entities"]]
        for i, a in enumerate(spans):
            for b in spans[i + 1:]:
                if a.overlaps(b):
                    assert a.contains(b) or b.contains(a), (a, b)
                    nested += 1
    assert 1 <= nested <= 3


def test_only_nested_spans_are_left_out_of_bio(documents):
    for doc in documents:
        spans = [Span.from_dict(e) for e in doc["entities"]]
        flat, inner = select_flat(spans)
        encoding = spans_to_bio(doc["text"], spans)
        assert sorted(encoding.unencodable) == sorted(inner)


def test_relations_are_valid(documents, ontology):
    for doc in documents:
        spans = {e["id"]: e for e in doc["entities"]}
        flat_ids = {s.id for s in select_flat([Span.from_dict(e) for e in doc["entities"]])[0]}
        seen = set()
        assert len(doc["relations"]) >= 3, (doc["meta"]["source_id"] + ".txt")
        for r in doc["relations"]:
            rel = ontology.relation(r["label"])
            assert rel is not None, r
            assert r["head"] in spans and r["tail"] in spans, r
            assert r["head"] in flat_ids and r["tail"] in flat_ids, r  # never an inner (nested) span
            assert rel.allows(spans[r["head"]]["label"], spans[r["tail"]]["label"]), r
            assert r["id"] == f"{r['head']}|{r['label']}|{r['tail']}"
            key = (r["head"], r["label"], r["tail"])
            assert key not in seen, r
            if rel.symmetric:
                assert (r["tail"], r["label"], r["head"]) not in seen, r  # stored once
                assert spans[r["head"]]["start"] < spans[r["tail"]]["start"], r  # earlier span as head
            seen.add(key)


def test_the_corpus_exercises_the_guideline_cases(documents):
    texts = "".join(d["text"] for d in documents)
    spans = [(d["text"], e) for d in documents for e in d["entities"]]
    before = [_preceding_letters(t, e["start"]) for t, e in spans]
    assert {"و", "ب", "ل", "ول", "لـ"} <= set(before)
    assert any(e["text"] == "لأمم المتحدة" for _, e in spans)  # the لل contraction
    assert any(e["label"] == "GPE" and e["text"] == "الروسي" for _, e in spans)  # nisba adjective
    assert {"NORP"} <= {e["label"] for _, e in spans}
    assert regex.search(r"[٠-٩]", texts) and regex.search(r"[A-Z]{3}", texts)
    assert any(unicodedata.category(c) == "So" for c in texts)  # emoji
