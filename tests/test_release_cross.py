"""check-release compares the tokens and relations rows of each split with its documents rows.

Each test damages one built release the way a faulty writer (or a hand edit) would, keeps every file
consistent on its own (so the per-file checks stay quiet) and rewrites the manifest's hashes: only the
cross-config check can see the damage.
"""

from __future__ import annotations

import json
import multiprocessing
import shutil
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import build_inputs as B
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from release_factory import copy_release, rehash

from corpus_tools.build.driver import build_release
from corpus_tools.release import scan as release_scan
from corpus_tools.release.checks import check_release
from corpus_tools.release.consistency import LOCATED, _Rows
from corpus_tools.release.manifest import read_manifest, write_manifest


def _export(root: Path, n: int) -> Path:
    return B.write_export(root / "export.json", B.simple_export(n))


@pytest.fixture(scope="module")
def clean(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("cross")
    return build_release(_export(root, 40), version="1.0.0", out=root / "release", name="test-org/cross").out


@pytest.fixture
def release(clean, tmp_path) -> Path:
    return copy_release(clean, tmp_path)


def files(root: Path, config: str, split: str = "train") -> list[str]:
    return read_manifest(root)["configs"][config][split]["files"]


def rewrite(root: Path, rel: str, edit) -> None:
    table = pq.read_table(root / rel)
    rows = table.to_pylist()
    edit(rows)
    pq.write_table(pa.Table.from_pylist(rows, schema=table.schema), root / rel, compression="zstd")
    rehash(root)


def found(report) -> set[tuple[str, str | None]]:
    return {(p.code, p.file) for p in report.problems}


def test_clean_releases_pass_with_either_segmentation(clean, tmp_path, ontology):
    assert check_release(clean, ontology=ontology).problems == []
    cut = build_release(_export(tmp_path, 40), version="1.0.0", out=tmp_path / "cut", segmentation="proclitic-article")
    tokens = pq.read_table(cut.out / files(cut.out, "tokens")[0]).to_pylist()
    whole = pq.read_table(clean / files(clean, "tokens")[0]).to_pylist()
    assert [r["tokens"] for r in tokens] != [r["tokens"] for r in whole]  # the rule cut some words
    assert check_release(cut.out, ontology=ontology).problems == []


def test_tokens_that_are_not_the_tokenizers(release, ontology):
    # Tokens cut at a span edge (as the tokenizer before version 2 did): each token is the text, but not the
    # tokenizer's output for it.
    rel = files(release, "tokens")[0]

    def cut_first_token(rows):
        row = rows[0]
        start, end = row["token_start"][0], row["token_end"][0]
        middle = start + 1
        row["tokens"][0:1] = [row["tokens"][0][:1], row["tokens"][0][1:]]
        row["token_start"][0:1] = [start, middle]
        row["token_end"][0:1] = [middle, end]
        row["ner_tags"][0:1] = [0, 0]

    rewrite(release, rel, cut_first_token)
    report = check_release(release, ontology=ontology)
    assert found(report) == {("release-tokens-document", rel)}
    assert report.problems[0].details["row"] == 0
    assert "its tokens are not those of the tokenizer (corpus-tools-words 2, segmentation none)" in \
        report.problems[0].message


def test_a_manifest_without_the_tokenizer_is_a_warning(release, ontology):
    import json

    path = release / "manifest.json"
    manifest = json.loads(path.read_text(encoding="utf-8"))
    del manifest["tokenizer"]
    path.write_text(json.dumps(manifest), encoding="utf-8")
    report = check_release(release, ontology=ontology)
    assert [(p.code, p.severity, p.file) for p in report.problems] == [
        ("release-tokenizer-unknown", "warning", "manifest.json")]


def test_tokens_rows_in_another_order(release, ontology):
    rel = files(release, "tokens")[0]
    rewrite(release, rel, lambda rows: rows.__setitem__(slice(0, 2), rows[1::-1]))
    report = check_release(release, ontology=ontology)
    assert found(report) == {("release-tokens-document", rel)}
    first = report.problems[0]
    assert first.details["row"] == 0 and "is not its documents row's" in first.message


def test_a_token_that_is_not_the_text(release, ontology):
    rel = files(release, "tokens")[0]

    def edit(rows):
        k = next(i for i, token in enumerate(rows[3]["tokens"]) if len(token) > 2)
        rows[3]["tokens"][k] = "X" * len(rows[3]["tokens"][k])  # same length: the per-file check stays quiet

    rewrite(release, rel, edit)
    report = check_release(release, ontology=ontology)
    assert found(report) == {("release-tokens-document", rel)}
    assert report.problems[0].details["row"] == 3 and "'XXX" in report.problems[0].message


def test_ner_tags_that_lose_an_entity(release, ontology):
    rel = files(release, "tokens")[0]
    rewrite(release, rel, lambda rows: rows[5].__setitem__("ner_tags", [0] * len(rows[5]["ner_tags"])))
    report = check_release(release, ontology=ontology)
    assert found(report) == {("release-tokens-document", rel)}
    assert report.problems[0].details["row"] == 5 and "ner_tags do not encode it" in report.problems[0].message


def test_ner_tags_with_another_label(release, ontology):
    rel = files(release, "tokens")[0]
    tags = ontology.bio_labels

    def edit(rows):
        row = rows[2]["ner_tags"]
        k = next(i for i, t in enumerate(row) if tags[t].startswith("B-"))
        label = tags[row[k]][2:]
        other = next(x for x in ontology.entity_labels if x != label)
        row[k] = tags.index(f"B-{other}")
        for i in range(k + 1, len(row)):
            if tags[row[i]] != f"I-{label}":
                break
            row[i] = tags.index(f"I-{other}")

    rewrite(release, rel, edit)
    report = check_release(release, ontology=ontology)
    assert found(report) == {("release-tokens-document", rel)}
    assert "covers no entity of the document with that label" in report.problems[0].message


def test_tokens_files_of_two_splits_swapped(tmp_path, ontology):
    built = build_release(_export(tmp_path, 40), version="1.0.0", out=tmp_path / "r",
                          ratios=(("train", 0.5), ("test", 0.5))).out
    train, test = files(built, "tokens", "train")[0], files(built, "tokens", "test")[0]
    rows = {rel: pq.read_table(built / rel) for rel in (train, test)}
    n = min(len(t) for t in rows.values())
    for rel, other in ((train, test), (test, train)):  # the same number of rows in both: counts agree
        pq.write_table(rows[other].slice(0, n), built / rel, compression="zstd")
    for split in ("train", "test"):  # the documents files keep their first n rows
        for rel in files(built, "documents", split):
            pq.write_table(pq.read_table(built / rel).slice(0, n), built / rel, compression="zstd")
    manifest = json.loads((built / "manifest.json").read_text(encoding="utf-8"))
    for config in ("documents", "tokens"):
        for split in ("train", "test"):
            manifest["configs"][config][split]["num_examples"] = n
    manifest.pop("files")
    write_manifest(built, manifest)
    report = check_release(built, ontology=ontology)
    assert {p.code for p in report.problems if p.file in (train, test)} == {"release-tokens-document"}


@pytest.mark.parametrize(("row", "field", "value"), [(0, "head_text", "XXXX"),
                                                      (1, "document_id", "no-such-document"),
                                                      (2, "tail_start", 0)])
def test_a_relations_row_edited(release, ontology, row, field, value):
    rel = files(release, "relations")[0]
    rewrite(release, rel, lambda rows: rows[row].__setitem__(field, value))
    report = check_release(release, ontology=ontology)
    assert found(report) == {("release-relations-document", rel)}
    assert report.problems[0].details["row"] == row and field in report.problems[0].message


def test_relations_rows_in_another_order(release, ontology):
    rel = files(release, "relations")[0]
    rewrite(release, rel, lambda rows: rows.reverse())
    report = check_release(release, ontology=ontology)
    assert {p.code for p in report.problems} == {"release-relations-document"}
    located = [p for p in report.problems if p.file == rel]
    assert len(located) == LOCATED
    summary = [p for p in report.problems if p.file == "README.md"]
    assert len(summary) == 1 and "more rows disagree" in summary[0].message


@pytest.fixture(scope="module")
def many_groups(tmp_path_factory) -> Path:
    """A release whose files have many row groups (two rows each), scanned in several chunks."""
    root = tmp_path_factory.mktemp("cross-groups")
    return build_release(_export(root, 60), version="1.0.0", out=root / "release", row_group_rows=2).out


def test_chunks_of_row_groups_in_worker_processes(many_groups, tmp_path, ontology, monkeypatch):
    monkeypatch.setattr(release_scan, "CHUNK_GROUPS", 3)
    with ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("fork")) as pool:
        assert check_release(many_groups, ontology=ontology, executor=pool).problems == []
    release = tmp_path / "release"
    shutil.copytree(many_groups, release)
    rel = files(release, "tokens")[0]
    table = pq.read_table(release / rel)
    rows = table.to_pylist()
    rows[-1]["ner_tags"] = [0] * len(rows[-1]["ner_tags"])  # in the last chunk of the file
    assert any(t for t in pq.read_table(many_groups / rel).to_pylist()[-1]["ner_tags"])
    pq.write_table(pa.Table.from_pylist(rows, schema=table.schema), release / rel, row_group_size=2,
                   compression="zstd")
    rehash(release)
    assert len(release_scan.row_group_chunks(release / rel)) >= 3
    with ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("fork")) as pool:
        report = check_release(release, ontology=ontology, executor=pool)
    assert found(report) == {("release-tokens-document", rel)}
    assert report.problems[0].details["row"] == len(rows) - 1


