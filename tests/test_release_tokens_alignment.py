"""check-release compares a split's tokens rows with its documents rows whatever the row groups of the two files,
and whichever of them cannot be read part way: every difference located by file and row, an unreadable file one
problem, the other file still checked."""

from __future__ import annotations

import errno
import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import build_inputs as B
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from release_factory import copy_release, rehash

from corpus_tools.build.driver import build_release
from corpus_tools.release import scan as release_scan
from corpus_tools.release.checks import check_release
from corpus_tools.release.manifest import read_manifest


@pytest.fixture(scope="module")
def many_groups(tmp_path_factory) -> Path:
    """A release whose files have row groups of two rows, so a file is scanned in several chunks."""
    root = tmp_path_factory.mktemp("paired")
    export = B.write_export(root / "export.json", B.simple_export(40))
    return build_release(export, version="1.0.0", out=root / "release", name="test-org/paired", row_group_rows=2).out


@pytest.fixture
def release(many_groups, tmp_path) -> Path:
    return copy_release(many_groups, tmp_path)


def files(root: Path, config: str, split: str = "train") -> list[str]:
    return read_manifest(root)["configs"][config][split]["files"]


def rewrite(root: Path, rel: str, edit, row_group_size: int = 2) -> None:
    table = pq.read_table(root / rel)
    rows = table.to_pylist()
    edit(rows)
    pq.write_table(pa.Table.from_pylist(rows, schema=table.schema), root / rel, compression="zstd",
                   row_group_size=row_group_size)
    rehash(root)


def problems(report) -> list[tuple[str, str | None, dict]]:
    return [(p.code, p.file, p.details) for p in report.problems]


def _damage_tokens(rows: list[dict]) -> None:
    for row in (5, 8):  # entities lost: only the comparison with the documents rows sees it
        rows[row]["ner_tags"] = [0] * len(rows[row]["ner_tags"])


@pytest.mark.parametrize("tokens_rows", [3, 5, 1000])
def test_tokens_row_groups_other_than_the_documents_ones_give_the_same_problems(release, ontology, monkeypatch,
                                                                                tokens_rows):
    """The documents chunks (one row group of two rows each) start inside the tokens row groups of three or five
    rows, or all inside the one: each tokens row is scanned once, compared with its own documents row, and each
    damaged row is named."""
    monkeypatch.setattr(release_scan, "CHUNK_GROUPS", 1)
    rel = files(release, "tokens")[0]
    rewrite(release, rel, _damage_tokens, row_group_size=tokens_rows)
    ids = pq.read_table(release / rel, columns=["id"]).column("id").to_pylist()
    report = check_release(release, ontology=ontology)
    assert problems(report) == [
        ("release-tokens-document", rel, {"row": 5, "document_id": ids[5]}),
        ("release-tokens-document", rel, {"row": 8, "document_id": ids[8]}),
    ]


def test_more_tokens_rows_than_documents_rows_are_scanned_alone(release, ontology):
    """The tokens rows after the last documents row are scanned by the split's last documents chunk, not compared."""
    rel = files(release, "tokens")[0]

    def edit(rows):
        rows.append(dict(rows[-1], token_end=[end + 1 for end in rows[-1]["token_end"]]))

    rewrite(release, rel, edit)
    rows = pq.read_metadata(release / rel).num_rows
    documents = pq.read_metadata(release / files(release, "documents")[0]).num_rows
    report = check_release(release, ontology=ontology)
    assert [(code, file, details) for code, file, details in problems(report) if file == rel] == [
        ("release-token-offsets", rel, {"row": rows - 1})]
    assert [p.message for p in report.problems if p.code == "release-cross-config"] == [
        f"tokens/train has {rows} rows, documents/train {documents}."]


def _failing_reads(monkeypatch, path: Path, from_group: int) -> None:
    """Reading row group ``from_group`` or a later one of ``path`` fails with an I/O error, whoever reads it."""
    iter_batches = pq.ParquetFile.iter_batches
    opened: dict[int, str] = {}
    init = pq.ParquetFile.__init__

    def remember(self, source, *args, **kwargs):
        init(self, source, *args, **kwargs)
        opened[id(self)] = str(source)

    def failing(self, *args, row_groups=None, **kwargs):
        if opened.get(id(self)) == str(path) and row_groups and row_groups[0] >= from_group:
            raise OSError(errno.EIO, "Input/output error", str(path))
        return iter_batches(self, *args, row_groups=row_groups, **kwargs)

    monkeypatch.setattr(pq.ParquetFile, "__init__", remember)
    monkeypatch.setattr(pq.ParquetFile, "iter_batches", failing)


