"""check_release catches each corruption of a built release with its exact code and location.

A clean release is built once; each test copies it, damages one thing and (unless the damage is
to the hashes themselves) rewrites manifest.json so only the intended check can fire.
"""

from __future__ import annotations

import concurrent.futures
import json
import multiprocessing
import os
import shutil
import subprocess
import sys
from pathlib import Path

import build_inputs as B
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml
from release_factory import copy_release, rehash

from corpus_tools.artefacts import ontology_to_features
from corpus_tools.build.driver import build_release
from corpus_tools.release.checks import check_release
from corpus_tools.release.manifest import read_manifest, write_manifest


@pytest.fixture(scope="module")
def clean(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("clean")
    export = B.write_export(root / "export.json", B.simple_export(24))
    out = root / "release"
    build_release(export, version="1.0.0", out=out, name="test-org/checks")
    return out


@pytest.fixture
def release(clean, tmp_path) -> Path:
    return copy_release(clean, tmp_path)


def found(report) -> set[tuple[str, str | None]]:
    return {(p.code, p.file) for p in report.problems}


def documents_file(root: Path, split: str = "train") -> str:
    return read_manifest(root)["configs"]["documents"][split]["files"][0]


def rewrite(root: Path, rel: str, edit, schema: pa.Schema | None = None) -> None:
    """Rewrite a Parquet file with edited rows (and optionally another schema)."""
    table = pq.read_table(root / rel)
    rows = table.to_pylist()
    edit(rows)
    schema = schema if schema is not None else table.schema
    pq.write_table(pa.Table.from_pylist(rows, schema=schema), root / rel, compression="zstd")


def edit_card(root: Path, edit) -> None:
    text = (root / "README.md").read_text(encoding="utf-8")
    _, front, body = text.split("---\n", 2)
    data = yaml.safe_load(front)
    edit(data)
    (root / "README.md").write_text("---\n" + yaml.safe_dump(data, sort_keys=False, allow_unicode=True) + "---\n"
                                    + body, encoding="utf-8")


def card_entry(data: dict, key: str, config: str) -> dict:
    return next(e for e in data[key] if e["config_name"] == config)


def test_clean_release_passes(clean, ontology):
    report = check_release(clean, ontology=ontology)
    assert report.problems == []
    assert report.stats["configs"]["documents/train"] > 0


def test_wrong_row_count_in_card(release, ontology):
    def edit(data):
        card_entry(data, "dataset_info", "documents")["splits"][0]["num_examples"] += 1

    edit_card(release, edit)
    rehash(release)
    assert found(check_release(release, ontology=ontology)) == {("release-row-count", "README.md")}


def test_wrong_row_count_in_manifest(release, ontology):
    manifest = json.loads((release / "manifest.json").read_text(encoding="utf-8"))
    manifest["configs"]["tokens"]["train"]["num_examples"] += 2
    manifest.pop("files")
    write_manifest(release, manifest)
    assert found(check_release(release, ontology=ontology)) == {("release-row-count", "manifest.json")}


def test_label_id_out_of_range(release, ontology):
    rel = documents_file(release)

    def edit(rows):
        rows[0]["entities"][0]["label"] = 42

    rewrite(release, rel, edit)
    rehash(release)
    report = check_release(release, ontology=ontology)
    assert found(report) == {("release-label-out-of-range", rel)}
    assert report.problems[0].details == {"column": "entities.label", "count": 1}


def test_text_sha256_that_is_not_the_texts_hash(release, ontology):
    import hashlib

    rel = documents_file(release)
    rows = pq.read_table(release / rel).to_pylist()
    assert all(r["text_sha256"] == hashlib.sha256(r["text"].encode("utf-8")).hexdigest() for r in rows)

    def edit(rows):
        rows[1]["text"] += " "  # the text changed after the build, its hash did not

    rewrite(release, rel, edit)
    rehash(release)
    report = check_release(release, ontology=ontology)
    assert [(p.code, p.file, p.details) for p in report.problems if p.severity == "error"] == [
        ("release-text-sha256", rel, {"row": 1, "document_id": rows[1]["id"]})]


def test_bio_tag_out_of_range(release, ontology):
    rel = read_manifest(release)["configs"]["tokens"]["test"]["files"][0]

    def edit(rows):
        rows[-1]["ner_tags"][0] = len(ontology.bio_labels)

    rewrite(release, rel, edit)
    rehash(release)
    assert found(check_release(release, ontology=ontology)) == {("release-label-out-of-range", rel)}


def test_parquet_schema_mismatch(release, ontology):
    from datasets import Value

    rel = documents_file(release)
    features = ontology_to_features(ontology)["documents"].copy()
    entity = dict(features["entities"].feature)
    entity["start"] = Value("int64")
    from datasets import List

    features["entities"] = List(entity)
    rewrite(release, rel, lambda rows: None, schema=features.arrow_schema)
    rehash(release)
    assert found(check_release(release, ontology=ontology)) == {("release-schema-mismatch", rel)}


def test_parquet_without_huggingface_metadata(release, ontology):
    rel = documents_file(release, "validation")
    schema = ontology_to_features(ontology)["documents"].arrow_schema.remove_metadata()
    rewrite(release, rel, lambda rows: None, schema=schema)
    rehash(release)
    report = check_release(release, ontology=ontology)
    assert found(report) == {("release-schema-mismatch", rel)}
    assert "huggingface" in report.problems[0].message


def test_readme_features_differ(release, ontology):
    def edit(data):
        entry = card_entry(data, "dataset_info", "documents")
        entities = next(f for f in entry["features"] if f["name"] == "entities")
        label = next(f for f in entities["list"] if f["name"] == "label")
        names = label["dtype"]["class_label"]["names"]
        names["0"], names["1"] = names["1"], names["0"]  # PER <-> ORG: datasets would load it silently

    edit_card(release, edit)
    rehash(release)
    report = check_release(release, ontology=ontology)
    assert found(report) == {("release-card-features", "README.md")}
    assert "entities" in report.problems[0].message


def test_readme_features_differ_without_ontology(release):
    """Without an ontology the README is the reference: the Parquet metadata must then equal it."""
    def edit(data):
        entry = card_entry(data, "dataset_info", "tokens")
        tags = next(f for f in entry["features"] if f["name"] == "ner_tags")
        tags["list"]["class_label"]["names"]["1"] = "B-PERSON"

    edit_card(release, edit)
    rehash(release)
    codes = {code for code, _ in found(check_release(release))}
    assert codes == {"release-schema-mismatch"}


def test_sha_mismatch(release, ontology):
    with open(release / "README.md", "a", encoding="utf-8") as f:
        f.write("\nedited after the build\n")
    assert found(check_release(release, ontology=ontology)) == {("release-sha-mismatch", "README.md")}


def test_same_size_edit_is_a_sha_mismatch(release, ontology):
    path = release / "splits.json"
    data = path.read_bytes()
    path.write_bytes(data.replace(b'"seed"', b'"SEED"', 1))
    codes = found(check_release(release, ontology=ontology))
    assert ("release-sha-mismatch", "splits.json") in codes


def test_unlisted_and_missing_files(release, ontology):
    (release / "data" / "notes.txt").write_text("x", encoding="utf-8")
    assert found(check_release(release, ontology=ontology)) == {("release-file-unlisted", "data/notes.txt")}
    (release / "data" / "notes.txt").unlink()
    (release / "splits.json").unlink()
    rehash(release)
    assert found(check_release(release, ontology=ontology)) == {("release-file-missing", "splits.json")}


def test_entity_text_mismatch(release, ontology):
    rel = documents_file(release)

    def edit(rows):
        rows[1]["entities"][0]["text"] += "x"

    rewrite(release, rel, edit)
    rehash(release)
    assert found(check_release(release, ontology=ontology)) == {("release-span-text", rel)}


def test_dangling_relation(release, ontology):
    rel = documents_file(release)

    def edit(rows):
        rows[0]["relations"][0]["tail"] = "no-such-span"

    rewrite(release, rel, edit)
    rehash(release)
    assert found(check_release(release, ontology=ontology)) == {("release-relation-dangling", rel)}


def test_token_lists_of_different_lengths(release, ontology):
    rel = read_manifest(release)["configs"]["tokens"]["train"]["files"][0]

    def edit(rows):
        rows[2]["ner_tags"] = rows[2]["ner_tags"][:-1]

    rewrite(release, rel, edit)
    rehash(release)
    assert found(check_release(release, ontology=ontology)) == {("release-token-offsets", rel)}


def test_no_default_config(release, ontology):
    def edit(data):
        card_entry(data, "configs", "documents").pop("default")

    edit_card(release, edit)
    rehash(release)
    assert found(check_release(release, ontology=ontology)) == {("release-no-default", "README.md")}


def test_data_files_pattern_matching_nothing(release, ontology):
    def edit(data):
        card_entry(data, "configs", "tokens")["data_files"].append(
            {"split": "extra", "path": "data/tokens/extra-*.parquet"})

    edit_card(release, edit)
    rehash(release)
    assert found(check_release(release, ontology=ontology)) == {
        ("release-data-files-unmatched", "README.md"), ("release-config-mismatch", "manifest.json")}


def test_file_matched_twice(release, ontology):
    def edit(data):
        card_entry(data, "configs", "relations")["data_files"][0]["path"] = "data/*/train-*.parquet"

    edit_card(release, edit)
    rehash(release)
    report = check_release(release, ontology=ontology)
    overlap = {f for code, f in found(report) if code == "release-data-files-overlap"}
    assert overlap == {documents_file(release), read_manifest(release)["configs"]["tokens"]["train"]["files"][0],
                       read_manifest(release)["configs"]["annotations"]["train"]["files"][0]}


def test_parquet_file_matched_by_no_pattern(release, ontology):
    rel = documents_file(release)
    shutil.copy(release / rel, release / "data" / "stray.parquet")
    rehash(release)
    assert found(check_release(release, ontology=ontology)) == {("release-data-file-orphan", "data/stray.parquet")}


def test_document_in_another_split_than_splits_json(release, ontology):
    rel = documents_file(release)
    doc_id = pq.read_table(release / rel, columns=["id"]).column("id")[0].as_py()
    data = json.loads((release / "splits.json").read_text(encoding="utf-8"))
    data["assignments"][doc_id] = "test"
    (release / "splits.json").write_text(json.dumps(data), encoding="utf-8")
    rehash(release)
    report = check_release(release, ontology=ontology)
    assert found(report) == {("release-split-assignment", rel)}
    assert report.problems[0].details["document_id"] == doc_id


def test_duplicate_text_across_splits(release, ontology):
    train, test = documents_file(release, "train"), documents_file(release, "test")
    donor = pq.read_table(release / train).to_pylist()[0]

    def edit(rows):
        rows[0] = {**donor, "id": rows[0]["id"]}

    rewrite(release, test, edit)
    rehash(release)
    report = check_release(release, ontology=ontology)
    # test is read before train (sorted), so the train document is the second sighting; the test split's tokens
    # and relations rows are still those of the replaced document
    tokens_test = read_manifest(release)["configs"]["tokens"]["test"]["files"][0]
    relations_test = read_manifest(release)["configs"]["relations"]["test"]["files"][0]
    assert found(report) == {("release-duplicate-text", train), ("release-tokens-document", tokens_test),
                             ("release-relations-document", relations_test)}
    duplicate = next(p for p in report.problems if p.code == "release-duplicate-text")
    victim = pq.read_table(release / test, columns=["id"]).column("id")[0].as_py()
    assert donor["id"] in duplicate.message and victim in duplicate.message


def test_other_ontology_version(release, ontology, tmp_path, repo_root):
    from corpus_tools.ontology import load_ontology

    text = (repo_root / "annotations" / "ontology.yaml").read_text(encoding="utf-8")
    other = tmp_path / "ontology.yaml"
    other.write_text(text.replace(f"version: {ontology.version}", "version: 9.9.9", 1), encoding="utf-8")
    report = check_release(release, ontology=load_ontology(other))
    assert found(report) == {("release-ontology-mismatch", "manifest.json")}


def test_card_without_front_matter(release, ontology):
    text = (release / "README.md").read_text(encoding="utf-8")
    (release / "README.md").write_text(text.split("---\n", 2)[2], encoding="utf-8")
    rehash(release)
    assert found(check_release(release, ontology=ontology)) == {("release-card-invalid", "README.md")}


def test_split_without_num_bytes(release, ontology):
    def edit(data):
        card_entry(data, "dataset_info", "documents")["splits"][0].pop("num_bytes")

    edit_card(release, edit)
    rehash(release)
    assert ("release-card-invalid", "README.md") in found(check_release(release, ontology=ontology))


def test_manifest_invalid(release, ontology):
    (release / "manifest.json").write_text("{}", encoding="utf-8")
    codes = {code for code, _ in found(check_release(release, ontology=ontology))}
    assert codes == {"release-manifest-invalid"}


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "corpus_tools", *args], capture_output=True, text=True,
                          timeout=300)