@settings(max_examples=60, deadline=None)
@given(sizes=st.lists(st.lists(st.integers(1, 5), min_size=1, max_size=4), min_size=1, max_size=4),
       start=st.integers(0, 40), takes=st.lists(st.integers(1, 9), min_size=1, max_size=6))
def test_rows_from_a_start_equal_the_slice_of_all_rows(tmp_path_factory, sizes, start, takes):
    """_Rows(start=k) then take(n), take(m)... gives rows k, k+1... of the files' rows joined, whatever the
    files' row groups (independent expectation: a plain list of the values)."""
    root = tmp_path_factory.mktemp("rows")
    values, names, value = [], [], 0
    for f, groups in enumerate(sizes):
        table = pa.table({"v": list(range(value, value + sum(groups)))})
        value += sum(groups)
        values += table.column("v").to_pylist()
        writer = pq.ParquetWriter(root / f"f{f}.parquet", table.schema)
        at = 0
        for size in groups:
            writer.write_table(table.slice(at, size))
            at += size
        writer.close()
        names.append(f"f{f}.parquet")
    rows = _Rows(root, names, ["v"], start=start)
    expected = values[start:]
    for n in takes:
        table, where = rows.take(n)
        want, expected = expected[:n], expected[n:]
        if not want:
            assert table is None
            break
        assert table.column("v").to_pylist() == want
        for k, v in enumerate(want):  # where each row comes from: its file and row there
            file, row = rows.locate(where, k)
            assert pq.read_table(root / file).column("v")[row].as_py() == v


