"""build_release end to end on small synthetic Label Studio exports with Arabic text.

Every config is loaded with the real ``datasets.load_dataset`` (in memory and streaming) and
checked against the expectation the test wrote when it assembled the articles.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import build_inputs as B
import pytest
from datasets import ClassLabel, List, Value, load_dataset

from corpus_tools.build.driver import build_release, select_gold
from corpus_tools.labelstudio.export import AnnotationRecord
from corpus_tools.release.checks import check_release
from corpus_tools.release.manifest import read_manifest
from corpus_tools.spans import Span, Token, bio_to_spans

CONFIGS = ("documents", "tokens", "relations", "annotations")


def _gold_file_doc(article: B.Article) -> dict:
    """An adjudicated document keeping only the person and the first city (and their relation)."""
    keep = [s for s in article.spans if s[0] in ("per", "city")]
    return {
        "id": article.id, "text": article.text,
        "entities": [{"id": f"g-{k}", "start": s, "end": e, "text": article.text[s:e], "label": lab}
                     for k, s, e, lab in keep],
        "relations": [{"id": "g-rel", "head": "g-per", "tail": "g-city", "label": "PHYS.Located"}],
    }


@pytest.fixture(scope="module")
def rich(tmp_path_factory):
    """An export exercising every gold-selection rule, built once for the module."""
    root = tmp_path_factory.mktemp("rich")
    arts = {i: B.news_article(i) for i in range(17)}
    tasks = []
    for i in range(12):
        annotator = {"id": 7, "email": "reviewer@example.org"} if i % 4 == 0 else 3
        tasks.append(B.task(i + 1, arts[i], [B.annotation(100 + i, arts[i].result(f"a{i}-"), annotator=annotator)]))
    partial = [it for it in arts[12].result("p-") if it.get("id") != "p-un"]
    tasks.append(B.task(13, arts[12], [
        B.annotation(200, partial, annotator=4),
        B.annotation(201, arts[12].result("g-"), annotator=5, ground_truth=True),
    ]))
    tasks.append(B.task(14, arts[13], [B.annotation(210, arts[13].result("x-"), annotator=4),
                                       B.annotation(211, arts[13].result("y-"), annotator=5)]))
    tasks.append(B.task(15, arts[14], [B.annotation(220, [], annotator=4, cancelled=True),
                                       B.annotation(221, arts[14].result("z-"), annotator=5)]))
    tasks.append(B.task(16, arts[15], [], predictions=[{"id": 9, "model_version": "m1", "score": 0.5,
                                                        "result": arts[15].result("m-")}]))
    tasks.append(B.task(17, arts[16], [B.annotation(230, arts[16].result("u-"), annotator=4),
                                       B.annotation(231, arts[16].result("v-"), annotator=5)]))
    export = B.write_export(root / "export.json", tasks)
    gold = root / "gold.jsonl"
    gold.write_text(json.dumps(_gold_file_doc(arts[16]), ensure_ascii=False) + "\n", encoding="utf-8")
    out = root / "release"
    result = build_release(export, version="1.0.0", out=out, name="test-org/arabic-news", gold=gold)
    expected = {}
    for i, art in arts.items():
        if i in (13, 15):
            continue  # left out: ambiguous, and prediction only
        spans = {(s, e, lab) for k, s, e, lab in art.spans}
        relations = {(h, t, lab) for h, t, lab in art.relations}
        if i == 16:
            spans = {(s, e, lab) for k, s, e, lab in art.spans if k in ("per", "city")}
            relations = {("per", "city", "PHYS.Located")}
        expected[art.id] = (art, spans, relations)
    return result, out, expected, root


def _load(out: Path, config: str, tmp: Path, streaming: bool = False):
    return load_dataset(str(out), config, cache_dir=str(tmp / "hf-cache"), streaming=streaming)


def test_gold_selection_reports_left_out_tasks(rich):
    result, out, expected, _ = rich
    build_problems = sorted((p.code, p.task_id) for p in result.report.problems if p.code.startswith("build-"))
    assert build_problems == [("build-gold-ambiguous", 14), ("build-gold-missing", 16)]
    assert result.report.valid
    assert result.stats.gold_sources == {"single": 13, "ground-truth": 1, "gold-file": 1}
    assert result.stats.left_out == {"ambiguous": 1, "unannotated": 1}
    manifest = read_manifest(out)
    assert sum(v["num_examples"] for v in manifest["configs"]["documents"].values()) == len(expected)


def test_select_gold_rules():
    def rec(i, **kw):
        return AnnotationRecord(task_id=1, document_id="d", kind=kw.pop("kind", "annotation"), id=i, **kw)

    assert select_gold([rec(1), rec(2, ground_truth=True)]) == (rec(2, ground_truth=True), "ground-truth")
    assert select_gold([rec(1, cancelled=True), rec(2)]) == (rec(2), "single")
    assert select_gold([rec(1), rec(2)]) == (None, "ambiguous")
    assert select_gold([rec(1, kind="prediction")]) == (None, "unannotated")
    assert select_gold([rec(1, cancelled=True, ground_truth=True)]) == (None, "unannotated")


@pytest.mark.parametrize("streaming", [False, True], ids=["memory", "streaming"])
def test_every_config_loads_with_features(rich, ontology, streaming, tmp_path):
    _, out, expected, _ = rich
    manifest = read_manifest(out)
    for config in CONFIGS:
        ds = _load(out, config, tmp_path, streaming)
        assert set(ds) == set(manifest["configs"][config])
        for split, part in ds.items():
            features = part.features
            if config == "documents":
                assert isinstance(features["entities"], List)
                assert features["entities"].feature["label"] == ClassLabel(names=list(ontology.entity_labels))
                assert features["entities"].feature["start"] == Value("int32")
                assert features["relations"].feature["label"].names == list(ontology.relation_labels)
            elif config == "tokens":
                assert features["ner_tags"] == List(ClassLabel(names=list(ontology.bio_labels)))
            elif config == "relations":
                assert features["label"].names == list(ontology.relation_labels)
                assert features["head_label"].names == list(ontology.entity_labels)
            else:
                assert isinstance(features["entities"], List) and features["cancelled"] == Value("bool")
            rows = list(part)
            assert len(rows) == manifest["configs"][config][split]["num_examples"]


def test_documents_round_trip_offsets_labels_and_relations(rich, ontology, tmp_path):
    _, out, expected, _ = rich
    ds = _load(out, "documents", tmp_path)
    seen = set()
    for split in ds:
        names = ds[split].features["entities"].feature["label"].names
        rel_names = ds[split].features["relations"].feature["label"].names
        for row in ds[split]:
            art, spans, relations = expected[row["id"]]
            assert row["text"] == art.text  # byte-identical, bidi mark and shadda kept
            for e in row["entities"]:
                assert row["text"][e["start"]:e["end"]] == e["text"]
            assert {(e["start"], e["end"], names[e["label"]]) for e in row["entities"]} == spans
            by_id = {e["id"]: (e["start"], e["end"]) for e in row["entities"]}
            keys = {(s, e): k for k, s, e, _ in art.spans}
            got = {(keys[by_id[r["head"]]], keys[by_id[r["tail"]]], rel_names[r["label"]]) for r in row["relations"]}
            assert got == relations
            assert row["dateline_places"] == art.dateline["places"] and row["title"] == art.title
            seen.add(row["id"])
    assert seen == set(expected)


def test_bio_tokens_decode_back_to_every_encodable_span(rich, tmp_path):
    # Each span decodes back widened to the edges of the words it touches (an independent expectation: no
    # tokenizer, only word characters); the nested ones are left out; the card counts both, per label.
    from bio_reference import word_widened

    _, out, expected, _ = rich
    docs = _load(out, "documents", tmp_path)
    toks = _load(out, "tokens", tmp_path)
    unencodable, widened, total = Counter(), Counter(), Counter()
    proclitic_tokens = 0
    for split in docs:
        texts = {row["id"]: row["text"] for row in docs[split]}
        tag_names = toks[split].features["ner_tags"].feature.names
        for row in toks[split]:
            text = texts[row["id"]]
            tokens = [Token(t, s, e) for t, s, e in zip(row["tokens"], row["token_start"], row["token_end"],
                                                         strict=True)]
            assert all(text[t.start:t.end] == t.text for t in tokens)
            assert "و" not in row["tokens"] and "وب" not in row["tokens"]  # no proclitic is cut off
            proclitic_tokens += sum(t.startswith("وب") for t in row["tokens"])
            decoded = bio_to_spans(text, tokens, [tag_names[i] for i in row["ner_tags"]])
            assert not decoded.orphans and not decoded.bad_tags
            art, spans, _ = expected[row["id"]]
            nested = {(s, e, lab) for k, s, e, lab in art.spans if k == "nation"}
            wide = {(s, e, lab): word_widened(text, Span(s, e, lab)) for s, e, lab in spans}
            assert {(s.start, s.end, s.label) for s in decoded.spans} == {
                (w.start, w.end, w.label) for key, w in wide.items() if key not in nested}
            for (s, e, lab), w in wide.items():
                total[lab] += 1
                widened[lab] += (w.start, w.end) != (s, e)
                unencodable[lab] += (s, e, lab) in nested
    assert proclitic_tokens >= len(expected) - 1  # all but the adjudicated document, which drops that span
    assert widened["GPE"] > 0 and unencodable["GPE"] > 0
    readme = (out / "README.md").read_text(encoding="utf-8")
    for label in total:
        assert f"| `{label}` | {total[label]} | {widened[label]} | {unencodable[label]} |" in readme, label
    assert f"Widened spans: {sum(widened.values())}; unencodable spans: {sum(unencodable.values())}." in readme


def test_relations_config_rows_carry_both_spans(rich, tmp_path):
    _, out, expected, _ = rich
    ds = _load(out, "relations", tmp_path)
    total = 0
    for split in ds:
        ent = ds[split].features["head_label"].names
        rel = ds[split].features["label"].names
        for row in ds[split]:
            art, _, relations = expected[row["document_id"]]
            keys = {(s, e): k for k, s, e, _ in art.spans}
            head, tail = (row["head_start"], row["head_end"]), (row["tail_start"], row["tail_end"])
            assert art.text[slice(*head)] == row["head_text"] and art.text[slice(*tail)] == row["tail_text"]
            assert (keys[head], keys[tail], rel[row["label"]]) in relations
            labels = {k: lab for k, _, _, lab in art.spans}
            assert ent[row["head_label"]] == labels[keys[head]] and ent[row["tail_label"]] == labels[keys[tail]]
            total += 1
    assert total == sum(len(r) for _, _, r in expected.values())


def test_annotations_config_keeps_every_annotation_with_pseudonyms(rich, tmp_path):
    _, out, _, _ = rich
    ds = _load(out, "annotations", tmp_path)
    rows = [row for split in ds for row in ds[split]]
    ids = sorted(r["annotation_id"] for r in rows)
    assert ids == sorted([100 + i for i in range(12)] + [200, 201, 210, 211, 220, 221, 230, 231])
    cancelled = [r["annotation_id"] for r in rows if r["cancelled"]]
    assert cancelled == [220]
    assert [r["annotation_id"] for r in rows if r["ground_truth"]] == [201]
    annotators = {r["annotator"] for r in rows}
    from corpus_tools.teams.pseudonyms import load_or_create_key, pseudonym

    key = load_or_create_key()
    assert annotators == {pseudonym(3, key=key), pseudonym(4, key=key), pseudonym(5, key=key),
                          pseudonym("reviewer@example.org", key=key)}
    assert all(a.startswith("annotator-") and len(a) == len("annotator-") + 16 for a in annotators)
    assert all("@" not in (a or "") for a in annotators)
    readme = (out / "README.md").read_text(encoding="utf-8")
    assert "reviewer@example.org" not in readme and "Inter-annotator agreement on " in readme
    assert "| Label | Span F1 exact % | Span F1 overlap % | Token kappa | Token alpha |" in readme


def test_parquet_encodings_follow_the_data(rich):
    """Token strings and tags dictionary-encoded, offsets that grow along a row delta-encoded, text plain."""
    import pyarrow.parquet as pq

    _, out, _, _ = rich

    def encodings(config: str) -> dict[str, tuple]:
        (path,) = (out / "data" / config).glob("train-*.parquet")
        group = pq.ParquetFile(path).metadata.row_group(0)
        return {group.column(i).path_in_schema: group.column(i).encodings for i in range(group.num_columns)}

    tokens = encodings("tokens")
    assert "RLE_DICTIONARY" in tokens["tokens.list.element"] and "RLE_DICTIONARY" in tokens["ner_tags.list.element"]
    assert "DELTA_BINARY_PACKED" in tokens["token_start.list.element"]
    assert "DELTA_BINARY_PACKED" in tokens["token_end.list.element"]
    for config in ("documents", "annotations"):
        found = encodings(config)
        assert "DELTA_BINARY_PACKED" in found["entities.list.element.start"]
        assert not any("DICTIONARY" in e for enc in found.values() for e in enc), config


def test_card_metadata_parses_with_datasets_and_states_policies(rich, ontology):
    from datasets.info import DatasetInfosDict
    from datasets.utils.metadata import MetadataConfigs
    from huggingface_hub import DatasetCard

    _, out, _, _ = rich
    card = DatasetCard.load(out / "README.md")
    configs = MetadataConfigs.from_dataset_card_data(card.data)
    infos = DatasetInfosDict.from_dataset_card_data(card.data)
    assert configs.get_default_config_name() == "documents"
    assert set(configs) == set(infos) == set(CONFIGS)
    assert card.data.language == ["ar"] and card.data.task_categories == ["token-classification"]
    assert card.data.license == "unknown" and card.data.size_categories == ["n<1K"]
    assert card.data.annotations_creators and card.data.pretty_name
    for split in infos["documents"].splits.values():
        assert split.num_bytes > 0 and split.num_examples > 0
    text = card.text
    for needle in ("revision=\"v1.0.0\"", "code points", "segmentation:** `none`", "rights not cleared",
                   "Normalisation:** none", "Clitic policy", ontology.entities[0].name_ar, "### v1.0.0"):
        assert needle.lower() in text.lower(), needle


def test_check_release_passes_on_the_build(rich, ontology):
    _, out, _, _ = rich
    report = check_release(out, ontology=ontology)
    assert report.problems == [] and report.valid


def test_rebuild_is_byte_identical(tmp_path):
    export = B.write_export(tmp_path / "export.json", B.simple_export(25))
    hashes = []
    for name in ("one", "two"):
        out = tmp_path / name
        build_release(export, version="1.0.0", out=out, name="test-org/same", max_shard_bytes=4096,
                      row_group_rows=4)
        files = sorted(p for p in out.rglob("*") if p.is_file())
        hashes.append({p.relative_to(out).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest() for p in files})
    assert hashes[0] == hashes[1]
    assert any("-00001-of-" in f for f in hashes[0])  # several shards per split with a tiny cap


def test_small_shards_and_row_groups_load_completely(tmp_path):
    import pyarrow.parquet as pq

    export = B.write_export(tmp_path / "export.json", B.simple_export(30))
    out = tmp_path / "rel"
    build_release(export, version="1.0.0", out=out, max_shard_bytes=1, row_group_rows=3)
    manifest = read_manifest(out)
    train = manifest["configs"]["documents"]["train"]
    assert len(train["files"]) == -(-train["num_examples"] // 3)
    assert train["files"][0].endswith(f"train-00000-of-{len(train['files']):05d}.parquet")
    assert pq.ParquetFile(out / train["files"][0]).metadata.row_group(0).num_rows == 3
    ds = load_dataset(str(out), "documents", cache_dir=str(tmp_path / "c"))
    assert len(ds["train"]) == train["num_examples"]


def test_an_integral_float_offset_that_validates_keeps_its_span(tmp_path):
    """validate takes an offset written 13.0 as the integer 13 (as JSON Schema does); the export's reader once
    dropped such a span, so the build lost it without a word (or called its relation dangling)."""
    import pyarrow.parquet as pq

    tasks = B.simple_export(3)
    for item in tasks[0]["annotations"][0]["result"]:
        if item.get("type") == "labels":
            item["value"]["start"] = float(item["value"]["start"])
            item["value"]["end"] = float(item["value"]["end"])
    export = B.write_export(tmp_path / "export.json", tasks)
    out = tmp_path / "rel"
    result = build_release(export, version="1.0.0", out=out, workers=0)
    assert result.report.valid, [(p.code, p.message) for p in result.report.errors]
    rows = [row for f in sorted((out / "data" / "documents").glob("*.parquet"))
            for row in pq.read_table(f).to_pylist()]
    from corpus_tools.ontology import load_ontology

    label_ids = {label: i for i, label in enumerate(load_ontology().entity_labels)}  # ClassLabel ids
    expected = {(start, end, label_ids[label]) for _, start, end, label in B.news_article(0).spans}
    [row] = [row for row in rows if row["id"] == "art-0000"]
    assert {(e["start"], e["end"], e["label"]) for e in row["entities"]} == expected
    assert len(row["relations"]) == 2


def test_later_release_keeps_every_earlier_split_assignment(tmp_path):
    first = B.write_export(tmp_path / "v1.json", B.simple_export(20))
    v1 = tmp_path / "v1"
    build_release(first, version="1.0.0", out=v1)
    # A hand-edited splits.json that the hash rule would never produce: everything in test.
    data = json.loads((v1 / "splits.json").read_text(encoding="utf-8"))
    data["assignments"] = {doc: "test" for doc in data["assignments"]}
    forced = tmp_path / "forced-splits.json"
    forced.write_text(json.dumps(data), encoding="utf-8")
    second = B.write_export(tmp_path / "v2.json", B.simple_export(30))
    v2 = tmp_path / "v2"
    build_release(second, version="1.1.0", out=v2, splits=forced)
    after = json.loads((v2 / "splits.json").read_text(encoding="utf-8"))["assignments"]
    assert all(after[doc] == "test" for doc in data["assignments"])
    from corpus_tools.release.splits import SplitPlan

    new_ids = sorted(set(after) - set(data["assignments"]))
    assert len(new_ids) == 10
    assert all(after[doc] == SplitPlan().rule_split(doc) for doc in new_ids)


def test_previous_release_implies_its_splits_and_nothing_moves(tmp_path):
    from corpus_tools.release.diff import diff_releases

    v1, v2 = tmp_path / "v1", tmp_path / "v2"
    build_release(B.write_export(tmp_path / "a.json", B.simple_export(20)), version="1.0.0", out=v1)
    build_release(B.write_export(tmp_path / "b.json", B.simple_export(25, start=5)), version="1.1.0", out=v2,
                  previous=v1, date="2026-02-01")
    before = json.loads((v1 / "splits.json").read_text(encoding="utf-8"))["assignments"]
    after = json.loads((v2 / "splits.json").read_text(encoding="utf-8"))["assignments"]
    assert {k: after[k] for k in before} == before  # removed documents keep their assignment too
    diff = diff_releases(v1, v2)
    assert diff.documents_moved == []
    readme = (v2 / "README.md").read_text(encoding="utf-8")
    assert "### v1.1.0 (2026-02-01)" in readme and "### v1.0.0" in readme
    assert "10 documents added, 5 removed" in readme


def test_version_must_increase_over_previous(tmp_path):
    from corpus_tools.errors import InputError

    v1 = tmp_path / "v1"
    export = B.write_export(tmp_path / "a.json", B.simple_export(5))
    build_release(export, version="1.0.0", out=v1)
    with pytest.raises(InputError, match="not above"):
        build_release(export, version="1.0.0", out=tmp_path / "v1b", previous=v1)


def test_out_existing_is_refused(tmp_path):
    from corpus_tools.errors import OutputError

    export = B.write_export(tmp_path / "a.json", B.simple_export(3))
    (tmp_path / "rel").mkdir()
    with pytest.raises(OutputError, match="already exists"):
        build_release(export, version="1.0.0", out=tmp_path / "rel")


def test_invalid_export_is_refused_and_leaves_nothing(tmp_path):
    from corpus_tools.errors import InvalidDataError

    tasks = B.simple_export(4)
    tasks[2]["annotations"][0]["result"][0]["value"]["labels"] = ["PERSON"]
    export = B.write_export(tmp_path / "bad.json", tasks)
    with pytest.raises(InvalidDataError) as info:
        build_release(export, version="1.0.0", out=tmp_path / "rel")
    assert {(p.code, p.task_id) for p in info.value.report.errors} == {("span-unknown-label", 3)}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.json"]


@pytest.mark.parametrize(("content", "code"), [(b"not json\n", "export-invalid-json"), (b"", "export-empty"),
                                             (b" true", "export-not-array")])
def test_input_that_is_neither_export_nor_jsonl_is_refused_located(tmp_path, content, code):
    """Exit 1 with validation's located problem (not a failure to run), and nothing written."""
    from corpus_tools.errors import InvalidDataError

    export = tmp_path / "in.json"
    export.write_bytes(content)
    with pytest.raises(InvalidDataError) as info:
        build_release(export, version="1.0.0", out=tmp_path / "rel")
    [problem] = info.value.report.errors
    assert (problem.code, problem.byte_offset) == (code, len(content) - len(content.lstrip()))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.json"]
    result = run_cli("build", str(export), "--version", "1.0.0", "--out", str(tmp_path / "rel"))
    assert result.returncode == 1 and "Traceback" not in result.stderr and f"[{code}]" in result.stderr