def test_check_release_cli_json_is_the_report(release, ontology):
    clean = run_cli("check-release", str(release), "--json")
    assert clean.returncode == 0, clean.stderr
    assert json.loads(clean.stdout) == check_release(release, ontology=ontology).to_dict()
    (release / "data" / "notes.txt").write_text("x", encoding="utf-8")
    broken = run_cli("check-release", str(release), "--json")
    assert broken.returncode == 1
    assert json.loads(broken.stdout) == check_release(release, ontology=ontology).to_dict()
    human = run_cli("check-release", str(release))
    assert human.returncode == 1 and "release-file-unlisted" in human.stderr and human.stdout == ""
    missing = run_cli("check-release", str(release / "nope"))
    assert missing.returncode in (1, 2, 3) and "Traceback" not in missing.stderr


CHECK_SCRIPT = """
import sys
from corpus_tools.ontology import load_ontology
from corpus_tools.release.checks import check_release
report = check_release(sys.argv[1], ontology=load_ontology())
print(report.valid, "datasets" in sys.modules, "huggingface_hub" in sys.modules, "pandas" in sys.modules)
"""


def test_check_release_with_a_warm_features_cache_imports_neither_datasets_nor_huggingface_hub(clean, tmp_path):
    """Nor pandas, which pyarrow imports at the first Array.to_numpy or Python scalar (a quarter second)."""
    env = {**__import__("os").environ, "CORPUS_TOOLS_CACHE": str(tmp_path / "cache")}

    def run() -> str:
        done = subprocess.run([sys.executable, "-c", CHECK_SCRIPT, str(clean)], env=env, capture_output=True,
                              text=True, check=True)
        return done.stdout.strip()

    assert run() == "True True True True"  # cold cache: the Features are computed through datasets once
    assert run() == "True False False False"