def test_token_strings_that_are_not_utf8_are_reported_not_a_traceback(release, ontology):
    """Parquet readers do not check UTF-8: a damaged file can hold any bytes in a string column."""
    rel = files(release, "tokens")[0]
    table = pq.read_table(release / rel)
    tokens = table.column("tokens").combine_chunks()
    raw = [value.encode("utf-8") for value in tokens.values.to_pylist()]
    raw[0] = b"\xff" + raw[0][1:]  # the first byte of the first token
    broken = pa.array(raw, pa.binary()).view(pa.string())
    lists = pa.ListArray.from_arrays(tokens.offsets, broken)
    pq.write_table(table.set_column(table.schema.get_field_index("tokens"), table.schema.field("tokens"), lists),
                   release / rel, compression="zstd")
    rehash(release)
    report = check_release(release, ontology=ontology)
    assert [(p.code, p.file, p.details) for p in report.problems] == [
        ("release-not-utf8", rel, {"row": 0, "column": "tokens"})]  # every string column is checked for UTF-8


def _covering_reference(decoded, known) -> dict[int, str]:
    """The decoded-span rule read plainly: in each row, the first decoded span (in order) that is not an entity
    and has no entity of its row and label inside it."""
    entities = list(zip(known.row.tolist(), known.start.tolist(), known.end.tolist(), known.label.tolist(),
                        strict=True))
    bad: dict[int, str] = {}
    for row, start, end, label in zip(decoded.row.tolist(), decoded.start.tolist(), decoded.end.tolist(),
                                      decoded.label.tolist(), strict=True):
        if (row, start, end, label) in entities or row in bad:
            continue
        if not any(r == row and el == label and start <= es and ee <= end for r, es, ee, el in entities):
            bad[row] = f"ner_tags decode to a span {start}-{end} that covers no entity of the document with that label"
    return bad


_span_lists = st.lists(st.tuples(st.integers(0, 3), st.integers(-2, 30), st.integers(-2, 30), st.integers(0, 2)),
                       max_size=12)


@settings(max_examples=300, deadline=None)
@given(decoded=_span_lists, known=_span_lists, fits=st.booleans())
def test_decoded_spans_covering_entities_match_the_plain_rule(decoded, known, fits):
    """The vectorized cover check gives the plain rule's answer, damaged spans (empty, inverted, negative) too."""
    import numpy as np

    from corpus_tools.release.consistency import _check_decoded, _Spans

    def spans(rows: list[tuple[int, int, int, int]]) -> _Spans:
        columns = list(zip(*rows, strict=True)) if rows else [(), (), (), ()]
        return _Spans(*(np.asarray(c, dtype=np.int64) for c in columns))

    decoded_spans = spans(sorted(decoded))
    known_spans = spans(sorted(known))
    ok = fits and all(0 <= s for _, s, e, _ in decoded + known) and all(0 <= e for _, s, e, _ in decoded + known)
    bad: dict[int, str] = {}
    _check_decoded(decoded_spans, known_spans, ok, bad)
    assert bad == _covering_reference(decoded_spans, known_spans)


