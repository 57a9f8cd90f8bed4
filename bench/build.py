"""Benchmark ``build_release`` against the Label Studio SDK converter's CONLL2003 export.

Generates one synthetic Label Studio export per size (about 5 KB per task: Arabic text with
proclitics, tatweel, an RLM and an emoji, 10 spans of which one nested, 3 relations, two
annotators on every tenth task with one marked ground truth, a prediction on every fifth) and
measures, each in a fresh subprocess so peak RSS is its own:

* ``build``: our whole ``build_release`` (validation, gold selection, four Parquet configs, card,
  manifest, check-release), with its worker processes;
* ``validate``: ``validate_export`` alone (the part of ``build`` owned by the validator);
* ``converter``: ``label_studio_sdk.converter.Converter(...).convert(..., "CONLL2003")``.

Prints tasks/s, the ratio build/converter, peak RSS of each, and what the converter's output
lost that the release keeps (relations, nested spans, offsets, the other annotators).

    .venv/bin/python bench/build.py                 # 10k tasks
    .venv/bin/python bench/build.py --large         # 10k and 100k tasks
    .venv/bin/python bench/build.py --row-groups    # also: row-group size vs file size, RSS, first row
    .venv/bin/python bench/build.py --repeat 3      # each kind 3 times, interleaved: medians, ratio per round
    .venv/bin/python bench/build.py --floor         # also the library floor: the build's CPU against it (target
                                                    # 2x), and the CPU budget of 10x when the converter ran
    .venv/bin/python bench/build.py --only build --floor --large  # the build and its floor alone, 10k and 100k,
                                                    # and the CPU of the two vectorized features (tokens, MinHash)
    .venv/bin/python bench/build.py --view --large  # the cost of one normalised view (every step): build with
                                                    # the view against build without it, same run, interleaved
    .venv/bin/python bench/build.py --scale 1000000 --keep DIR  # one size: generate, validate, build, then
                                                    # check-release and diff (the release against itself) on it
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from _vocabulary import ENTITIES, WORDS  # bench/ is on sys.path when a script runs

PROCLITICS = ["", "", "", "و", "ب", "ل", "وب", "لـ"]
RELATIONS = [(0, 2, "PHYS.Located"), (0, 1, "ORG-AFF.Employment"), (1, 2, "GEN-AFF.Org-Location-Origin")]
TARGET_CHARS = 2000


def make_task(task_id: int) -> dict:
    """One task: ~5 KB JSON, 10 spans (PER, ORG, GPE first) + 1 GPE nested in an ORG, 3 relations."""
    rng = random.Random(task_id)
    text = f"{rng.choice(ENTITIES['GPE'])} ـ وكالات: "
    spans: list[tuple[int, int, str]] = []
    labels = ["PER", "ORG", "GPE"] + [rng.choice(list(ENTITIES)) for _ in range(7)]
    for k, label in enumerate(labels):
        text += " ".join(rng.choice(WORDS) for _ in range(rng.randint(12, 20))) + " "
        if k % 4 == 3:
            text += "😀 \u200f"
        text += rng.choice(PROCLITICS)
        start = len(text)
        text += rng.choice(ENTITIES[label])
        spans.append((start, len(text), label))
        if k == 5:  # an ORG that nests a GPE: "وزارة الخارجية المصرية"
            text += " "
            outer = len(text)
            text += "وزارة الخارجية "
            inner = len(text)
            text += "المصرية"
            spans.append((outer, len(text), "ORG"))
            spans.append((inner, len(text), "GPE"))
        text += " "
    while len(text) < TARGET_CHARS:
        text += rng.choice(WORDS) + " "
    text += f"رقم {task_id}.\n"

    def result(prefix: str, drop: int | None = None) -> list[dict]:
        items = [{"id": f"{prefix}{k}", "from_name": "label", "to_name": "text", "type": "labels", "origin": "manual",
                  "value": {"start": s, "end": e, "text": text[s:e], "labels": [lab]}}
                 for k, (s, e, lab) in enumerate(spans) if k != drop]
        items += [{"from_id": f"{prefix}{h}", "to_id": f"{prefix}{t}", "type": "relation", "direction": "right",
                   "labels": [lab]} for h, t, lab in RELATIONS]
        return items

    annotations = [{"id": task_id * 10, "completed_by": 1, "result": result(f"a{task_id}_"), "was_cancelled": False,
                    "ground_truth": task_id % 10 == 0, "lead_time": 41.5, "created_at": "2026-01-05T10:00:00Z",
                    "updated_at": "2026-01-05T10:00:00Z", "result_count": len(spans) + 3}]
    if task_id % 10 == 0:
        annotations.append({"id": task_id * 10 + 1, "completed_by": 2, "result": result(f"b{task_id}_", drop=4),
                            "was_cancelled": False, "ground_truth": False, "lead_time": 52.0,
                            "created_at": "2026-01-05T11:00:00Z", "updated_at": "2026-01-05T11:00:00Z"})
    predictions = []
    if task_id % 5 == 0:
        predictions.append({"id": task_id, "model_version": "ner-v1", "score": 0.87, "result": result(f"p{task_id}_")})
    return {"id": task_id, "data": {"text": text, "article_id": f"art-{task_id:07d}", "title": f"خبر {task_id}",
                                    "source": "الوطن", "lang": "ar"},
            "annotations": annotations, "predictions": predictions, "drafts": [], "meta": {},
            "created_at": "2026-01-05T09:00:00Z", "updated_at": "2026-01-05T11:00:00Z", "inner_id": task_id,
            "total_annotations": len(annotations), "cancelled_annotations": 0,
            "total_predictions": len(predictions), "project": 1}


def write_export(path: Path, n: int) -> None:
    with open(path, "w", encoding="utf-8") as f:
        f.write("[")
        for i in range(1, n + 1):
            if i > 1:
                f.write(",\n")
            f.write(json.dumps(make_task(i), ensure_ascii=False))
        f.write("]\n")


# ------------------------------------------------------------------------------------------ workers
BENCH_VIEW = "plain=ligatures,bidi,tatweel,diacritics,alef,alef-maqsura,taa-marbuta,digits"


def worker(kind: str, export: str, out: str, row_group_rows: int) -> dict:
    start = time.perf_counter()
    if kind in ("build", "build-view"):
        from corpus_tools.build.driver import build_release

        views = [BENCH_VIEW] if kind == "build-view" else []
        result = build_release(Path(export), version="1.0.0", out=Path(out), name="bench/arabic-news",
                               row_group_rows=row_group_rows, views=views)
        extra = {"valid": result.report.valid, "documents": result.stats.documents}
    elif kind == "validate":
        from corpus_tools.validate.driver import validate_export

        report = validate_export(export)
        extra = {"valid": report.valid}
    elif kind == "converter":
        from label_studio_sdk.converter import Converter

        from corpus_tools.artefacts import ontology_to_labelstudio_config
        from corpus_tools.ontology import load_ontology

        converter = Converter(ontology_to_labelstudio_config(load_ontology()), project_dir=None,
                              download_resources=False)
        converter.convert(export, out, "CONLL2003", is_dir=False)
        extra = {}
    elif kind == "check":
        from corpus_tools.release.checks import check_release

        report = check_release(Path(out))
        extra = {"valid": report.valid}
    elif kind == "diff":
        from corpus_tools.release.diff import diff_releases

        diff = diff_releases(Path(out), Path(out))
        extra = {"documents_added": len(diff.documents_added)}
    elif kind == "first-row":
        from datasets import load_dataset

        ds = load_dataset(out, "documents", split="train", streaming=True)
        next(iter(ds))
        extra = {}
    elif kind == "floor":
        extra = {"floor_us": library_floor(Path(export), Path(out)), "features_us": features_work(Path(out))}
    else:
        raise SystemExit(f"unknown worker {kind}")
    seconds = time.perf_counter() - start
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime  # the build's workers are reaped
    return {"seconds": seconds, "cpu_seconds": cpu, **extra}


def library_floor(export: Path, release: Path) -> dict[str, float]:
    """CPU microseconds per task of the compiled-library work any build of ``export`` into ``release`` (built
    from it) has to do, measured one stage at a time in this process: hash the input (the manifest records
    it), parse it (msgspec, as the build's workers), validate every task against the export schema
    (jsonschema-rs), encode the release's rows as Parquet with the build's writer options (1,000 rows at a
    time, as segments arrive), hash the files, and decode the columns check-release must read (the texts,
    entities and relations of documents, every ClassLabel column).  Python code of our own is not in it:
    the rest of a build's CPU is the per-task and per-span work (semantic checks, gold selection, the rows
    of four configs, tokenization, the checks' comparisons) and the fixed cost of imports and closing."""
    import gc
    import hashlib

    import msgspec
    import pyarrow as pa
    import pyarrow.parquet as pq

    from corpus_tools.build.shards import ShardWriter
    from corpus_tools.build.writer import PARQUET_ENCODINGS
    from corpus_tools.checks import _compiled
    from corpus_tools.features import release_features
    from corpus_tools.ontology import load_ontology
    from corpus_tools.release.scan import DOCUMENT_COLUMNS
    from corpus_tools.validate.segments import iter_segments

    gc.disable()  # as in the build's workers (parsing makes many containers and no cycles)
    clock = time.process_time
    stages: dict[str, float] = {}

    def timed(name: str, work: object) -> object:
        started = clock()
        value = work()  # type: ignore[operator]
        stages[name] = clock() - started
        return value

    timed("input sha256", lambda: hashlib.file_digest(open(export, "rb"), "sha256"))  # noqa: SIM115
    decode = msgspec.json.Decoder().decode
    schema, _ = _compiled(load_ontology())
    parse = check = 0.0
    count = 0
    with open(export, "rb") as f:  # segment by segment, as the workers do (all tasks at once would swap)
        for segment in iter_segments(export, check_utf8=False):
            raw = segment.read(f)
            started = clock()
            tasks = decode(b"[" + raw + b"]")
            parsed = clock()
            for task in tasks:
                schema.is_valid(task)
            parse, check = parse + parsed - started, check + clock() - parsed
            count += len(tasks)
    stages["parse (msgspec)"], stages["schema (jsonschema-rs)"] = parse, check
    count = max(1, count)
    tables: dict[tuple[str, str], list[pa.Table]] = {}
    for path in sorted(release.glob("data/*/*.parquet")):
        tables.setdefault((path.parent.name, path.name.split("-")[0]), []).append(pq.read_table(path))
    target = Path(tempfile.mkdtemp(prefix="floor-", dir=release.parent))

    def encode() -> None:
        for (config, split), parts in tables.items():
            table = pa.concat_tables(parts)
            writer = ShardWriter(target / config, split, table.schema,
                                 **PARQUET_ENCODINGS.get(config, {"dictionary": False}))
            for first in range(0, table.num_rows, 1000):
                writer.write_table(table.slice(first, 1000))
            writer.close()

    timed("Parquet encode", encode)
    tables.clear()
    files = sorted(target.rglob("*.parquet"))
    timed("output sha256", lambda: [hashlib.sha256(p.read_bytes()).digest() for p in files])
    classlabels = release_features(load_ontology()).classlabels
    needed = {config: sorted({column for column, *_ in columns} | set(DOCUMENT_COLUMNS if config == "documents"
                                                                      else ()))
              for config, columns in classlabels.items()}
    timed("Parquet decode", lambda: [pq.read_table(p, columns=needed[p.parent.name], use_threads=False)
                                     for p in files])
    shutil.rmtree(target)
    return {name: seconds / count * 1e6 for name, seconds in stages.items()}


def features_work(release: Path) -> dict[str, float]:
    """CPU microseconds per task of the two release features whose work is already vectorized (numpy, whole
    batches at a time, no Python per token or per shingle), measured on the texts and entity spans of
    ``release``'s documents config, as the build's workers call them: the tokens config's rows
    (``tokens.token_table``: tokenizer, span widening, BIO tags, the Arrow rows) and the near-duplicate audit's
    MinHash signatures (``build.writer.text_signatures``).  Not in the library floor (they are our code over
    numpy); printed beside it to show how much of a 2x budget they take before any per-task Python runs."""
    import gc

    import numpy as np
    import pyarrow.parquet as pq

    from corpus_tools.build.writer import text_signatures
    from corpus_tools.features import release_features
    from corpus_tools.ontology import load_ontology
    from corpus_tools.tokens import TagIds, token_table

    gc.disable()
    ontology = load_ontology()
    schema = release_features(ontology).schemas["tokens"]
    bio_ids = {label: i for i, label in enumerate(ontology.bio_labels)}
    tag_ids = TagIds.from_labels(ontology.entity_labels, bio_ids)
    clock = time.process_time
    tokens = signatures = 0.0
    count = 0
    for path in sorted(release.glob("data/documents/*.parquet")):
        for batch in pq.ParquetFile(path).iter_batches(batch_size=1000, columns=["id", "text", "entities"]):
            ids, texts = batch.column("id").to_pylist(), batch.column("text").to_pylist()
            entities = batch.column("entities")
            flat = entities.flatten()
            starts = flat.field("start").to_numpy().astype(np.int64)
            ends = flat.field("end").to_numpy().astype(np.int64)
            labels = flat.field("label").to_numpy().astype(np.int64)
            span_ids = flat.field("id").to_pylist()
            offsets = entities.offsets.to_numpy().astype(np.int64)
            started = clock()
            token_table(ids, texts, offsets, starts, ends, labels, span_ids, tag_ids, schema)
            tagged = clock()
            text_signatures(texts)
            tokens, signatures = tokens + tagged - started, signatures + clock() - tagged
            count += len(texts)
    count = max(1, count)
    return {"tokens config (token_table)": tokens / count * 1e6,
            "MinHash signatures (text_signatures)": signatures / count * 1e6}


class TreeMemory:
    """Peak RSS (every sample) and PSS (every tenth) of a process and its descendants, read from /proc.

    The descendants are looked up every tenth sample only (the build's workers live through the run):
    psutil's lookup reads the stat file of every process on the machine, which at 50 samples a second
    took about 5 % of a core from the measured run, whose two cores are busy (the converter's one is not).
    """

    PAGE = os.sysconf("SC_PAGE_SIZE")

    def __init__(self, pid: int) -> None:
        import psutil

        self.root = psutil.Process(pid)
        self.pids = [pid]
        self.samples = 0
        self.peak = self.peak_pss = 0

    def sample(self) -> None:
        import psutil

        if self.samples % 10 == 0:
            try:
                self.pids = [self.root.pid, *(p.pid for p in self.root.children(recursive=True))]
            except psutil.Error:
                pass
        self.peak = max(self.peak, sum(self._read(pid, "statm") for pid in self.pids))
        if self.samples % 10 == 0:  # PSS walks the page tables: 5 times a second, not to slow the run
            self.peak_pss = max(self.peak_pss, sum(self._read(pid, "smaps_rollup") for pid in self.pids))
        self.samples += 1

    def _read(self, pid: int, name: str) -> int:
        """Resident bytes (``statm``) or proportional bytes (``smaps_rollup``) of one process; 0 once it ended."""
        try:
            with open(f"/proc/{pid}/{name}", "rb") as f:
                data = f.read()
        except OSError:
            return 0
        if name == "statm":
            fields = data.split()
            return int(fields[1]) * self.PAGE if len(fields) > 1 else 0
        for line in data.splitlines():
            if line.startswith(b"Pss:"):
                return int(line.split()[1]) * 1024
        return 0


def run_measured(cmd: list[str], what: str) -> dict:
    """Run ``cmd`` (a worker printing one JSON line last) in a fresh subprocess; peak RSS is sampled (every 20 ms;
    PSS every 200 ms) over the worker and its children (the build's worker processes), since ru_maxrss would count
    the forking parent's pages.  The worker's JSON with ``peak_rss_mb`` and ``peak_pss_mb`` added."""
    with tempfile.TemporaryFile("w+") as stdout, tempfile.TemporaryFile("w+") as stderr:
        proc = subprocess.Popen(cmd, stdout=stdout, stderr=stderr, text=True)
        memory = TreeMemory(proc.pid)
        while proc.poll() is None:
            memory.sample()
            time.sleep(0.02)
        stdout.seek(0)
        stderr.seek(0)
        if proc.returncode != 0:
            raise SystemExit(f"{what} failed:\n{stderr.read()[-3000:]}")
        result = json.loads(stdout.read().strip().splitlines()[-1])
    result["peak_rss_mb"] = memory.peak / 2**20
    result["peak_pss_mb"] = memory.peak_pss / 2**20
    return result


def measure(kind: str, export: Path, out: Path, row_group_rows: int = 1000) -> dict:
    """One measurement (:func:`run_measured`) of this script's worker ``kind``."""
    return run_measured([sys.executable, __file__, "--worker", kind, str(export), str(out), str(row_group_rows)],
                        kind)


# ------------------------------------------------------------------------------------------ losses
def converter_losses(export: Path, conll_dir: Path, release: Path) -> dict:
    """What the CONLL2003 file lacks that the export (and our release) holds."""
    import pyarrow.parquet as pq

    gold_spans: Counter[str] = Counter()
    relations = nested = other_annotations = 0
    import ijson

    with open(export, "rb") as f:
        for task in ijson.items(f, "item", use_float=True):
            anns = [a for a in task["annotations"] if not a.get("was_cancelled")]
            gold = next((a for a in anns if a.get("ground_truth")), anns[-1])
            other_annotations += len(anns) - 1
            spans = [r for r in gold["result"] if r["type"] == "labels"]
            relations += sum(1 for r in gold["result"] if r["type"] == "relation")
            for s in spans:
                gold_spans[s["value"]["labels"][0]] += 1
            edges = sorted((s["value"]["start"], s["value"]["end"]) for s in spans)
            nested += sum(1 for a, b in zip(edges, edges[1:], strict=False) if b[0] < a[1])
    conll_spans: Counter[str] = Counter()
    with open(conll_dir / "result.conll", encoding="utf-8") as f:
        for line in f:
            match = re.search(r" B-(\S+)$", line.rstrip("\n"))
            if match:
                conll_spans[match.group(1)] += 1
    release_spans = 0
    release_relations = 0
    for path in sorted((release / "data" / "documents").glob("*.parquet")):
        table = pq.read_table(path, columns=["entities", "relations"])
        release_spans += sum(len(x) for x in table.column("entities").to_pylist())
        release_relations += sum(len(x) for x in table.column("relations").to_pylist())
    return {
        "gold_spans": sum(gold_spans.values()), "conll_b_tags": sum(conll_spans.values()),
        "release_spans": release_spans, "gold_relations": relations, "release_relations": release_relations,
        "nested_spans": nested, "other_annotations": other_annotations,
        "per_label": {lab: (gold_spans[lab], conll_spans[lab]) for lab in sorted(gold_spans)},
    }


def run_size(n: int, tmp: Path, kinds: tuple[str, ...] = ("converter", "validate", "build"), repeat: int = 1,
             floor: bool = False) -> dict:
    export = tmp / f"export-{n}.json"
    t = time.perf_counter()
    if not export.exists():  # the generator is deterministic: a kept export is reused
        write_export(export, n)
    print(f"\n== {n:,} tasks: export {export.stat().st_size / 1e6:.1f} MB ready in {time.perf_counter() - t:.1f} s")
    runs: dict[str, list[dict]] = {kind: [] for kind in kinds}
    for round_ in range(repeat):  # rounds interleave the measurements, so a drift of the machine hits all kinds
        for kind in kinds:
            target = tmp / f"{kind}-{n}"
            if kind in ("check", "diff"):  # they read the release the build step wrote
                target = tmp / f"build-{n}"
            else:
                shutil.rmtree(target, ignore_errors=True)
            runs[kind].append(measure(kind, export, target))
            _print_run(kind, n, runs[kind][-1], f"  (round {round_ + 1} of {repeat})" if repeat > 1 else "")
    out: dict = {kind: _median_run(results) for kind, results in runs.items()}
    if repeat > 1:
        for kind in kinds:
            _print_run(kind, n, out[kind], f"  (median of {repeat}; peak: the highest)")
    out["export"] = str(export)
    if floor and "build" in kinds:
        print_floor(n, out, measure("floor", export, tmp / f"build-{n}"))
    if set(kinds) != {"converter", "validate", "build"}:
        return out
    ratio = out["converter"]["seconds"] / out["build"]["seconds"]
    rounds = ""
    if repeat > 1:
        rounds = " (medians; round by round: " + ", ".join(
            f"{c['seconds'] / b['seconds']:.2f}x" for c, b in zip(runs["converter"], runs["build"], strict=True)) + ")"
    print(f"build / converter throughput: {ratio:.2f}x{rounds} (target >= 10x); build includes validation (in its"
          " worker processes) and check-release; peak RSS sums the process tree (forked workers share pages, which"
          " RSS counts once per process and PSS divides between them)")
    losses = converter_losses(export, tmp / f"converter-{n}", tmp / f"build-{n}")
    shifted = sum(max(0, gold - conll) for gold, conll in losses["per_label"].values())
    print(f"converter wrote {losses['conll_b_tags']:,} B- tags for {losses['gold_spans']:,} gold spans, at least "
          f"{shifted:,} of them under another label (per-label counts below), "
          f"0 of {losses['gold_relations']:,} relations, no offsets, no document ids, "
          f"none of {losses['other_annotations']:,} other annotators' annotations; "
          f"{losses['nested_spans']:,} nested spans cannot be BIO")
    print(f"release keeps {losses['release_spans']:,} spans (offsets, nested included) and "
          f"{losses['release_relations']:,} relations; every annotation in the annotations config")
    print("per label (gold, converter B- tags): " + ", ".join(f"{k} {g}/{c}" for k, (g, c) in
                                                               losses["per_label"].items()))
    out["losses"] = losses
    return out


def print_floor(n: int, out: dict, floor: dict) -> None:
    """The library floor beside the build's CPU and (with the converter measured) the CPU a 10x build may use on
    this machine's cores."""
    stages = floor["floor_us"]
    total = sum(stages.values())
    used = out["build"]["cpu_seconds"] / n * 1e6
    print("library floor (CPU us/task, one stage at a time): " + ", ".join(f"{k} {v:.0f}" for k, v in stages.items())
          + f"; total {total:.0f}")
    print(f"the build used {used:.0f} us of CPU per task (workers included): {used / total:.2f}x the floor"
          f" (target <= 2.00x: {'ok' if used <= 2 * total else 'MISSED'})", flush=True)
    features = floor["features_us"]
    vectorized = sum(features.values())
    print("vectorized features, not in the floor (CPU us/task): " + ", ".join(f"{k} {v:.0f}"
                                                                            for k, v in features.items())
          + f"; together {vectorized:.0f}, {vectorized / total:.0%} of the {total:.0f} us a 2x build has above the"
          f" floor; the build's other own work: {used - total - vectorized:.0f} us/task", flush=True)
    if "converter" not in out:
        return
    cores = os.cpu_count() or 1
    budget = out["converter"]["seconds"] / 10 * cores / n * 1e6
    print(f"10x the converter on {cores} cores leaves at most {budget:.0f} us of CPU per task (converter time / 10 x"
          f" {cores} cores, all busy); the build used {used:.0f} (its CPU, workers included): the floor is "
          f"{total / budget:.0%} of that budget, our own code's {used - total:.0f} us/task would have to fit in "
          f"{max(0.0, budget - total):.0f}; the converter used {out['converter']['cpu_seconds'] / n * 1e6:.0f} us of"
          f" CPU per task, on one core")


def _print_run(kind: str, n: int, result: dict, note: str) -> None:
    print(f"{kind:<10} {result['seconds']:8.2f} s  {n / result['seconds']:9,.0f} tasks/s  "
          f"peak RSS {result['peak_rss_mb']:7.0f} MB (PSS {result['peak_pss_mb']:5.0f} MB){note}")


def _median_run(results: list[dict]) -> dict:
    """The median time of several runs of one kind, with the highest peaks among them."""
    seconds = sorted(r["seconds"] for r in results)
    middle = len(seconds) // 2
    median = seconds[middle] if len(seconds) % 2 else (seconds[middle - 1] + seconds[middle]) / 2
    cpu = sorted(r["cpu_seconds"] for r in results)
    middle_cpu = cpu[middle] if len(cpu) % 2 else (cpu[middle - 1] + cpu[middle]) / 2
    return {**results[-1], "seconds": median, "cpu_seconds": middle_cpu,
            "peak_rss_mb": max(r["peak_rss_mb"] for r in results),
            "peak_pss_mb": max(r["peak_pss_mb"] for r in results)}


def row_group_study(tmp: Path, export: Path, n: int) -> None:
    import pyarrow.parquet as pq

    print(f"\n== row-group size at {n:,} tasks (documents + tokens Parquet, build peak RSS, streaming first row)")
    for rows in (1000, 10000):
        target = tmp / f"rg-{rows}"
        shutil.rmtree(target, ignore_errors=True)
        built = measure("build", export, target, rows)
        size = sum(p.stat().st_size for p in (target / "data").rglob("*.parquet"))
        first = measure("first-row", export, target)
        groups = pq.ParquetFile(next((target / "data" / "documents").glob("train-*.parquet"))).num_row_groups
        print(f"RG {rows:>6}: {size / 1e6:6.1f} MB Parquet, {groups} row groups in documents/train, build peak "
              f"{built['peak_rss_mb']:.0f} MB, {built['seconds']:.1f} s; streaming first row {first['seconds']:.2f} s"
              f" (peak {first['peak_rss_mb']:.0f} MB)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--large", action="store_true", help="also 100k tasks")
    parser.add_argument("--row-groups", action="store_true", help="compare 1k and 10k row groups at 10k tasks")
    parser.add_argument("--keep", type=Path, help="keep exports and outputs in this folder (and reuse exports)")
    parser.add_argument("--repeat", type=int, default=1, metavar="N",
                        help="measure each kind N times, interleaved (converter, validate, build, converter, ...);"
                             " report medians and the ratio of each round")
    parser.add_argument("--floor", action="store_true",
                        help="also measure the library floor: the CPU per task of the compiled-library work any build"
                             " must do (parse, schema, Parquet encode and decode, hashes), against the build's CPU"
                             " and (with the converter) a 10x budget")
    parser.add_argument("--only", help="comma-separated subset of converter,validate,build (no ratio then)")
    parser.add_argument("--view", action="store_true",
                        help="measure build with one view of every step against build without it (their ratio)")
    parser.add_argument("--scale", type=int, metavar="N",
                        help="one export of N tasks: time and peak RSS/PSS of validate, build, check-release and diff"
                             " (of the release with itself), each in its own process")
    parser.add_argument("--worker", nargs=4, metavar=("KIND", "EXPORT", "OUT", "ROWS"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        kind, export, out, rows = args.worker
        print(json.dumps(worker(kind, export, out, int(rows))))
        return
    # bytecode as an installed package has it (with PYTHONDONTWRITEBYTECODE set every run would compile the
    # package's sources again: a tenth of a second in every measured build, and in the converter's imports)
    import compileall

    import corpus_tools

    compileall.compile_dir(Path(corpus_tools.__file__).parent, quiet=1)
    tmp = args.keep or Path(tempfile.mkdtemp(prefix="bench-build-"))
    tmp.mkdir(parents=True, exist_ok=True)
    try:
        kinds = tuple(args.only.split(",")) if args.only else ("converter", "validate", "build")
        if args.view:
            kinds = ("build", "build-view")
        if args.repeat < 1:
            parser.error("--repeat must be at least 1")
        sizes = [10_000, 100_000] if args.large else [10_000]
        if args.scale:
            sizes, kinds = [args.scale], ("validate", "build", "check", "diff")
        results = {n: run_size(n, tmp, kinds, args.repeat, args.floor) for n in sizes}
        if args.view:
            for n, out in results.items():
                plain, viewed = out["build"], out["build-view"]
                wall = viewed["seconds"] / plain["seconds"]
                cpu = viewed["cpu_seconds"] / plain["cpu_seconds"]
                rss = viewed["peak_rss_mb"] / plain["peak_rss_mb"]
                print(f"one view ({BENCH_VIEW.partition('=')[2]}) at {n:,} tasks: build with it / without it"
                      f" {wall:.2f}x wall, {cpu:.2f}x CPU, peak RSS {rss:.2f}x")
        if len(results) == 2 and len(kinds) == 3:
            small, large = results[10_000]["build"], results[100_000]["build"]
            print(f"\npeak RSS 100k / 10k: build {large['peak_rss_mb'] / small['peak_rss_mb']:.2f}x"
                  f" (PSS {large['peak_pss_mb'] / small['peak_pss_mb']:.2f}x), converter "
                  f"{results[100_000]['converter']['peak_rss_mb'] / results[10_000]['converter']['peak_rss_mb']:.2f}x")
        if args.row_groups:
            row_group_study(tmp, Path(results[10_000]["export"]), 10_000)
    finally:
        if args.keep is None:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