@pytest.fixture(scope="module")
def many_groups(tmp_path_factory) -> Path:
    """A release whose files have many row groups (two rows each), so each is scanned in several chunks."""
    root = tmp_path_factory.mktemp("groups")
    export = B.write_export(root / "export.json", B.simple_export(40))
    out = root / "release"
    build_release(export, version="1.0.0", out=out, name="test-org/checks", row_group_rows=2)
    return out


def test_a_file_scanned_in_chunks_gives_the_whole_file_scan(many_groups, ontology):
    from corpus_tools.features import release_features
    from corpus_tools.release import scan as S

    classlabels = release_features(ontology).classlabels
    for config in ("documents", "tokens", "relations", "annotations"):
        path = many_groups / read_manifest(many_groups)["configs"][config]["train"]["files"][0]
        chunks = S.row_group_chunks(path, 3)
        assert len(chunks) >= 3 and sum(chunks, []) == list(range(pq.ParquetFile(path).metadata.num_row_groups))
        whole = S.scan_file(path, config, classlabels[config])
        merged = S.FileScan()  # the parts in row order, as check-release takes them
        for part in [S.scan_file(path, config, classlabels[config], c) for c in chunks]:
            merged.merge(part)
            merged.ids += part.ids
            merged.text_keys += part.text_keys
            merged.text_sha256 += part.text_sha256
        assert merged == whole
        if config == "documents":
            assert len(whole.ids) == pq.ParquetFile(path).metadata.num_rows and whole.clean