def test_duplicate_text_across_splits_is_an_error_naming_both(tmp_path):
    from corpus_tools.errors import InvalidDataError
    from corpus_tools.release.splits import SplitPlan

    plan = SplitPlan()
    ids = [f"dup-{i}" for i in range(50)]
    first = next(i for i in ids if plan.rule_split(i) == "train")
    second = next(i for i in ids if plan.rule_split(i) == "test")
    art = B.news_article(1)
    tasks = []
    for n, doc_id in enumerate((first, second)):
        art.id = doc_id
        tasks.append(B.task(n + 1, art, [B.annotation(10 + n, art.result(f"{n}-"))]))
    export = B.write_export(tmp_path / "dup.json", tasks)
    with pytest.raises(InvalidDataError) as info:
        build_release(export, version="1.0.0", out=tmp_path / "rel")
    problems = [p for p in info.value.report.errors]
    assert [(p.code, p.task_id) for p in problems] == [("build-duplicate-text-across-splits", 2)]
    assert first in problems[0].message and second in problems[0].message
    assert problems[0].details["documents"] == [first, second]
    assert not (tmp_path / "rel").exists()


def test_interrupted_build_leaves_nothing(tmp_path):
    export = B.write_export(tmp_path / "a.json", B.simple_export(1200))

    def stop(stage, done, total):
        if stage == "build" and done > 0:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        build_release(export, version="1.0.0", out=tmp_path / "rel", progress=stop)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.json"]


