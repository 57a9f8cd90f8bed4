"""The third-party excerpts in ../shared/fixtures/external (never copied into this repository), read through the
conll reader: the sentence, token and entity counts their README states (counted from the documents and
entities the reader gives, not from a second parser), and each file's quirks."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
from conftest import require

from corpus_tools.interop.conll import read_conll
from corpus_tools.interop.format import Context
from corpus_tools.spans import Document


@pytest.fixture(scope="module")
def external(shared_dir) -> Path:
    folder = shared_dir / "fixtures" / "external"
    require(folder.is_dir(), f"external fixtures not found at {folder}")
    return folder


def read(folder: Path, name: str) -> tuple[list[Document], Context]:
    ctx = Context()
    return list(read_conll(folder / name, ctx)), ctx


def labels(docs: list[Document]) -> Counter:
    return Counter(e.label for d in docs for e in d.entities)


def tokens(docs: list[Document]) -> int:
    return sum(d.meta["tokens"] for d in docs)  # type: ignore[misc]


def where(ctx: Context) -> list[tuple[str, int | None]]:
    return [(p.code, p.line) for p in ctx.report.problems]


def check_entity_texts(docs: list[Document]) -> None:
    for doc in docs:
        for span in doc.entities:
            assert doc.text[span.start:span.end] == span.text


def test_wojood_nested_entities(external):
    docs, ctx = read(external, "wojood-val-excerpt.txt")
    assert len(docs) == 25  # one document per sentence
    assert [d.meta["tokens"] for d in docs] == [25, 11, 18, 4, 61, 9, 44, 15, 8, 33, 4, 7, 11, 26, 31, 11, 20, 6,
                                                38, 87, 11, 6, 14, 6, 17]
    assert tokens(docs) == 523
    assert labels(docs) == {"GPE": 18, "DATE": 12, "NORP": 8, "OCC": 8, "ORG": 8, "PERS": 7, "CARDINAL": 6,
                            "WEBSITE": 2, "FAC": 1, "ORDINAL": 1, "PERCENT": 1, "QUANTITY": 1, "TIME": 1, "UNIT": 1}
    assert sum(labels(docs).values()) == 75
    assert where(ctx) == []
    check_entity_texts(docs)
    # an entity's text is the tokens it covers joined with one space: the three-level nest of sentence 10
    nest = [(e.text, e.label) for e in docs[9].entities[:3]]
    assert nest == [("رئيس بلدية طولكرم", "OCC"), ("بلدية طولكرم", "ORG"), ("طولكرم", "GPE")]
    # 14 tokens carry more than one tag, up to 3
    depth = Counter()
    for di, doc in enumerate(docs):
        for span in doc.entities:
            start = span.start
            for token in span.text.split(" "):
                depth[(di, start)] += 1
                start += len(token) + 1
    assert sum(1 for n in depth.values() if n > 1) == 14 and max(depth.values()) == 3
    assert sum(d.text.split(" ")[-1] == "$#$" for d in docs) == 10


def test_newsfane_bom_crlf_lrm_and_clitics(external):
    docs, ctx = read(external, "newsfane-excerpt.txt")
    assert len(docs) == 40 and tokens(docs) == 2587
    assert labels(docs) == {"Population-Center": 34, "Nation": 26, "Building-Grounds": 7, "Group": 6,
                            "Water-Body": 6, "Commercial": 3, "Other_PER": 3, "Government": 2,
                            "Land-Region-Natural": 2, "Airport": 1, "Continent": 1, "Media": 1,
                            "Non-Governmental": 1, "Politician": 1}
    assert sum(labels(docs).values()) == 94
    stats = ctx.report.stats["conll_read"]
    assert (stats["bom"], stats["crlf_lines"], stats["bidi_marks_removed"]) == (True, 2626, 2376)
    assert not any(ch in d.text for d in docs for ch in "\ufeff\u200e\r")
    assert [e.text for d in docs for e in d.entities if e.label == "Media"] == ["د ب ا"]
    assert docs[0].text.startswith("فرانكفورت ( د ب ا )")
    assert where(ctx) == []
    check_entity_texts(docs)


def test_anercorp_without_sentence_breaks_is_cut_at_full_stops(external):
    docs, ctx = read(external, "anercorp-excerpt.txt")
    assert tokens(docs) == 400
    assert labels(docs) == {"LOC": 15, "PERS": 8, "ORG": 4}
    assert len(docs) == 13 + 1 and all(d.text.endswith(" .") for d in docs[:-1])  # 13 ". O" tokens
    assert max(d.meta["tokens"] for d in docs) < 200
    assert where(ctx) == [("conll-sentence-cut", None)]
    check_entity_texts(docs)


def test_anercorp_double_spaces(external):
    docs, ctx = read(external, "anercorp-irregular-excerpt.txt")
    assert tokens(docs) == 60
    assert labels(docs) == {"PERS": 4, "ORG": 2, "LOC": 1}
    assert ctx.report.stats["conll_read"]["double_separators"] == 5
    assert ("ريال مدريد", "ORG") in [(e.text, e.label) for d in docs for e in d.entities]
    assert len(docs) == 4  # 4 ". O" tokens, two of them on consecutive lines
    assert where(ctx) == [("conll-sentence-cut", None)]
    check_entity_texts(docs)


def test_anercorp_orphan_inside_tags_and_empty_tokens(external):
    docs, ctx = read(external, "anercorp-orphan-i-excerpt.txt")
    assert tokens(docs) + ctx.report.counts()["conll-empty-token"] == 60
    assert labels(docs) == {"MISC": 3, "PERS": 2}  # conlleval: each orphan I-MISC is a new entity
    in_line_order = sorted(where(ctx), key=lambda p: (p[1] is None, p[1] or 0))
    assert in_line_order == [("conll-empty-token", 7), ("conll-empty-token", 19), ("conll-empty-token", 27),
                          ("conll-orphan-inside", 33), ("conll-orphan-inside", 35), ("conll-empty-token", 60),
                          ("conll-sentence-cut", None)]
    check_entity_texts(docs)