@pytest.mark.parametrize("executor", ["threads", "processes"])
def test_damage_in_the_last_chunk_of_a_file_is_found(many_groups, tmp_path, ontology, executor, monkeypatch):
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor

    from corpus_tools.release import scan as release_scan
    monkeypatch.setattr(release_scan, "CHUNK_GROUPS", 3)

    release = tmp_path / "release"
    shutil.copytree(many_groups, release)
    rel = documents_file(release)
    table = pq.read_table(release / rel)
    rows = table.to_pylist()
    rows[-1]["entities"][0]["text"] += "x"
    pq.write_table(pa.Table.from_pylist(rows, schema=table.schema), release / rel, row_group_size=2,
                   compression="zstd")
    rehash(release)
    assert len(release_scan.row_group_chunks(release / rel)) >= 3  # the damage is in the last of several chunks
    pool = (ThreadPoolExecutor(2) if executor == "threads"
            else ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("fork")))
    with pool:
        report = check_release(release, ontology=ontology, executor=pool)
    assert found(report) == {("release-span-text", rel)}
    assert [p.details["row"] for p in report.problems] == [len(rows) - 1]


def test_a_documents_file_is_checked_across_files_a_chunk_of_rows_at_a_time(many_groups, ontology, monkeypatch):
    """The ids and text digests of a file go to the stores on disk a chunk at a time, never a whole file's."""
    from corpus_tools.keys import KeyValues
    from corpus_tools.release import scan as release_scan

    monkeypatch.setattr(release_scan, "CHUNK_GROUPS", 3)
    taken: list[int] = []
    first_many = KeyValues.first_many

    def recorded(self, keys, values, **kwargs):
        taken.append(len(keys))
        return first_many(self, keys, values, **kwargs)

    monkeypatch.setattr(KeyValues, "first_many", recorded)
    report = check_release(many_groups, ontology=ontology)
    assert report.valid
    rows = sum(pq.ParquetFile(many_groups / documents_file(many_groups, split)).metadata.num_rows
               for split in ("train", "validation", "test"))
    assert sum(taken) == 2 * rows  # each row's id and digest, once
    assert max(taken) == 3 * 2  # a chunk: three row groups of two rows