def test_killed_build_leaves_nothing_at_out(tmp_path):
    import signal
    import time

    export = B.write_export(tmp_path / "a.json", B.simple_export(4000))
    out = tmp_path / "rel"
    code = (f"from corpus_tools.build.driver import build_release\n"
            f"build_release({str(export)!r}, version='1.0.0', out={str(out)!r})\n")
    proc = subprocess.Popen([sys.executable, "-c", code])
    try:
        deadline = time.monotonic() + 60
        while not any(p.name.endswith(".building") and any(p.rglob("*.tmp")) for p in tmp_path.iterdir()):
            assert proc.poll() is None, "the build finished before it could be killed"
            assert time.monotonic() < deadline
            time.sleep(0.02)
        workers = _children(proc.pid)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait()
    assert not out.exists()
    assert workers or len(os.sched_getaffinity(0)) == 1  # the parallel build's workers were running
    deadline = time.monotonic() + 10  # its worker processes end with it: none is left waiting for work
    while any(Path(f"/proc/{pid}").exists() for pid in workers) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not [pid for pid in workers if Path(f"/proc/{pid}").exists()]
    left = [p for p in tmp_path.iterdir() if p.name.endswith(".building")]
    assert len(left) == 1 and any(left[0].rglob("*.tmp"))  # what a killed process cannot clean up itself
    # the next build of the same --out removes it (its lock died with the killed process)
    again = build_release(export, version="1.0.0", out=out)
    assert again.removed == left
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.json", "rel"]  # no folder, no lock file left
    assert check_release(out).valid


