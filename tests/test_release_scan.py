"""The vectorised checks of release scans: entity texts against a plain Python expectation, strings that are not
UTF-8 located, token lengths read as dictionaries or as plain strings."""

from __future__ import annotations

import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from corpus_tools.release.scan import FileScan, _scan_documents, bad_entities

ENTITY = pa.struct([("id", pa.string()), ("start", pa.int32()), ("end", pa.int32()), ("text", pa.string()),
                    ("label", pa.int64())])
# Arabic letters and diacritics, a tatweel, an RLM, a CRLF, an emoji (4 bytes in UTF-8), ASCII
ALPHABET = st.sampled_from(list("وبلمصرالقاهرةَُِّـ\u200f\r\n 😀🇪🇬abc,."))


def bad(texts: list[str], entities: list[list[tuple[int, int, str]]]) -> list[int]:
    """The entities (positions in the flattened lists) the scan finds wrong."""
    text = pa.array(texts, pa.string())
    rows = [[{"id": f"T{k}", "start": s, "end": e, "text": t, "label": 0} for k, (s, e, t) in enumerate(row)]
            for row in entities]
    return bad_entities(text, pa.array(rows, pa.list_(ENTITY))).tolist()


def check(texts: list[str], entities: list[list[tuple[int, int, str]]]) -> bool:
    return not bad(texts, entities)


@st.composite
def documents(draw: st.DrawFn) -> tuple[list[str], list[list[tuple[int, int, str]]]]:
    texts = draw(st.lists(st.text(ALPHABET, max_size=30), min_size=1, max_size=5))
    entities = []
    for text in texts:
        row = []
        for _ in range(draw(st.integers(0, 4))):
            start = draw(st.integers(0, len(text)))
            end = draw(st.integers(start, len(text)))
            row.append((start, end, text[start:end]))
        entities.append(row)
    return texts, entities


@settings(max_examples=300, deadline=None)
@given(documents())
def test_true_when_every_entity_text_is_its_slice(doc: tuple[list[str], list[list[tuple[int, int, str]]]]) -> None:
    texts, entities = doc
    assert check(texts, entities)


@settings(max_examples=300, deadline=None)
@given(documents(), st.data())
def test_equals_the_python_comparison_after_a_change(doc, data) -> None:
    """One entity gets another text or other offsets: the answer is Python's ``text[start:end] == entity text``."""
    texts, entities = doc
    rows = [i for i, row in enumerate(entities) if row]
    if not rows:
        return
    i = data.draw(st.sampled_from(rows))
    k = data.draw(st.integers(0, len(entities[i]) - 1))
    start, end, span_text = entities[i][k]
    change = data.draw(st.sampled_from(["text", "start", "end"]))
    if change == "text":
        span_text = data.draw(st.text(ALPHABET, max_size=6))
    elif change == "start":
        start = data.draw(st.integers(0, end))
    else:
        end = data.draw(st.integers(start, len(texts[i])))
    entities[i][k] = (start, end, span_text)
    flat = [(r, s, e, t) for r, row in enumerate(entities) for s, e, t in row]
    expected = [k for k, (r, s, e, t) in enumerate(flat) if texts[r][s:e] != t]
    assert bad(texts, entities) == expected


def test_a_slice_one_code_point_off_after_an_emoji_is_caught() -> None:
    text = "😀 وزارة الخارجية"
    start = len("😀 ")
    end = start + len("وزارة")
    assert check([text], [[(start, end, "وزارة")]])
    assert not check([text], [[(start + 1, end + 1, "وزارة")]])  # a UTF-16 offset would point here
    assert not check([text], [[(start, end + 1, "وزارة")]])


def test_offsets_beyond_the_text_are_refused() -> None:
    assert not check(["مصر"], [[(0, len("مصر") + 1, "مصر")]])


def test_a_row_that_is_not_utf8_is_located_and_the_other_rows_still_checked() -> None:
    from corpus_tools.features import release_features
    from corpus_tools.ontology import load_ontology

    schema = release_features(load_ontology()).schemas["documents"]
    names = [f.name for f in schema]
    texts = ["مصر", "وزارة الخارجية"]
    rows = [{"id": f"d{i}", "text": t, "entities": [{"id": "T0", "start": 0, "end": len("مصر"), "text": "مصر",
                                                    "label": 0}], "relations": []} for i, t in enumerate(texts)]
    table = pa.Table.from_pylist([{n: row.get(n) for n in names} for row in rows], schema=schema)
    raw = [t.encode() for t in texts]
    raw[0] = raw[0][:-1] + b"\xff"  # what a damaged file can hold
    broken = pa.array(raw, pa.binary()).view(pa.string())
    table = table.set_column(names.index("text"), schema.field("text"), broken)
    out = FileScan()
    _scan_documents(table.to_batches()[0], 10, out)
    assert [(f.code, f.details) for f in out.findings] == [
        ("release-not-utf8", {"row": 10, "column": "text"}),
        ("release-span-text", {"row": 11, "document_id": "d1"}),
    ]
    assert out.ids == ["d0", "d1"] and len(out.text_keys) == 2