def test_tags_that_are_no_bio_tag_or_continue_no_span_are_named():
    """ner_tags read against the tag table: an id of no tag (out of range, or a name that is no BIO tag of a
    label) and an I- tag after an O, a B of another label or a row's end continue nothing."""
    import numpy as np

    from corpus_tools.release.consistency import _compare_tags, _Spans

    kind_of = np.array([0, 1, 2, 1, 2, -1, -1])  # O, B-A, I-A, B-B, I-B, a tag of no label; the last: out of range
    entity_of = np.array([-1, 0, 0, 1, 1, -1, -1])
    no_entities = _Spans(*(np.zeros(0, dtype=np.int64) for _ in range(4)))

    def compare(rows: list[list[int]]) -> dict[int, str]:
        tags = np.array([t for row in rows for t in row], dtype=np.int64)
        owner = np.repeat(np.arange(len(rows)), [len(row) for row in rows])
        starts = np.concatenate([np.arange(len(row)) for row in rows]).astype(np.int64)
        bad: dict[int, str] = {}
        _compare_tags(no_entities, len(rows), owner, starts, starts + 1, tags, kind_of, entity_of, bad)
        return bad

    assert compare([[0, 0], [0, 5]]) == {1: "ner_tags id 5 is not a BIO tag of an entity label"}
    assert compare([[0, 99, -3]]) == {0: "ner_tags id 99 is not a BIO tag of an entity label"}  # the id found
    assert compare([[0, -3]]) == {0: "ner_tags id -3 is not a BIO tag of an entity label"}
    assert compare([[0, 0], [1, 2, 0, 2]]) == {1: "ner_tags has an I- tag at token 3 that continues no span"}
    assert compare([[3, 2]]) == {0: "ner_tags has an I- tag at token 1 that continues no span"}
    assert compare([[1], [2]]) == {0: "ner_tags decode to a span 0-1 that covers no entity of the document with that"
                                      " label", 1: "ner_tags has an I- tag at token 0 that continues no span"}


def test_relations_of_the_documents_whose_ends_are_not_their_entities(release):
    """Compared alone (check-release reports such a documents file as dangling): a relation whose head or tail is
    no entity of its document."""
    from corpus_tools.release.consistency import cross_relations

    documents, relations = files(release, "documents"), files(release, "relations")
    table = pq.read_table(release / documents[0])
    rows = table.to_pylist()
    k = next(i for i, row in enumerate(rows) if len(row["relations"]) >= 2)
    before = sum(len(row["relations"]) for row in rows[:k])
    rows[k]["relations"][0]["head"] = "no-such-entity"
    rows[k]["relations"][1]["tail"] = "no-such-entity"
    pq.write_table(pa.Table.from_pylist(rows, schema=table.schema), release / documents[0], compression="zstd")

    def same_ids(rel_rows):
        rel_rows[before]["head_id"] = rel_rows[before + 1]["tail_id"] = "no-such-entity"

    rewrite(release, relations[0], same_ids)
    out = cross_relations(release, documents, relations)
    assert [(m.row, m.what) for m in out.mismatches] == [
        (before, "its head is not an entity of the document"),
        (before + 1, "its tail is not an entity of the document")]


def test_an_i_tag_after_one_that_continues_nothing_is_reported_not_a_traceback(release, ontology):
    """I- I- B-: the second I- continues the first, which continues nothing; no span holds them.  The check once
    took the end of that run for a span's end: the spans after it got other spans' ends (a mismatch reported in
    a sound row) or there were more ends than spans (an IndexError)."""
    rel = files(release, "tokens")[0]
    tags = ontology.bio_labels
    label, other = ontology.entity_labels[:2]

    def edit(rows):
        row = rows[1]["ner_tags"]
        row[:3] = [tags.index(f"I-{label}"), tags.index(f"I-{label}"), tags.index(f"B-{other}")]

    rewrite(release, rel, edit)
    report = check_release(release, ontology=ontology)
    assert [(p.code, p.file, p.details["row"]) for p in report.problems] == [("release-tokens-document", rel, 1)]
    assert "ner_tags has an I- tag at token" in report.problems[0].message