@pytest.mark.parametrize("appears", ["folder", "empty folder", "file"])
def test_an_out_that_appears_during_the_build_is_not_overwritten(tmp_path, appears):
    from corpus_tools.errors import OutputError

    export = B.write_export(tmp_path / "a.json", B.simple_export(6))
    out = tmp_path / "rel"

    def meanwhile(stage, done, total):  # another build, or a person, makes --out while this one checks
        if stage == "check" and not out.exists():
            if appears == "file":
                out.write_text("theirs", encoding="utf-8")
            else:
                out.mkdir()
                if appears == "folder":
                    (out / "README.md").write_text("theirs", encoding="utf-8")

    with pytest.raises(OutputError, match="appeared while the release was being built"):
        build_release(export, version="1.0.0", out=out, progress=meanwhile)
    if appears == "file":
        assert out.read_text(encoding="utf-8") == "theirs"
    else:
        assert [p.name for p in out.iterdir()] == ([] if appears == "empty folder" else ["README.md"])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.json", "rel"]


def test_a_running_builds_folder_and_other_names_are_kept(tmp_path):
    from filelock import FileLock

    export = B.write_export(tmp_path / "a.json", B.simple_export(6))
    running = tmp_path / ".rel.0000abcd.building"  # as a build in progress holds it
    running.mkdir()
    (running / "README.md").write_text("partial", encoding="utf-8")
    other = tmp_path / ".release.1111abcd.building"  # a killed build of another --out
    other.mkdir()
    killed = tmp_path / ".rel.2222abcd.building"  # a killed build of this --out: no lock held
    (killed / "data").mkdir(parents=True)
    (tmp_path / ".rel.4444abcd.building.lock").write_text("", encoding="utf-8")  # killed before its folder existed
    lock = FileLock(str(running) + ".lock", timeout=0)
    lock.acquire()
    try:
        result = build_release(export, version="1.0.0", out=tmp_path / "rel")
    finally:
        lock.release()
    assert result.removed == [killed]
    assert running.is_dir() and (running / "README.md").read_text(encoding="utf-8") == "partial"
    assert other.is_dir() and not killed.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        ["a.json", "rel", running.name, running.name + ".lock", other.name])