def test_scans_are_submitted_a_window_of_chunks_ahead_of_the_one_taken(many_groups, ontology, monkeypatch):
    """Even within one file: its chunks' results are not all held at once."""
    from corpus_tools.release import checks as release_checks
    from corpus_tools.release import scan as release_scan

    monkeypatch.setattr(release_scan, "CHUNK_GROUPS", 1)
    monkeypatch.setattr(release_checks, "SCAN_WINDOW", 1)
    chunks = len(release_scan.row_group_chunks(many_groups / documents_file(many_groups)))
    assert chunks > 2 * release_checks.THREADS + 1

    class Counting(concurrent.futures.ThreadPoolExecutor):
        waiting = most = 0

        def submit(self, fn, *args, **kwargs):
            future = super().submit(fn, *args, **kwargs)
            if args[0] is release_scan.scan_file:
                Counting.waiting += 1
                Counting.most = max(Counting.most, Counting.waiting)
                result = future.result

                def taken(timeout=None):
                    Counting.waiting -= 1
                    return result(timeout)

                future.result = taken
            return future

    with Counting(2) as pool:
        assert check_release(many_groups, ontology=ontology, executor=pool).valid
    assert Counting.waiting == 0
    assert Counting.most == release_checks.THREADS + 1  # the window, and the one being taken


def test_the_documents_stores_are_closed_once_the_last_documents_file_is_taken(many_groups, ontology, monkeypatch):
    """Their page caches are not held while the relations and tokens files are scanned."""
    from corpus_tools.keys import KeyValues
    from corpus_tools.release.checks import ReleaseChecker

    events: list[tuple[str, object]] = []
    close, file_scanned = KeyValues.close, ReleaseChecker._file_scanned

    def closed(self):
        events.append(("close", id(self)))
        close(self)

    def scanned(self, config, split, rel, *args):
        events.append(("file", config))
        return file_scanned(self, config, split, rel, *args)

    monkeypatch.setattr(KeyValues, "close", closed)
    monkeypatch.setattr(ReleaseChecker, "_file_scanned", scanned)
    assert check_release(many_groups, ontology=ontology).valid
    files = [config for kind, config in events if kind == "file"]
    assert files.index("relations") == files.index("documents") + 3  # train, validation, test, then relations
    after = next(k for k, (kind, config) in enumerate(events) if kind == "file" and config == "relations")
    before = {store for kind, store in events[:after] if kind == "close"}
    assert len(before) == 3  # splits.json's assignments, the texts and the ids
    assert [event for event in events[:after] if event[0] == "file"][-1] == ("file", "documents")


def test_the_documents_stores_keep_a_small_page_cache(many_groups, ontology, monkeypatch):
    from corpus_tools import keys
    from corpus_tools.keys import KeyValues
    from corpus_tools.release.checks import STORE_CACHE_KIB

    sizes: list[int] = []
    init = KeyValues.__init__

    def recorded(self, **kwargs):
        init(self, **kwargs)
        sizes.append(self._db.execute("PRAGMA cache_size").fetchone()[0])

    monkeypatch.setattr(KeyValues, "__init__", recorded)
    assert check_release(many_groups, ontology=ontology).valid
    assert sizes == [-STORE_CACHE_KIB] * 3  # KiB
    assert STORE_CACHE_KIB < keys.CACHE_KIB