def test_tag_problems_name_the_id_found_and_the_token_within_its_row(release, ontology):
    """An id out of range is named as found in the file, and an I- tag that continues nothing by its token's
    position in its row (not among the rows compared together).  check-release leaves the first to the label
    check (a file with ids out of range is reported once); the tokens scan's comparison names both."""
    rel = files(release, "tokens")[0]
    tags = ontology.bio_labels
    label = ontology.entity_labels[0]

    def edit(rows):
        rows[1]["ner_tags"][:3] = [0, 0, tags.index(f"I-{label}")]  # O O I-: the I- is token 2 of row 1
        rows[2]["ner_tags"][0] = 99  # no tag has that id

    rewrite(release, rel, edit)
    scan = release_scan.scan_file(release / rel, "tokens", [], against=(release, files(release, "documents"), rel, 0,
                                                                       "none"))
    assert [(m.row, m.what) for m in scan.cross.mismatches] == [
        (1, "ner_tags has an I- tag at token 2 that continues no span"),
        (2, "ner_tags id 99 is not a BIO tag of an entity label")]


def test_rows_dropped_part_way_free_their_readers_without_the_garbage_collector(clean):
    """A tokens chunk's comparison reads the documents rows it needs and drops them: the open readers (and the pages
    they hold) go with them at once, not at the collector's next full pass (at 1M tasks, about 12 MB per chunk held
    in every worker)."""
    import gc
    import weakref

    gc.collect()
    gc.disable()
    try:
        rows = _Rows(clean, files(clean, "documents"), ["id", "text"], start=1)
        table, _ = rows.take(1)
        assert table is not None and table.num_rows == 1
        dropped = weakref.ref(rows)
        del rows
        assert dropped() is None
    finally:
        gc.enable()


_TEXT = st.text(alphabet="ab ،.و\u0627\u0644\u064e\u0640😀\r\n-", max_size=14)


@settings(max_examples=400, deadline=None)
@given(texts=st.lists(_TEXT, min_size=1, max_size=4), segmentation=st.sampled_from(["none", "proclitic-article"]),
       edits=st.lists(st.tuples(st.integers(0, 4), st.integers(0, 60)), max_size=3))
def test_tokens_are_found_the_tokenizers_exactly_when_they_are(texts, segmentation, edits):
    """The tokenizer check without listing the tokenizer's tokens agrees with listing them, for the tokenizer's
    tokens and for tokens merged, cut, dropped, widened or narrowed (those still inside their text, in order and
    apart, as the check is given them)."""
    import numpy as np

    from corpus_tools.release.consistency import _code_points, _the_tokenizers
    from corpus_tools.tokens import char_classes, token_bounds

    starts, ends, counts = token_bounds(texts, segmentation)
    rows = [[(int(s), int(e)) for s, e in zip(starts[a:b], ends[a:b], strict=True)]
            for a, b in zip(np.cumsum(counts) - counts, np.cumsum(counts), strict=True)]
    for kind, k in edits:
        row = rows[k % len(rows)]
        if not row:
            continue
        i = k % len(row)
        s, e = row[i]
        if kind == 0 and i + 1 < len(row):  # merged with the next token
            row[i:i + 2] = [(s, row[i + 1][1])]
        elif kind == 1 and e - s > 1:  # cut in two
            row[i:i + 1] = [(s, s + 1), (s + 1, e)]
        elif kind == 2:  # dropped
            del row[i]
        elif kind == 3:  # widened by one
            row[i] = (s, e + 1)
        elif kind == 4 and e - s > 1:  # narrowed by one
            row[i] = (s, e - 1)
    decoded = _code_points(pa.array(texts))
    owner = np.array([r for r, row in enumerate(rows) for _ in row], dtype=np.int64)
    mine_starts = np.array([s for row in rows for s, _ in row], dtype=np.int64)
    mine_ends = np.array([e for row in rows for _, e in row], dtype=np.int64)
    at = decoded.starts[owner] + mine_starts
    stop = decoded.starts[owner] + mine_ends
    inside = bool(np.all(mine_ends <= decoded.lengths[owner])) and bool(np.all(at[1:] >= stop[:-1]))
    if not inside:
        return  # the check is given only tokens inside their text, in order and apart
    classes = char_classes()[decoded.points]
    tokens = np.array([bool(np.all(classes[a:b] != 0)) for a, b in zip(at, stop, strict=True)], dtype=bool)
    expected = (np.array_equal(mine_starts, starts) and np.array_equal(mine_ends, ends)
                and np.array_equal(np.bincount(owner, minlength=len(texts)), counts))
    assert _the_tokenizers(decoded, at, stop, tokens, segmentation) == expected