def test_an_out_that_cannot_be_created_is_a_clear_error(tmp_path):
    export = B.write_export(tmp_path / "a.json", B.simple_export(3))
    (tmp_path / "file").write_text("not a folder", encoding="utf-8")
    result = run_cli("build", str(export), "--version", "1.0.0", "--out", str(tmp_path / "file" / "sub" / "rel"))
    assert result.returncode == 3 and "Traceback" not in result.stderr
    said = " ".join(result.stderr.split())
    out = tmp_path / "file" / "sub" / "rel"
    assert f"cannot create the release folder {out}: {tmp_path / 'file'} is a file" in said
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.json", "file"]


def test_build_cli_says_what_it_removed(tmp_path):
    export = B.write_export(tmp_path / "a.json", B.simple_export(6))
    killed = tmp_path / ".rel.3333abcd.building"
    killed.mkdir()
    result = run_cli("build", str(export), "--version", "1.0.0", "--out", str(tmp_path / "rel"))
    assert result.returncode == 0, result.stderr
    said = " ".join(result.stderr.split())  # rich wraps long lines
    assert f"Removed {killed}, left by a build of {tmp_path / 'rel'} that was killed." in said
    assert not killed.exists()


def _children(pid: int) -> list[int]:
    """Process ids whose parent is ``pid`` (Linux /proc)."""
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            out.append(int(stat.parent.name))
    return out


