"""The whole-export state held out of core: the build's stores of what it saw (texts, near-duplicate signatures,
split assignments), check-release's (ids, texts, splits.json) and diff's (documents by id) give the answers the
in-memory dicts gave, batch by batch, and leave no file behind."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import build_inputs as B
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_build_near_duplicates import article_text, typo_fixed

import corpus_tools
from corpus_tools.build.driver import build_release
from corpus_tools.build.writer import NearDuplicates, ReleaseWriter, text_signatures
from corpus_tools.errors import InputError
from corpus_tools.keys import LOOKUP_KEYS, KeyValues, KeyValuesReader
from corpus_tools.ontology import load_ontology
from corpus_tools.release.splits import SplitPlan, read_assignments, read_splits
from corpus_tools.report import Report

KEYS = st.sampled_from(["a", "b", "و", "وب", "", "a\x00", "😀", "\u200f", "Z"]) | st.binary(max_size=3)


@given(st.lists(st.lists(KEYS, max_size=12), max_size=6))
def test_first_seen_by_batches_is_a_dicts_setdefault(batches):
    store = KeyValues()
    reference: dict = {}
    row = 0
    for batch in batches:
        values = [(row + k, f"v{row + k}") for k in range(len(batch))]
        row += len(batch)
        expected = []
        for key, value in zip(batch, values, strict=True):
            expected.append(reference.get(key))
            reference.setdefault(key, value)
        assert store.first_many(batch, values) == expected
    # str keys by code point (as Python sorts them), then bytes keys
    text_keys = sorted(k for k in reference if isinstance(k, str))
    byte_keys = sorted(k for k in reference if isinstance(k, bytes))
    assert list(store.items()) == [(k, reference[k]) for k in text_keys + byte_keys]
    store.close()


def test_a_tagged_store_forgets_the_keys_first_stored_with_a_tag():
    store = KeyValues(tagged=True)
    assert store.first_many(["a", "b"], [(1, "x"), (2, "x")], tag=0) == [None, None]
    assert store.first_many(["b", "c", "c"], [(3, "y"), (4, "y"), (5, "y")], tag=1) == [(2, "x"), None, (4, "y")]
    store.forget(1)  # "c" was new with tag 1; "b" keeps its first value, stored with tag 0
    assert store.get_many(["a", "b", "c"]) == {"a": (1, "x"), "b": (2, "x")}
    assert store.first_many(["c"], [(6, "z")], tag=2) == [None]
    assert list(store.items()) == [("a", (1, "x")), ("b", (2, "x")), ("c", (6, "z"))]
    store.close()


def test_a_batch_decides_in_order_and_stores_only_on_commit():
    store = KeyValues()
    store.put_many([("x", (1, None))], replace=False)
    batch = store.batch(["x", "y"])
    assert batch.first("y", (2, None)) is None
    assert batch.first("y", (3, None)) == (2, None)  # earlier in the same batch
    assert batch.first("x", (4, None)) == (1, None)
    assert store.get_many(["y"]) == {}  # not yet committed
    batch.commit()
    assert store.get_many(["x", "y", "z"]) == {"x": (1, None), "y": (2, None)}
    store.put_many([("x", (5, None))], replace=False)
    assert store.get_many(["x"]) == {"x": (1, None)}
    store.put_many([("x", (5, None))], replace=True)
    assert store.get_many(["x"]) == {"x": (5, None)}


def test_lookups_of_more_keys_than_one_query_takes():
    store = KeyValues()
    keys = [f"k{n}" for n in range(3 * LOOKUP_KEYS + 7)]
    assert store.first_many(keys[::2], [(n, None) for n in range(len(keys[::2]))]) == [None] * len(keys[::2])
    found = store.get_many(keys)
    assert sorted(found) == sorted(keys[::2]) and found[keys[4]] == (2, None)


def test_near_duplicates_in_segments_give_the_answers_of_one_at_a_time():
    """The same documents added one at a time, and in segments looked up at once: the same pairs, in the same
    order (an earlier segment's documents are read back from disk)."""
    original, other = article_text(1), article_text(2)
    docs = [("a", "train", original), ("b", "train", other), ("c", "test", typo_fixed(original)),
            ("d", "test", article_text(3)), ("e", "validation", typo_fixed(other)),
            ("f", "train", typo_fixed(typo_fixed(original))), ("g", "test", original)]
    signature = dict(zip(docs, text_signatures([text for _, _, text in docs]), strict=True))
    one = NearDuplicates()
    alone = [one.add(doc_id, split, signature[doc_id, split, text]) for doc_id, split, text in docs]
    assert [[(d, s) for d, s, _ in found] for found in alone] == [
        [], [], [("a", "train")], [], [("b", "train")], [("a", "train"), ("c", "test")],
        [("a", "train"), ("c", "test"), ("f", "train")]]
    for cut in (1, 2, 3, 5, 7):  # 7: one segment, where "g" has the signature of "a"
        near = NearDuplicates()
        got = []
        for start in range(0, len(docs), cut):
            segment = docs[start:start + cut]
            near.segment([signature[doc] for doc in segment])
            got += [near.add(doc_id, split, signature[doc_id, split, text]) for doc_id, split, text in segment]
            near.flush()
        assert got == alone, cut
        near.close()


@pytest.mark.parametrize("unmerged", [1, 2, 3])
def test_near_duplicates_merged_into_the_band_tables_give_the_answers_of_one_at_a_time(monkeypatch, unmerged):
    """The band keys of earlier documents found in the band tables (written every ``unmerged`` documents), in
    memory (not yet written) or both: the same pairs, in the same order, as with every document in memory."""
    import corpus_tools.build.writer as writer_module

    original, other = article_text(1), article_text(2)
    docs = [("a", "train", original), ("b", "train", other), ("c", "test", typo_fixed(original)),
            ("d", "test", article_text(3)), ("e", "validation", typo_fixed(other)),
            ("f", "train", typo_fixed(typo_fixed(original))), ("g", "test", original)]
    signatures = text_signatures([text for _, _, text in docs])
    expected = [[], [], [("a", "train")], [], [("b", "train")], [("a", "train"), ("c", "test")],
                [("a", "train"), ("c", "test"), ("f", "train")]]
    monkeypatch.setattr(writer_module, "UNMERGED_DOCUMENTS", unmerged)
    for cut in (1, 2, 7):
        near = NearDuplicates()
        got = []
        for start in range(0, len(docs), cut):
            near.segment(signatures[start:start + cut])
            got += [[(d, s) for d, s, _ in near.add(doc_id, split, signature)]
                    for (doc_id, split, _), signature in zip(docs[start:start + cut], signatures[start:start + cut],
                                                             strict=True)]
            near.flush()
        assert got == expected, cut
        # a flush writes the band keys once UNMERGED_DOCUMENTS documents are held: 2 + 2 (4), then 2 + 1 (7)...
        assert near.merged == {(1, 1): 7, (1, 2): 7, (2, 1): 6, (2, 2): 6, (3, 1): 6, (3, 2): 7}.get(
            (unmerged, cut), 7)
        near.close()


def _writer(tmp_path, plan: SplitPlan) -> ReleaseWriter:
    return ReleaseWriter(tmp_path, load_ontology(), plan, Report(), row_group_rows=10, max_shard_bytes=1 << 20,
                         file_name="in.json")


@pytest.mark.parametrize("earlier", [{}, {"z-old": "test", "وثيقة-قديمة": "heldout"}])
def test_splits_json_streamed_from_disk_is_what_the_plan_writes(tmp_path, earlier):
    plan = SplitPlan(assignments=dict(earlier))
    writer = _writer(tmp_path, plan)
    new = ["doc-2", "doc-1", "وكالة \"الأنباء\"", "tab\there", "😀", "a\\b", "doc-1"]
    writer.assign([(doc_id, plan.rule_split(doc_id)) for doc_id in new])
    writer.assign([("z-old", "train")])  # an earlier assignment is kept
    writer.write_splits(tmp_path / "splits.json")
    writer.close_ledger()
    for doc_id in new:
        plan.assign(doc_id)
    plan.assignments.setdefault("z-old", "train")
    assert (tmp_path / "splits.json").read_text(encoding="utf-8") == plan.to_json()


def test_splits_json_with_no_assignment_is_what_the_plan_writes(tmp_path):
    writer = _writer(tmp_path, SplitPlan())
    writer.write_splits(tmp_path / "splits.json")
    writer.close_ledger()
    assert (tmp_path / "splits.json").read_text(encoding="utf-8") == SplitPlan().to_json()


def test_splits_json_read_as_a_stream(tmp_path):
    plan = SplitPlan(seed="s", ratios=(("train", 0.5), ("test", 0.5)),
                     assignments={"b": "train", "a": "test", "وثيقة": "val.2024"})
    path = tmp_path / "splits.json"
    path.write_text(plan.to_json(), encoding="utf-8")
    store = KeyValues()
    rule = read_assignments(path, store)
    assert (rule.seed, rule.ratios, rule.assignments) == ("s", plan.ratios, {})
    assert rule.earlier_names == {"train", "test", "val.2024"}
    assert {k: v for k, (v, _) in store.items()} == plan.assignments


@pytest.mark.parametrize(("text", "match"), [
    ('{"format": 1, "method": "sha256-bucket", "seed": "s", "ratios": [["train", 1]],'
     ' "assignments": {"a": "all"}}', "invalid split names"),
    ('{"format": 1, "method": "sha256-bucket", "seed": "s", "ratios": [["train", 1]],'
     ' "assignments": {"a": 3}}', "not a non-empty string"),
    ('{"format": 2, "method": "sha256-bucket", "seed": "s", "ratios": [["train", 1]], "assignments": {}}',
     r"\$\.format"),
    ('{"format": 1, "method": "sha256-bucket", "seed": "s", "ratios": [["train", 0.5]], "assignments": {}}',
     "sum to 1"),
    ('{"format": 1, "method": "sha256-bucket", "seed": "s", "ratios": [["train", 1]],'
     ' "assignments": {"d\\udbff": "train"}}', "surrogate"),
    ('[]', "not a JSON object"),
])
def test_an_invalid_splits_json_read_as_a_stream_is_refused(tmp_path, text, match):
    import ijson

    path = tmp_path / "splits.json"
    path.write_text(text, encoding="utf-8")
    with pytest.raises((ValueError, ijson.JSONError), match=match):
        read_assignments(path, KeyValues())


def test_trailing_data_after_splits_json_is_refused(tmp_path):
    import ijson

    path = tmp_path / "splits.json"
    path.write_text(SplitPlan().to_json() + "{}", encoding="utf-8")
    with pytest.raises(ijson.JSONError):
        read_assignments(path, KeyValues())


@settings(max_examples=20, deadline=None)
@given(st.lists(st.text(alphabet="aبو😀\u200f\x00-", min_size=1, max_size=4), min_size=1, max_size=30))
def test_diff_reads_documents_back_in_python_order(ids):
    import numpy as np

    from corpus_tools.release.diff import DocumentStore

    store = DocumentStore()
    store.names.append((("PER",), ("REL",)))
    rows = np.arange(6, dtype=np.int64)
    store.put_many([(doc_id, "train", b"h", rows.tobytes(), b"", 0, 0, n) for n, doc_id in enumerate(ids)])
    last = {doc_id: n for n, doc_id in enumerate(ids)}  # a repeated id keeps its last row
    got = [(doc_id, doc.row) for doc_id, doc in store.items()]
    assert got == sorted(last.items())
    doc = store[ids[0]]
    assert doc.span_rows.tolist() == [[0, 1, 2], [3, 4, 5]] and doc.n_relations == 0 and len(store) == len(last)
    store.close()


def _env(spill: Path) -> dict[str, str]:
    """A child process with its temporary files in ``spill`` (Python's and SQLite's)."""
    root = str(Path(corpus_tools.__file__).parent.parent)
    return {**os.environ, "TMPDIR": str(spill), "SQLITE_TMPDIR": str(spill), "PYTHONPATH": root}


def test_a_killed_build_leaves_no_temporary_file(tmp_path):
    """The stores' files are unlinked as soon as they are made: a process killed with them full leaves nothing
    in its temporary folder."""
    spill = tmp_path / "tmp"
    spill.mkdir()
    script = textwrap.dedent("""
        import os, signal
        from corpus_tools.build.writer import NearDuplicates, text_signatures
        from corpus_tools.keys import KeyValues
        store = KeyValues()
        store.first_many([os.urandom(32) for _ in range(50000)], [(n, "d" * 200) for n in range(50000)])
        near = NearDuplicates()
        near.add("a", "train", text_signatures(["one two three four"])[0])
        near.flush()
        print(len(os.listdir(os.environ["TMPDIR"])), flush=True)
        os.kill(os.getpid(), signal.SIGKILL)
    """)
    done = subprocess.run([sys.executable, "-c", script], env=_env(spill), capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == -signal.SIGKILL, done.stderr
    assert done.stdout.split() == ["0"]  # unlinked while open
    assert os.listdir(spill) == []


def test_the_stores_files_are_open_until_closed_and_spill_to_disk(tmp_path):
    """The page cache is bounded: 50,000 digests with their documents spill to a (deleted) file the process
    holds open."""
    script = textwrap.dedent("""
        import os
        from corpus_tools.keys import KeyValues
        def deleted():
            fd = f"/proc/{os.getpid()}/fd"
            names = []
            for n in os.listdir(fd):
                try:
                    names.append(os.readlink(os.path.join(fd, n)))
                except FileNotFoundError:  # the listing's own descriptor
                    pass
            return sum(1 for n in names if n.startswith(os.environ["TMPDIR"]) and n.endswith("(deleted)"))
        store = KeyValues()
        store.first_many([os.urandom(32) for _ in range(50000)], [(n, "d" * 200) for n in range(50000)])
        during = deleted()
        store.close()
        print(during, deleted())
    """)
    spill = tmp_path / "tmp"
    spill.mkdir()
    done = subprocess.run([sys.executable, "-c", script], env=_env(spill), capture_output=True, text=True,
                          timeout=300)
    assert done.stdout.split() == ["1", "0"], done.stderr


def _splits_file(path: Path, assignments: list[tuple[str, str]], seed: str = "corpus-tools") -> Path:
    pairs = ", ".join(f"{json.dumps(doc_id, ensure_ascii=False)}: {json.dumps(split)}" for doc_id, split in assignments)
    path.write_text('{"format": 1, "method": "sha256-bucket", "seed": ' + json.dumps(seed) + ","
                    ' "ratios": [["train", 0.8], ["validation", 0.1], ["test", 0.1]],'
                    ' "assignments": {' + pairs + "}}", encoding="utf-8")
    return path


def _traced_lookups(monkeypatch) -> list[str]:
    """The statements of every connection to an earlier splits file, in order ("connect" for each opening)."""
    statements: list[str] = []
    connect = KeyValuesReader._connect

    def traced(self):
        db = connect(self)
        statements.append("connect")
        db.set_trace_callback(statements.append)
        return db

    monkeypatch.setattr(KeyValuesReader, "_connect", traced)
    return statements


def test_earlier_splits_are_looked_up_on_disk_a_batch_at_a_time(tmp_path, monkeypatch):
    earlier = [(f"doc-{i:04d}", "test") for i in range(2 * LOOKUP_KEYS + 100)] + [("وثيقة", "heldout")]
    plan = read_splits(_splits_file(tmp_path / "splits.json", earlier), tmp_path / "earlier.sqlite")
    assert plan.assignments == {} and plan.earlier_names == {"test", "heldout"}
    assert plan.split_names == ("train", "validation", "test", "heldout")
    statements = _traced_lookups(monkeypatch)
    wanted = [doc_id for doc_id, _ in earlier] + ["new-1", "new-2"]
    assert plan.splits_of(wanted) == {**dict(earlier), "new-1": plan.rule_split("new-1"),
                                      "new-2": plan.rule_split("new-2")}
    lookups = [s for s in statements if s.startswith("SELECT key, a, b FROM kv WHERE key IN")]
    assert (statements.count("connect"), len(lookups)) == (1, 3)  # len(wanted) ids, LOOKUP_KEYS per query
    assert list(plan.recorded()) == sorted(earlier)


def test_a_build_with_previous_looks_each_segment_up_at_once_and_leaves_no_file(tmp_path, monkeypatch):
    v1, v2 = tmp_path / "v1", tmp_path / "v2"
    build_release(B.write_export(tmp_path / "a.json", B.simple_export(20)), version="1.0.0", out=v1)
    statements = _traced_lookups(monkeypatch)
    build_release(B.write_export(tmp_path / "b.json", B.simple_export(25, start=5)), version="1.1.0", out=v2,
                  previous=v1, workers=0)
    lookups = [s for s in statements if s.startswith("SELECT key, a, b FROM kv WHERE key IN")]
    assert len(lookups) == 1 and lookups[0].count("'") == 2 * 25  # the one segment's 25 ids in one query
    assert statements.count("SELECT key, a, b FROM kv ORDER BY key") == 1  # the writer's copy
    before = json.loads((v1 / "splits.json").read_text(encoding="utf-8"))["assignments"]
    after = json.loads((v2 / "splits.json").read_text(encoding="utf-8"))["assignments"]
    assert {k: after[k] for k in before} == before and len(after) == 30
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.json", "b.json", "v1", "v2"]
    assert not any(p.name.endswith(".sqlite") for p in v2.rglob("*"))


def test_a_build_with_previous_that_fails_leaves_no_file(tmp_path):
    v1 = tmp_path / "v1"
    build_release(B.write_export(tmp_path / "a.json", B.simple_export(5)), version="1.0.0", out=v1)
    tasks = B.simple_export(5)
    tasks[2]["data"] = "not an object"
    with pytest.raises(Exception, match="failed validation"):
        build_release(B.write_export(tmp_path / "b.json", tasks), version="1.1.0", out=tmp_path / "v2",
                      previous=v1)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.json", "b.json", "v1"]


@pytest.mark.parametrize(("assignments", "twice"), [
    ([("a", "train"), ("b", "test"), ("b", "test"), ("a", "train")], "b"),  # the first repeat in the file
    ([(f"d{i}", "train") for i in range(10_003)] + [("d3", "test")], "d3"),  # a repeat in a later write
])
def test_a_document_listed_twice_is_refused_as_the_stream_finds_it(tmp_path, assignments, twice):
    path = _splits_file(tmp_path / "splits.json", assignments)
    with pytest.raises(InputError, match=f"^invalid splits file {path}: '{twice}' is a key twice in one object"):
        read_splits(path, tmp_path / "earlier.sqlite")
    assert not (tmp_path / "earlier.sqlite").exists()


def test_a_top_level_key_twice_is_refused(tmp_path):
    path = tmp_path / "splits.json"
    path.write_text(SplitPlan().to_json().replace('"seed"', '"seed": "x", "seed"'), encoding="utf-8")
    with pytest.raises(InputError, match="'seed' is a key twice in one object"):
        read_splits(path, tmp_path / "earlier.sqlite")


@pytest.mark.parametrize(("text", "message"), [
    ('{"format": 1, "method": "sha256-bucket", "seed": "s", "ratios": [["train", 1]], "assignments": {"a": 3}}',
     "invalid splits file {path}: 3 is not of type 'string' at $.assignments.a"),
    ('{"format": 1, "method": "sha256-bucket", "seed": "s", "ratios": [["train", 1]], "assignments": {"a": "x"',
     "cannot read splits file {path}: Expecting ',' delimiter: line 1 column {column} (char {char})"),
])
def test_an_invalid_splits_file_is_refused_in_the_words_of_json_and_the_schema(tmp_path, text, message):
    path = tmp_path / "splits.json"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(InputError) as raised:
        read_splits(path, tmp_path / "earlier.sqlite")
    assert str(raised.value) == message.format(path=path, column=len(text) + 1, char=len(text))


def test_reading_earlier_splits_holds_no_more_memory_for_more_documents(tmp_path):
    import tracemalloc

    path = _splits_file(tmp_path / "splits.json", [(f"document-{i:07d}", "train") for i in range(100_000)])
    tracemalloc.start()
    try:
        plan = read_splits(path, tmp_path / "earlier.sqlite")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 16 * 2**20, peak  # about 8 MB; the whole file read at once held about 45 MB
    assert plan.splits_of(["document-0199999"]) == {"document-0199999": "train"}