@pytest.mark.parametrize("processes", [False, True])
def test_a_tokens_file_unreadable_part_way_is_one_problem_and_its_documents_are_still_checked(release, ontology,
                                                                                              monkeypatch, processes):
    """In threads or in worker processes (the build's), which send the tokens file's error back with the scan."""
    monkeypatch.setattr(release_scan, "CHUNK_GROUPS", 3)
    documents, tokens = files(release, "documents")[0], files(release, "tokens")[0]
    rewrite(release, documents, lambda rows: rows[7].__setitem__("text_sha256", "0" * 64))
    doc_id = pq.read_table(release / documents, columns=["id"]).column("id")[7].as_py()
    _failing_reads(monkeypatch, release / tokens, 4)
    if processes:
        with ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("fork")) as pool:
            report = check_release(release, ontology=ontology, executor=pool)
    else:
        report = check_release(release, ontology=ontology)
    assert [(code, file, details) for code, file, details in problems(report)] == [
        ("release-text-sha256", documents, {"row": 7, "document_id": doc_id}),
        ("release-file-unreadable", tokens, {}),
    ]
    assert report.problems[-1].message == (f"{tokens} cannot be read (Input/output error); make it readable (or"
                                           " build the release again) and check it again.")


def test_a_documents_row_group_that_cannot_be_read_leaves_its_tokens_unchecked(release, ontology, monkeypatch):
    """The documents file is reported; its split's tokens rows, whose comparison needs the documents rows, are
    not checked (as when a tokens file's own scan read them), and no problem names the tokens file."""
    monkeypatch.setattr(release_scan, "CHUNK_GROUPS", 3)
    documents, tokens = files(release, "documents")[0], files(release, "tokens")[0]
    rewrite(release, tokens, _damage_tokens)
    _failing_reads(monkeypatch, release / documents, 4)
    report = check_release(release, ontology=ontology)
    assert problems(report) == [("release-file-unreadable", documents, {})]


@pytest.fixture(scope="module")
def sharded(tmp_path_factory) -> Path:
    """A release whose train split has four documents files of eight rows and two tokens files of 18 and 14 rows."""
    root = tmp_path_factory.mktemp("sharded")
    export = B.write_export(root / "export.json", B.simple_export(40))
    out = build_release(export, version="1.0.0", out=root / "release", name="test-org/paired", row_group_rows=2,
                        max_shard_bytes=6000).out
    assert [pq.read_metadata(out / rel).num_rows for rel in files(out, "documents")] == [8, 8, 8, 8]
    assert [pq.read_metadata(out / rel).num_rows for rel in files(out, "tokens")] == [18, 14]
    return out


def test_tokens_files_that_end_inside_a_documents_file_are_compared_row_by_row(sharded, tmp_path, ontology,
                                                                              monkeypatch):
    monkeypatch.setattr(release_scan, "CHUNK_GROUPS", 3)
    release = copy_release(sharded, tmp_path)
    first, second = files(release, "tokens")

    def lose(*wanted):
        def edit(rows):
            for row in wanted:
                rows[row]["ner_tags"] = [0] * len(rows[row]["ner_tags"])
        return edit

    rewrite(release, first, lose(17))
    rewrite(release, second, lose(0, 3))
    ids = [pq.read_table(release / rel, columns=["id"]).column("id").to_pylist() for rel in (first, second)]
    report = check_release(release, ontology=ontology)
    assert problems(report) == [
        ("release-tokens-document", first, {"row": 17, "document_id": ids[0][17]}),
        ("release-tokens-document", second, {"row": 0, "document_id": ids[1][0]}),
        ("release-tokens-document", second, {"row": 3, "document_id": ids[1][3]}),
    ]


def test_the_second_tokens_file_unreadable_part_way_is_one_problem(sharded, tmp_path, ontology, monkeypatch):
    release = copy_release(sharded, tmp_path)
    second = files(release, "tokens")[1]
    _failing_reads(monkeypatch, release / second, 3)
    report = check_release(release, ontology=ontology)
    assert problems(report) == [("release-file-unreadable", second, {})]


def test_every_row_damaged_is_located_and_counted(release, ontology):
    """Every tokens row whose tags lost its entities is one more row that disagrees: the first five are named,
    the rest counted, each row once (whatever window of rows the comparison took it in)."""
    rel = files(release, "tokens")[0]
    rewrite(release, rel, lambda rows: [row.__setitem__("ner_tags", [0] * len(row["ner_tags"])) for row in rows])
    ids = pq.read_table(release / rel, columns=["id"]).column("id").to_pylist()
    report = check_release(release, ontology=ontology)
    assert [(p.file, p.details) for p in report.problems] == [
        *((rel, {"row": row, "document_id": ids[row]}) for row in range(5)), ("README.md", {})]
    assert report.problems[-1].message == (f"tokens/train: {len(ids) - 5} more rows disagree with the documents rows"
                                           f" ({len(ids)} in all).")