def test_tokens_keep_proclitics_inside_entity_tokens(tmp_path):
    export = B.write_export(tmp_path / "a.json", B.simple_export(6))
    out = tmp_path / "rel"
    build_release(export, version="1.0.0", out=out)
    ds = load_dataset(str(out), "tokens", cache_dir=str(tmp_path / "c"))
    names = ds["train"].features["ner_tags"].feature.names
    pairs = {(t, names[g]) for row in ds["train"] for t, g in zip(row["tokens"], row["ner_tags"], strict=True)}
    assert any(t.startswith("وب") and tag == "B-GPE" for t, tag in pairs)
    assert "Tokens:** tokenizer `corpus-tools-words` version 2, segmentation `none`" in (
        out / "README.md").read_text(encoding="utf-8")
    docs = load_dataset(str(out), "documents", cache_dir=str(tmp_path / "c"))
    row = docs["train"][0]
    assert all(row["text"][e["start"]:e["end"]] == e["text"] and not e["text"].startswith("وب")
               for e in row["entities"])


def test_empty_split_is_left_out_of_the_card(tmp_path):
    from huggingface_hub import DatasetCard

    export = B.write_export(tmp_path / "a.json", B.simple_export(5))
    out = tmp_path / "rel"
    result = build_release(export, version="1.0.0", out=out, ratios=(("train", 1.0), ("test", 0.0)))
    assert result.report.problems == []  # a split of ratio 0 is left out on purpose: no build-split-empty
    card = DatasetCard.load(out / "README.md")
    for config in card.data.configs:
        assert [d["split"] for d in config["data_files"]] == ["train"]
    ds = load_dataset(str(out), "documents", cache_dir=str(tmp_path / "c"))
    assert list(ds) == ["train"] and len(ds["train"]) == 5