def _tokens_file(tmp_path, rows: list[tuple[list[str], list[int], list[int]]], name: str = "t.parquet"):
    import pyarrow.parquet as pq

    from corpus_tools.build.writer import PARQUET_ENCODINGS
    from corpus_tools.features import release_features
    from corpus_tools.ontology import load_ontology

    schema = release_features(load_ontology()).schemas["tokens"]
    table = pa.Table.from_pylist([{"id": f"d{i}", "tokens": t, "token_start": s, "token_end": e,
                                   "ner_tags": [0] * len(t)} for i, (t, s, e) in enumerate(rows)], schema=schema)
    path = tmp_path / name
    pq.write_table(table, path, row_group_size=2, use_dictionary=PARQUET_ENCODINGS["tokens"]["dictionary"])
    return path


def _token_rows(text: str) -> tuple[list[str], list[int], list[int]]:
    tokens, starts, ends, at = [], [], [], 0
    for token in text.split(" "):
        tokens.append(token)
        starts.append(at)
        ends.append(at + len(token))
        at += len(token) + 1
    return tokens, starts, ends


def test_token_strings_read_as_dictionaries_or_plain_give_one_answer(tmp_path, monkeypatch):
    from corpus_tools.features import release_features
    from corpus_tools.ontology import load_ontology
    from corpus_tools.release import scan as S

    classlabels = release_features(load_ontology()).classlabels["tokens"]
    texts = ["وصل الوفد إلى بغداد 😀", "مصر والقاهرة", "ب ل و", "😀🇪🇬 عمّان"]
    good = _tokens_file(tmp_path, [_token_rows(t) for t in texts])
    tokens, starts, ends = _token_rows(texts[3])
    ends[1] += 1  # one token one code point longer than its offsets say, in the last row group
    bad = _tokens_file(tmp_path, [*map(_token_rows, texts[:3]), (tokens, starts, ends)], "bad.parquet")
    _, batch = next(S._batches(good, "tokens", S.TOKEN_COLUMNS, None, 512, S.pq.read_metadata(good)))
    assert pa.types.is_dictionary(batch.column("tokens").type.value_type)
    coded = [S.scan_file(p, "tokens", classlabels) for p in (good, bad)]
    assert [scan.clean for scan in coded] == [True, False]

    real = S.pq.ParquetFile

    def no_dictionaries(path, **kwargs):  # what pyarrow answers when it cannot read a column as dictionaries
        file = real(path, **kwargs)
        if kwargs.get("read_dictionary"):
            def refuse(*args, **kw):
                raise pa.ArrowNotImplementedError("Nested data conversions not implemented for chunked array outputs")
                yield  # a generator, as iter_batches
            file.iter_batches = refuse
        return file

    monkeypatch.setattr(S.pq, "ParquetFile", no_dictionaries)
    _, batch = next(S._batches(good, "tokens", S.TOKEN_COLUMNS, None, 512, S.pq.read_metadata(good)))
    assert not pa.types.is_dictionary(batch.column("tokens").type.value_type)
    assert [S.scan_file(p, "tokens", classlabels) for p in (good, bad)] == coded


def test_a_scan_parses_its_files_footer_once(tmp_path, monkeypatch):
    """A file of many small row groups has a large footer (36 MB parsed for the relations of a 1M release) and is
    scanned in many chunks: each chunk's scan parses it once, and its readers take it parsed."""
    from corpus_tools.features import release_features
    from corpus_tools.ontology import load_ontology
    from corpus_tools.release import scan as S

    classlabels = release_features(load_ontology()).classlabels["tokens"]
    path = _tokens_file(tmp_path, [_token_rows(t) for t in ["وصل الوفد إلى بغداد", "مصر والقاهرة", "ب ل و"]])
    parsed, readers = [], []
    real_read, real_file = S.pq.read_metadata, S.pq.ParquetFile
    monkeypatch.setattr(S.pq, "read_metadata", lambda *a, **k: parsed.append(a) or real_read(*a, **k))
    monkeypatch.setattr(S.pq, "ParquetFile", lambda *a, **k: readers.append(k.get("metadata")) or real_file(*a, **k))
    monkeypatch.setattr(S.pq, "read_schema", None)  # it would parse the footer again
    assert S.scan_file(path, "tokens", classlabels, row_groups=[1]).clean
    assert len(parsed) == 1 and readers and all(meta is not None for meta in readers)


def test_relations_whose_head_or_tail_is_not_an_entity_of_their_row() -> None:
    from corpus_tools.release.scan import dangling_relations

    relation = pa.struct([("id", pa.string()), ("head", pa.string()), ("tail", pa.string()), ("label", pa.int64())])
    entities = [[{"id": "T1", "start": 0, "end": 1, "text": "م", "label": 0},
                 {"id": "T2", "start": 1, "end": 2, "text": "ص", "label": 0}],
                [{"id": "T3", "start": 0, "end": 1, "text": "م", "label": 0}]]
    relations = [[{"id": "R1", "head": "T1", "tail": "T2", "label": 0},  # both ends in the row
                  {"id": "R2", "head": "T3", "tail": "T2", "label": 0},  # a head of another row
                  {"id": "R3", "head": "T1", "tail": None, "label": 0}],  # no tail
                 [{"id": "R4", "head": "T3", "tail": "T1", "label": 0},  # a tail of another row
                  {"id": "R5", "head": "T3", "tail": "T3", "label": 0}]]
    found = dangling_relations(pa.array(entities, pa.list_(ENTITY)), pa.array(relations, pa.list_(relation)))
    assert found.tolist() == [1, 2, 3]