def test_the_scans_read_their_files_without_pre_buffering(many_groups, ontology, monkeypatch):
    """pyarrow's pre-buffering reads row groups ahead into buffers whose freed pages Arrow's allocator keeps."""
    from corpus_tools.release import consistency, scan

    reading: list[tuple[str, bool]] = []

    class Recorded(pq.ParquetFile):
        def __init__(self, source, **kwargs):
            super().__init__(source, **kwargs)
            self.recorded = (Path(source).parent.name, kwargs.get("pre_buffer", True))

        def iter_batches(self, *args, **kwargs):
            reading.append(self.recorded)
            return super().iter_batches(*args, **kwargs)

    for module in (scan, consistency):
        monkeypatch.setattr(module.pq, "ParquetFile", Recorded)
    assert check_release(many_groups, ontology=ontology).valid
    assert {config for config, _ in reading} == {"documents", "tokens", "relations", "annotations"}
    assert {pre_buffer for _, pre_buffer in reading} == {False}


def test_only_the_scans_switch_arrow_to_its_system_allocator(clean, tmp_path):
    """A process's allocator is switched once, by the data checks, not by every guarded call (hashing, sizes)."""
    code = ("import sys\n"
            "import pyarrow as pa\n"
            "from corpus_tools.release import checks\n"
            "checks._guarded(len, 'x')\n"
            "print(pa.default_memory_pool().backend_name)\n"
            "assert checks.check_release(sys.argv[1]).valid\n"
            "print(pa.default_memory_pool().backend_name)\n")
    env = {**os.environ, "ARROW_DEFAULT_MEMORY_POOL": "mimalloc"}
    done = subprocess.run([sys.executable, "-c", code, str(clean)], capture_output=True, text=True, env=env,
                          check=True)
    assert done.stdout.split() == ["mimalloc", "system"]


def test_a_documents_file_unreadable_part_way_leaves_no_ids_for_the_files_after_it(many_groups, tmp_path, ontology,
                                                                                   monkeypatch):
    """Its first chunks' ids and digests were stored as they were taken; the file is reported unreadable, and the
    files after it are checked as though it had not been read at all."""
    from corpus_tools.release import scan as release_scan

    monkeypatch.setattr(release_scan, "CHUNK_GROUPS", 3)
    release = tmp_path / "release"
    shutil.copytree(many_groups, release)
    train, validation = documents_file(release), documents_file(release, "validation")
    first = pq.read_table(release / train, columns=["id"]).column("id")[0].as_py()

    def edit(rows):
        rows[0]["id"] = first  # also in train, whose first chunk is read

    rewrite(release, validation, edit)
    rehash(release)
    scan_file = release_scan.scan_file

    def failing(path, config, classlabels, row_groups=None, *args):
        if path == release / train and row_groups and row_groups[0] > 0:
            raise OSError(5, "Input/output error", str(path))
        return scan_file(path, config, classlabels, row_groups, *args)

    monkeypatch.setattr(release_scan, "scan_file", failing)
    report = check_release(release, ontology=ontology)
    assert [(p.code, p.file, p.details) for p in report.problems if p.file in (train, validation)] == [
        ("release-file-unreadable", train, {}),
        ("release-split-assignment", validation, {"row": 0, "document_id": first}),  # not release-duplicate-id
    ]


def test_problems_across_files_of_a_file_in_chunks_are_in_row_order(many_groups, tmp_path, ontology, monkeypatch):
    """Located in row order over the chunks (ids, splits and texts, then the text hashes), then counted."""
    from corpus_tools.release import scan as release_scan
    from corpus_tools.release.consistency import LOCATED

    monkeypatch.setattr(release_scan, "CHUNK_GROUPS", 1)
    release = tmp_path / "release"
    shutil.copytree(many_groups, release)
    rel = documents_file(release)
    ids = pq.read_table(release / rel, columns=["id"]).column("id").to_pylist()
    assert len(ids) > 2 * LOCATED + 2

    def edit(rows):
        for row in range(2, len(rows), 2):
            rows[row]["id"] = ids[0]
        rows[3]["text_sha256"] = "0" * 64

    table = pq.read_table(release / rel)
    rows = table.to_pylist()
    edit(rows)
    pq.write_table(pa.Table.from_pylist(rows, schema=table.schema), release / rel, row_group_size=2,
                   compression="zstd")
    rehash(release)
    report = check_release(release, ontology=ontology)
    duplicates = len(range(2, len(ids), 2))
    assert [(p.code, p.details) for p in report.problems if p.file == rel] == [
        *[("release-duplicate-id", {"row": row, "document_id": ids[0]}) for row in range(2, 2 * LOCATED + 1, 2)],
        ("release-text-sha256", {"row": 3, "document_id": ids[3]}),
        ("release-duplicate-id", {"count": duplicates}),
    ]