def test_a_split_left_empty_by_a_small_corpus_is_a_warning_naming_it(tmp_path):
    export = B.write_export(tmp_path / "a.json", B.simple_export(3))
    out = tmp_path / "rel"
    result = build_release(export, version="1.0.0", out=out)  # the default ratios: 80/10/10
    assigned = set(json.loads((out / "splits.json").read_text(encoding="utf-8"))["assignments"].values())
    empty = [name for name in ("train", "validation", "test") if name not in assigned]
    assert empty  # three documents cannot fill three splits of these ratios here
    assert [(p.code, p.severity, p.file, p.details["split"]) for p in result.report.problems] == [
        ("build-split-empty", "warning", str(export), name) for name in empty]
    message = result.report.problems[-1].message
    assert message.startswith(f"Split {empty[-1]!r} (ratio 0.1) got none of the 3 documents") and "--ratios" in message
    assert result.report.valid and check_release(out).valid

    cli = run_cli("build", str(export), "--version", "1.0.0", "--out", str(tmp_path / "cli"))
    assert cli.returncode == 0, cli.stderr
    assert "build-split-empty" in cli.stderr and f"Split {empty[-1]!r}" in cli.stderr


def test_canonical_document_jsonl_builds_without_annotations_config(tmp_path):
    lines = []
    for i in range(6):
        art = B.news_article(i)
        lines.append(json.dumps({
            "id": art.id, "text": art.text, "title": art.title, "source": "الوطن", "lang": "ar",
            "dateline": art.dateline,
            "entities": [{"id": k, "start": s, "end": e, "text": art.text[s:e], "label": lab}
                         for k, s, e, lab in art.spans],
            "relations": [{"id": f"{h}>{t}", "head": h, "tail": t, "label": lab} for h, t, lab in art.relations],
        }, ensure_ascii=False))
    export = tmp_path / "docs.jsonl"
    export.write_text("\n".join(lines) + "\n", encoding="utf-8")
    out = tmp_path / "rel"
    result = build_release(export, version="1.0.0", out=out)
    assert result.stats.gold_sources == {"document": 6}
    assert "annotations" not in read_manifest(out)["configs"]
    ds = load_dataset(str(out), "relations", cache_dir=str(tmp_path / "c"))
    assert sum(len(ds[s]) for s in ds) == 12


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "corpus_tools", *args], capture_output=True, text=True,
                          timeout=300)


def test_build_cli_json_is_the_report_and_exit_codes(tmp_path):
    export = B.write_export(tmp_path / "a.json", B.simple_export(8))
    result = run_cli("build", str(export), "--version", "1.0.0", "--out", str(tmp_path / "cli"), "--name", "x/y",
                     "--json")
    assert result.returncode == 0, result.stderr
    library = build_release(export, version="1.0.0", out=tmp_path / "lib", name="x/y")
    assert json.loads(result.stdout) == library.report.to_dict()
    again = run_cli("build", str(export), "--version", "1.0.1", "--out", str(tmp_path / "cli"))
    assert again.returncode == 3 and "already exists" in again.stderr and "Traceback" not in again.stderr
    usage = run_cli("build", str(export), "--version", "one", "--out", str(tmp_path / "other"))
    assert usage.returncode == 2 and not (tmp_path / "other").exists()
    tasks = B.simple_export(3)
    tasks[0]["annotations"][0]["result"][1]["value"]["end"] = 10_000
    bad = B.write_export(tmp_path / "bad.json", tasks)
    refused = run_cli("build", str(bad), "--version", "1.0.0", "--out", str(tmp_path / "bad"), "--json")
    assert refused.returncode == 1 and not (tmp_path / "bad").exists()
    report = json.loads(refused.stdout)
    assert report["valid"] is False and report["errors"] >= 1
    assert all(p["task_id"] == 1 for p in report["problems"] if p["severity"] == "error")


