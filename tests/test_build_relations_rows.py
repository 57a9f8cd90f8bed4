"""The relations config of a segment, built column by column: every relation whose head and tail are spans of its
own document, in document order, and a located ``build-dangling-relation`` problem for each other one."""

from __future__ import annotations

import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from corpus_tools.build.tables import SegmentBuilder
from corpus_tools.features import release_features
from corpus_tools.ontology import load_ontology
from corpus_tools.release.splits import SplitPlan
from corpus_tools.spans import Document, Relation, Span

ONTOLOGY = load_ontology()
SCHEMAS = dict(release_features(ONTOLOGY).schemas)
TEXT = "قال محمد في بغداد إن وزارة الخارجية اجتمعت"
NAMES = [("محمد", "PER"), ("بغداد", "GPE"), ("وزارة الخارجية", "ORG")]


def _builder() -> SegmentBuilder:
    plan = SplitPlan(ratios=(("train", 1.0),))  # every document in one split
    return SegmentBuilder(ONTOLOGY, plan, SCHEMAS, file="docs.jsonl", segmentation="none", pseudonym_key=b"k" * 32,
                          near_duplicates=False)


def _span(k: int) -> Span:
    name, label = NAMES[k]
    start = TEXT.index(name)
    return Span(start=start, end=start + len(name), label=label, id=f"s{k}", text=name)


documents_st = st.lists(
    st.tuples(st.sets(st.integers(0, 2)),  # which of the three spans the document has
              st.lists(st.tuples(st.sampled_from(["s0", "s1", "s2", "gone"]), st.sampled_from(["s0", "s1", "s2"]),
                                 st.sampled_from(["PHYS.Located", "ORG-AFF.Employment"])), max_size=4, unique=True)),
    min_size=1, max_size=6)


@settings(max_examples=60, deadline=None)
@given(documents=documents_st)
def test_relations_rows_and_dangling_problems(documents):
    docs = []
    for d, (kept, relations) in enumerate(documents):
        docs.append((d + 1, Document(id=f"doc-{d}", text=TEXT, entities=[_span(k) for k in sorted(kept)],
                                     relations=[Relation(head=h, tail=t, label=lab, id=f"r{h}-{t}-{lab}")
                                                for h, t, lab in relations])))
    result = _builder().build_documents(docs, 1)
    # the expectation, read plainly from the documents: relations sorted by (head, tail, label, id) per document
    rows, dangling = [], {}
    for d, (_, doc) in enumerate(docs):
        spans = {s.id: s for s in doc.entities}
        for rel in sorted(doc.relations, key=lambda r: (r.head, r.tail, r.label, r.id)):
            head, tail = spans.get(rel.head), spans.get(rel.tail)
            if head is None or tail is None:
                dangling.setdefault(d, []).append(f"Relation {rel.id!r} points to a missing span.")
                continue
            rows.append({"document_id": doc.id, "id": rel.id,
                         "head_id": head.id, "head_start": head.start, "head_end": head.end, "head_text": head.text,
                         "head_label": ONTOLOGY.entity_labels.index(head.label),
                         "tail_id": tail.id, "tail_start": tail.start, "tail_end": tail.end, "tail_text": tail.text,
                         "tail_label": ONTOLOGY.entity_labels.index(tail.label),
                         "label": ONTOLOGY.relation_labels.index(rel.label)})
    table = result.tables.get(("relations", "train"))
    found = [] if table is None else table.to_pylist()
    assert found == rows
    assert (table is None) == all(not doc.relations for _, doc in docs)  # no relation: no relations table
    for d, keys in enumerate(result.tasks):
        messages = [p.message for p in keys.after or ()]
        assert messages == dangling.get(d, [])
        assert all(p.code == "build-dangling-relation" and p.line == d + 1 and p.file == "docs.jsonl"
                   for p in keys.after or ())
    labels = {}
    for row in rows:
        name = ONTOLOGY.relation_labels[row["label"]]
        labels[name] = labels.get(name, 0) + 1
    assert list(result.stats.split("train").relations.items()) == list(labels.items())  # first seen first


def test_the_relations_table_has_the_release_schema():
    doc = Document(id="doc-0", text=TEXT, entities=[_span(0), _span(1)],
                   relations=[Relation(head="s0", tail="s1", label="PHYS.Located", id="r1")])
    table = _builder().build_documents([(1, doc)], 1).tables[("relations", "train")]
    assert table.schema.equals(SCHEMAS["relations"])
    assert table.column("head_text").to_pylist() == ["محمد"]
    assert table.column("tail_start").to_pylist() == [len("قال محمد في ")]
    assert isinstance(table.column("label"), pa.ChunkedArray)