def test_a_symbolic_link_in_the_release_is_refused(release, ontology, tmp_path):
    """Same bytes through a link still fail: what is checked must be what is published, held by the folder."""
    rel = documents_file(release)
    outside = tmp_path / "elsewhere.parquet"
    shutil.move(release / rel, outside)
    (release / rel).symlink_to(outside)
    (tmp_path / "extra").mkdir()
    (release / "data" / "more").symlink_to(tmp_path / "extra", target_is_directory=True)
    report = check_release(release, ontology=ontology)
    assert {(p.code, p.file) for p in report.problems if p.code == "release-symlink"} == {
        ("release-symlink", rel), ("release-symlink", "data/more")}
    assert not report.valid
    result = subprocess.run([sys.executable, "-m", "corpus_tools", "publish", str(release), "--to",
                             str(tmp_path / "releases" / "x")], capture_output=True, text=True, timeout=300)
    assert result.returncode == 1 and "release-symlink" in result.stderr
    assert not (tmp_path / "releases" / "x" / "v1.0.0").exists()


def test_a_text_that_is_not_utf8_is_reported_not_a_traceback(release, ontology):
    """Parquet readers do not check UTF-8: the row-by-row checks read such a value as bytes and report it."""
    rel = documents_file(release)
    table = pq.read_table(release / rel)
    raw = [text.encode("utf-8") for text in table.column("text").to_pylist()]
    raw[1] = b"\xff" + raw[1][1:]
    broken = pa.array(raw, pa.binary()).view(pa.string())
    pq.write_table(table.set_column(table.schema.get_field_index("text"), table.schema.field("text"), broken),
                   release / rel, compression="zstd")
    rehash(release)
    report = check_release(release, ontology=ontology)
    [problem] = [p for p in report.problems if p.code == "release-not-utf8"]
    assert problem.file == rel and problem.details == {"row": 1, "column": "text"}
    assert "invalid start byte at byte 0" in problem.message


@pytest.mark.parametrize(("config", "column"), [("documents", "title"), ("documents", "source"),
                                               ("annotations", "annotator")])
def test_any_string_column_that_is_not_utf8_is_reported(release, ontology, config, column):
    """Every string column is checked, not only those the other checks read: a title that is not UTF-8 would
    otherwise be published (and fail at load_dataset, or be read with replacement characters)."""
    rel = read_manifest(release)["configs"][config]["train"]["files"][0]
    table = pq.read_table(release / rel)
    raw = [(value or "").encode("utf-8") for value in table.column(column).to_pylist()]
    raw[2] = raw[2] + "\ud800".encode("utf-8", "surrogatepass")  # a surrogate written as UTF-8, which UTF-8 forbids
    broken = pa.array(raw, pa.binary()).view(pa.string())
    pq.write_table(table.set_column(table.schema.get_field_index(column), table.schema.field(column), broken),
                   release / rel, compression="zstd")
    rehash(release)
    report = check_release(release, ontology=ontology)
    assert [(p.code, p.file, p.details) for p in report.problems] == [
        ("release-not-utf8", rel, {"row": 2, "column": column})]


def test_many_problems_in_a_file_are_located_a_few_and_counted(release, ontology):
    """The scan locates the first few problems of a code in a file (row, document id) and counts the rest."""
    from corpus_tools.release.consistency import LOCATED

    rel = documents_file(release)
    damaged = []

    def edit(rows):
        for k, row in enumerate(rows):
            if row["entities"]:
                row["entities"][0]["text"] += "x"
                damaged.append((k, row["id"]))

    rewrite(release, rel, edit)
    rehash(release)
    assert len(damaged) > LOCATED
    report = check_release(release, ontology=ontology)
    assert found(report) == {("release-span-text", rel)}
    located = [p for p in report.problems if "row" in p.details]
    assert [(p.details["row"], p.details["document_id"]) for p in located] == damaged[:LOCATED]
    [more] = [p for p in report.problems if "row" not in p.details]
    assert more.details == {"count": len(damaged)}
    assert f"{len(damaged) - LOCATED} more problems of this kind in {rel}" in more.message