def test_build_from_a_script_without_main_guard(tmp_path):
    """The parallel validation must not re-import the caller's script (multiprocessing spawn would)."""
    export = B.write_export(tmp_path / "a.json", B.simple_export(4))
    script = tmp_path / "make_release.py"
    script.write_text(
        "from corpus_tools.build.driver import build_release\n"
        f"result = build_release({str(export)!r}, version='1.0.0', out={str(tmp_path / 'rel')!r})\n"
        "print(result.report.valid, result.stats.documents)\n",
        encoding="utf-8",
    )
    proc = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["True", "4"]


@pytest.mark.parametrize("native", [True, False])
def test_rename_never_replaces(tmp_path, monkeypatch, native):
    import ctypes

    from corpus_tools.files import rename_no_replace

    if native:
        assert hasattr(ctypes.CDLL(None), "renameat2")  # glibc: the rename itself refuses
    else:  # a system without renameat2: the check before the rename
        def no_libc(*args, **kwargs):
            raise OSError("no libc here")

        monkeypatch.setattr(ctypes, "CDLL", no_libc)
    built = tmp_path / "built"
    (built / "data").mkdir(parents=True)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(FileExistsError):
        rename_no_replace(built, empty)
    assert list(empty.iterdir()) == [] and (built / "data").is_dir()
    rename_no_replace(built, tmp_path / "out")
    assert (tmp_path / "out" / "data").is_dir() and not built.exists()


def test_a_dataset_name_with_a_line_break_or_nothing_in_it_is_refused(tmp_path):
    from corpus_tools.errors import InputError

    export = B.write_export(tmp_path / "a.json", B.simple_export(3))
    for name, why in [("org/a\nb", "control character (U+000A)"), ("   ", "empty")]:
        result = run_cli("build", str(export), "--version", "1.0.0", "--out", str(tmp_path / "rel"), "--name", name)
        assert result.returncode == 2 and why in " ".join(result.stderr.split()), result.stderr
        with pytest.raises(InputError, match=why.split(" (")[0]):
            build_release(export, version="1.0.0", out=tmp_path / "rel", name=name)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.json"]
    built = build_release(export, version="1.0.0", out=tmp_path / "rel", name=" org/نشرة ")
    assert built.manifest["name"] == "org/نشرة"


def test_an_export_that_is_not_a_regular_file_is_refused(tmp_path):
    fifo = tmp_path / "export.json"
    os.mkfifo(fifo)  # a pipe cannot be read twice; the build reads its input more than once
    result = run_cli("build", str(fifo), "--version", "1.0.0", "--out", str(tmp_path / "rel"))
    assert result.returncode == 3 and f"not a file: {fifo}" in result.stderr and "Traceback" not in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["export.json"]


def test_cli_build_problems_name_the_export_in_text_and_json(tmp_path):
    """A per-task problem found while building names the export, as validate's does (issue 23)."""
    from test_validate import FIXTURES, SPAN_TEXT_MISMATCH_LINE

    export = FIXTURES / "span-text-mismatch.json"
    result = run_cli("build", str(export), "--version", "1.0.0", "--out", str(tmp_path / "rel"))
    assert result.returncode == 1
    assert result.stderr.splitlines()[0] == SPAN_TEXT_MISMATCH_LINE.format(file=export)
    as_json = json.loads(run_cli("build", str(export), "--version", "1.0.0", "--out", str(tmp_path / "rel"),
                                 "--json").stdout)
    assert [(p["code"], p["file"]) for p in as_json["problems"]] == [("span-text-mismatch", str(export))]
    assert not (tmp_path / "rel").exists()


def test_build_problems_of_its_own_name_the_export_as_given(tmp_path):
    from corpus_tools.errors import InvalidDataError

    tasks = B.simple_export(3)
    tasks[1]["data"]["article_id"] = tasks[0]["data"]["article_id"] + "-b"
    tasks[1]["data"]["text"] = tasks[0]["data"]["text"]
    export = B.write_export(tmp_path / "export.json", tasks)
    with pytest.raises(InvalidDataError) as info:
        build_release(export, version="1.0.0", out=tmp_path / "rel")
    assert {p.file for p in info.value.report.problems} == {str(export)}
