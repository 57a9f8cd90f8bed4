"""The tokens config of the bundled sample: the card's widened and unencodable counts per label equal an
independent count, and docs/releases.md shows the segmentation rule's precision and recall on the sample."""

from __future__ import annotations

import json
import re
from collections import Counter

import pytest
import regex
from bio_reference import word_widened

from corpus_tools.build.driver import build_release
from corpus_tools.spans import Span

ARTICLE_CUT = regex.compile(  # the documented rule, written again from docs/releases.md
    r"(?<![\p{L}\p{M}\p{Nd}\u200c\u200d])(?:(?:[وف]\p{M}*\u0640*(?:[بكل]\p{M}*\u0640*)?|[بك]\p{M}*\u0640*)"
    r"(?=ال(?:\p{L}\p{M}*){3})|(?:[وف]\p{M}*\u0640*)?ل\p{M}*\u0640*(?=ل(?:\p{L}\p{M}*){3}))", regex.V1)
WORD = regex.compile(r"[\p{L}\p{M}\p{Nd}\u200c\u200d]+", regex.V1)


@pytest.fixture(scope="module")
def documents(repo_root) -> list[dict]:
    path = repo_root / "annotations" / "sample" / "documents.jsonl"
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def _expected_counts(documents: list[dict], labels: list[str]) -> tuple[Counter, Counter]:
    """Widened: an edge strictly inside a word.  Unencodable: once widened, a span that overlaps a span kept
    before it, the spans taken by start and then longest first (the outermost, earliest span is kept)."""
    widened, unencodable = Counter(), Counter()
    for doc in documents:
        text = doc["text"]
        spans = [Span(e["start"], e["end"], e["label"], e["id"], e["text"]) for e in doc["entities"]
                 if e["label"] in labels]
        wide = [word_widened(text, s) for s in spans]
        for s, w in zip(spans, wide, strict=True):
            widened[s.label] += (s.start, s.end) != (w.start, w.end)
        kept_end = -1
        for w in sorted(wide, key=lambda w: (w.start, w.start - w.end, w.label, w.id)):
            if w.start < kept_end:
                unencodable[w.label] += 1
            else:
                kept_end = w.end
    return widened, unencodable


def test_the_cards_counts_per_label_equal_an_independent_count(documents, repo_root, tmp_path, ontology):
    out = tmp_path / "sample"
    build_release(repo_root / "annotations" / "sample" / "documents.jsonl", version="1.0.0", out=out)
    card = (out / "README.md").read_text(encoding="utf-8")
    widened, unencodable = _expected_counts(documents, list(ontology.entity_labels))
    totals = Counter(e["label"] for doc in documents for e in doc["entities"])
    assert sum(widened.values()) > 0 and sum(unencodable.values()) > 0
    for label in ontology.entity_labels:
        assert f"| `{label}` | {totals[label]} | {widened[label]} | {unencodable[label]} |" in card, label
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["tokenizer"] == {"name": "corpus-tools-words", "version": 2, "segmentation": "none"}


def _scores(documents: list[dict], cut: bool) -> tuple[int, int, int, int]:
    words = annotated = predicted = correct = 0
    for doc in documents:
        text = doc["text"]
        spans = [(m.start(), m.end()) for m in WORD.finditer(text)]
        rule = {m.end() for m in ARTICLE_CUT.finditer(text)} if cut else set()
        starts = {}
        for e in doc["entities"]:
            for s, t in spans:
                if s <= e["start"] < t:
                    starts.setdefault((s, t), e["start"])
                    break
        for (s, t), start in starts.items():
            words += 1
            found = {c for c in rule if s < c < t}
            predicted += len(found)
            annotated += start > s
            correct += start in found
    return words, annotated, predicted, correct


def test_docs_show_the_segmentation_scores_on_the_sample(documents, repo_root):
    doc = (repo_root / "docs" / "releases.md").read_text(encoding="utf-8")
    table = doc[doc.index("<!-- segmentation:start -->"):doc.index("<!-- segmentation:end -->")]
    rows = {m.group(1): m.group(2) for m in re.finditer(r"\| `([a-z-]+)` \| (.*) \|\n", table)}
    for name, cut in (("none", False), ("proclitic-article", True)):
        words, annotated, predicted, correct = _scores(documents, cut)
        precision = f"{correct / predicted:.2f}" if predicted else "–"
        expected = f"{words} | {annotated} | {predicted} | {correct} | {precision} | {correct / annotated:.2f}"
        assert rows[name] == expected, name


def test_the_bench_script_prints_the_same_scores(documents, repo_root):
    import subprocess
    import sys

    out = subprocess.run([sys.executable, str(repo_root / "bench" / "segmentation.py")], capture_output=True,
                         text=True, check=True, timeout=120).stdout
    words, annotated, predicted, correct = _scores(documents, True)
    assert (f"proclitic-article: {words} words where an entity starts, {annotated} annotated proclitic cuts,"
            f" {predicted} cuts by the rule, {correct} correct: precision {correct / predicted:.2f}, recall"
            f" {correct / annotated:.2f}") in out