def test_a_token_of_the_wrong_length_is_located_at_its_row(release, ontology):
    rel = read_manifest(release)["configs"]["tokens"]["train"]["files"][0]

    def edit(rows):
        rows[3]["token_end"][0] += 1

    rewrite(release, rel, edit)
    rehash(release)
    report = check_release(release, ontology=ontology)
    offsets = [p for p in report.problems if p.code == "release-token-offsets"]
    assert [(p.file, p.details) for p in offsets] == [(rel, {"row": 3})]
    assert offsets[0].message == "A token's length differs from token_end - token_start."


def test_many_duplicate_ids_are_located_a_few_and_counted(release, ontology):
    """The checks across files (ids, splits, texts) locate and count as the scans do."""
    from corpus_tools.release.consistency import LOCATED

    rel = documents_file(release)

    def edit(rows):
        for row in rows[1:]:
            row["id"] = rows[0]["id"]

    rewrite(release, rel, edit)
    rehash(release)
    rows = pq.read_table(release / rel, columns=["id"]).num_rows
    assert rows - 1 > LOCATED
    report = check_release(release, ontology=ontology)
    duplicates = [p for p in report.problems if p.code == "release-duplicate-id"]
    first = pq.read_table(release / rel, columns=["id"]).column("id")[0].as_py()
    assert [(p.file, p.details) for p in duplicates[:-1]] == [
        (rel, {"row": row, "document_id": first}) for row in range(1, LOCATED + 1)]
    assert duplicates[0].message == f"Document {first!r} appears twice."
    assert duplicates[-1].file == rel and duplicates[-1].details == {"count": rows - 1}


# -- files that cannot be read (issue 23) --------------------------------------------------------------------------
def _unreadable_line(rel: str, reason: str) -> str:
    return (f"error: [release-file-unreadable] {rel}: {rel} cannot be read ({reason}); make it readable (or build the"
            " release again) and check it again.")


def test_cli_unreadable_files_are_located_problems_not_tracebacks(clean):
    """A file the user cannot read (chmod 000, run as an unprivileged user) is one located problem, whichever check
    meets it first: the manifest's hashes (in threads), the card, splits.json, the Parquet scans."""
    from unprivileged import run_cli_as_nobody, shared_tmp

    manifest = read_manifest(clean)
    relations = manifest["configs"]["relations"]["train"]["files"][0]
    for rel in ["README.md", "splits.json", documents_file(clean), relations]:
        with shared_tmp() as folder:
            release = copy_release(clean, folder)
            for path in [release, *release.rglob("*")]:
                path.chmod(0o755 if path.is_dir() else 0o644)
            argv = ["check-release", str(release)]
            code, warm = run_cli_as_nobody(argv, warm=argv)
            assert code == 0, warm
            (release / rel).chmod(0)
            code, output = run_cli_as_nobody(argv)
            assert "Traceback" not in output
            assert code == 1, output
            lines = [line for line in output.splitlines() if line.startswith("error:")]
            assert lines == [_unreadable_line(rel, "Permission denied")], output


class _Replacing(concurrent.futures.ProcessPoolExecutor):
    """Worker processes (as the build passes its own) that replace a file by a folder at the first job, after the
    checks before the scans read it: the scan in a worker process meets the OSError."""

    def __init__(self, path: Path) -> None:
        super().__init__(2, mp_context=multiprocessing.get_context("fork"))
        self.path = path

    def submit(self, fn, /, *args, **kwargs):
        if self.path.is_file():
            self.path.unlink()
            self.path.mkdir()
        return super().submit(fn, *args, **kwargs)


@pytest.mark.parametrize("config", ["documents", "relations"])
def test_a_file_that_vanishes_while_scanned_in_a_worker_is_a_located_problem(release, ontology, config):
    rel = read_manifest(release)["configs"][config]["train"]["files"][0]
    with _Replacing(release / rel) as executor:
        report = check_release(release, ontology=ontology, executor=executor)
    assert [(p.code, p.file) for p in report.problems] == [("release-file-unreadable", rel)]
    reason = f"Cannot open for reading: path '{release / rel}' is a directory"  # pyarrow's words
    assert report.problems[0].message == _unreadable_line(rel, reason).split(": ", 2)[2]
