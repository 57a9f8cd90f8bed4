"""Benchmark ``validate_export`` against plain incremental parsing of the same file.

Generates synthetic Label Studio exports (about 5 KB per task: Arabic text, 10 spans, 3 relations,
the metadata keys a real export carries) of 10k tasks and, with ``--large``, 100k tasks.  Each
measurement runs in a fresh subprocess so peak RSS is its own.  Prints, measured in this run:
tasks/s of validate, tasks/s of plain ijson parsing, their ratio, peak RSS at each size and the
RSS ratio between sizes.

Targets: validate >= 50% of plain parse speed; peak RSS at 100k <= 1.2x peak RSS at 10k.

Rates are given per CPU second of the measured process (robust when other jobs share the cores)
and per wall-clock second; at 10k each measurement runs ``--repeat`` times, interleaved, and the
fastest run is kept.

    .venv/bin/python bench/validate.py            # 10k only
    .venv/bin/python bench/validate.py --large    # 10k and 100k
    .venv/bin/python bench/validate.py --profile  # cProfile of validate at 10k
    .venv/bin/python bench/validate.py --huge-text-mb 1,8,32  # one task whose text is 1, 8, 32 MB
    .venv/bin/python bench/validate.py --dense    # span-dense tasks (the bundled seed), 1k and 4k
    .venv/bin/python bench/validate.py --dense --profile  # and a cProfile of validate at 4k
    .venv/bin/python bench/validate.py --warned --large  # a warning on every task: validate's peak RSS, 10k to 100k

``--huge-text-mb`` measures instead one task of one huge text (Arabic words, two spans), through ``validate``
(segments) and through the stream reading that ``validate`` falls back to (``iter_validated``, also what
``--repair-utf16`` reads); it prints seconds and seconds per MB of each, and how much the seconds per MB grow
from the smallest to the largest text (1.0: linear).

``--dense`` measures span-dense documents instead: the bundled seed article (annotations/sample/, about 30 KB of
export JSON per task with 126 spans and 17 relations, 4 spans per KB against the synthetic tasks' 2) copied into
1,000 and 4,000 tasks of a Label Studio export, each copy perturbed (a different count of leading words, so every
offset moves, and its own region ids).  validate and ijson run interleaved, best of ``--repeat``; it prints the
ratio at 4k and the peak RSS of validate at 1k and 4k.

``--warned`` measures instead exports whose every task carries a warning (a second annotation, cancelled:
``annotation-cancelled``), at 10k and with ``--large`` 100k tasks: validate's peak RSS at each size and their
ratio (a report keeps at most ``--warnings-per-code`` warnings of each code and counts the others, so the peak
should not grow with the warnings), and the warnings counted.
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import tempfile
from pathlib import Path

from _vocabulary import ENTITIES, WORDS  # bench/ is on sys.path when a script runs

PROCLITICS = ["", "", "", "و", "ب", "ل", "وب"]
RELATIONS = [("PER", "GPE", "PHYS.Located"), ("PER", "ORG", "ORG-AFF.Employment"),
             ("ORG", "GPE", "GEN-AFF.Org-Location-Origin")]
TARGET_BYTES = 5000
SEED_DOCUMENT = Path(__file__).resolve().parent.parent / "annotations" / "sample" / "documents.jsonl"
DENSE_SIZES = (1_000, 4_000)


def make_task(task_id: int, rng: random.Random) -> dict:
    """One task: ~5 KB of JSON with 10 spans (first three PER, ORG, GPE) and 3 valid relations."""
    parts: list[str] = []
    length = 0
    spans = []
    labels = ["PER", "ORG", "GPE"] + [rng.choice(list(ENTITIES)) for _ in range(7)]
    for k, label in enumerate(labels):
        filler = " ".join(rng.choice(WORDS) for _ in range(rng.randint(8, 14))) + " "
        if k % 4 == 3:
            filler += "😀 \u200f"  # an emoji and an RLM, never at a span edge
        clitic = rng.choice(PROCLITICS)
        name = rng.choice(ENTITIES[label])
        parts.append(filler + clitic)
        length += len(filler) + len(clitic)
        spans.append((length, length + len(name), label, name, f"r{task_id}_{k}"))
        parts.append(name + " ")
        length += len(name) + 1
    parts.append(" ".join(rng.choice(WORDS) for _ in range(60)) + ".\r\n")
    text = "".join(parts)
    result: list[dict] = [
        {"id": sid, "from_name": "label", "to_name": "text", "type": "labels", "origin": "manual",
         "value": {"start": s, "end": e, "text": text[s:e], "labels": [label]}}
        for s, e, label, _, sid in spans
    ]
    by_label = {label: sid for _, _, label, _, sid in reversed(spans)}
    for head, tail, rel in RELATIONS:
        result.append({"from_id": by_label[head], "to_id": by_label[tail], "type": "relation",
                       "direction": "right", "labels": [rel]})
    task = {
        "id": task_id,
        "data": {"text": text, "article_id": f"art-{task_id:08d}", "title": "خبر", "source": "bench", "lang": "ar"},
        "annotations": [{
            "id": task_id, "completed_by": 1, "result": result, "was_cancelled": False, "ground_truth": False,
            "created_at": "2026-11-02T10:00:00.000000Z", "updated_at": "2026-11-02T10:05:00.000000Z",
            "draft_created_at": None, "lead_time": 301.5, "prediction": {}, "result_count": len(result),
            "unique_id": f"u-{task_id}", "import_id": None, "last_action": None, "bulk_created": False,
            "task": task_id, "project": 1, "updated_by": 1, "parent_prediction": None, "parent_annotation": None,
            "last_created_by": None,
        }],
        "drafts": [], "predictions": [], "meta": {}, "created_at": "2026-11-01T09:00:00.000000Z",
        "updated_at": "2026-11-02T10:05:00.000000Z", "allow_skip": True, "inner_id": task_id,
        "total_annotations": 1, "cancelled_annotations": 0, "total_predictions": 0, "comment_count": 0,
        "unresolved_comment_count": 0, "last_comment_updated_at": None, "project": 1, "updated_by": 1,
        "comment_authors": [],
    }
    return task


def write_export(path: Path, tasks: int, seed: int = 5, *, warned: bool = False) -> int:
    """``tasks`` tasks of :func:`make_task`; ``warned``: each with a second annotation, cancelled."""
    rng = random.Random(seed)
    with path.open("w", encoding="utf-8") as f:
        f.write("[")
        for i in range(1, tasks + 1):
            task = make_task(i, rng)
            if warned:
                cancelled = {**task["annotations"][0], "id": tasks + i, "completed_by": 2, "was_cancelled": True,
                             "result": [], "result_count": 0, "unique_id": f"u-cancelled-{i}"}
                task["annotations"].append(cancelled)
                task.update(total_annotations=2, cancelled_annotations=1)
            f.write(("," if i > 1 else "") + "\n" + json.dumps(task, ensure_ascii=False))
        f.write("\n]\n")
    return path.stat().st_size


def write_huge_export(path: Path, megabytes: float, seed: int = 5) -> int:
    """One valid task whose text is about ``megabytes`` MB of Arabic words, with a PER and a GPE span at its start."""
    rng = random.Random(seed)
    head = "محمد زار بيروت. "
    words, size = [], 0
    while size < megabytes * 1e6:
        word = rng.choice(WORDS)
        words.append(word)
        size += len(word.encode("utf-8")) + 1
    text = head + " ".join(words)
    spans = [(0, len("محمد"), "PER"), (len("محمد زار "), len("محمد زار بيروت"), "GPE")]
    result = [{"id": f"r{k}", "from_name": "label", "to_name": "text", "type": "labels",
               "value": {"start": s, "end": e, "text": text[s:e], "labels": [label]}}
              for k, (s, e, label) in enumerate(spans)]
    task = {"id": 1, "data": {"text": text, "article_id": "art-huge"}, "annotations": [{"id": 1, "result": result}]}
    path.write_text(json.dumps([task], ensure_ascii=False), encoding="utf-8")
    return path.stat().st_size


def make_dense_task(seed: dict, task_id: int, rng: random.Random) -> dict:
    """The seed document as a Label Studio task: text moved by 0-40 leading words, region ids of its own."""
    prefix = "".join(rng.choice(WORDS) + " " for _ in range(rng.randint(0, 40)))
    shift = len(prefix)
    text = prefix + seed["text"]
    ids = {span["id"]: f"t{task_id}-{span['id']}" for span in seed["entities"]}
    result: list[dict] = [
        {"id": ids[span["id"]], "from_name": "label", "to_name": "text", "type": "labels", "origin": "manual",
         "value": {"start": span["start"] + shift, "end": span["end"] + shift,
                   "text": text[span["start"] + shift : span["end"] + shift], "labels": [span["label"]]}}
        for span in seed["entities"]
    ]
    result += [{"from_id": ids[rel["head"]], "to_id": ids[rel["tail"]], "type": "relation", "direction": "right",
                "labels": [rel["label"]]} for rel in seed["relations"]]
    task = make_task(task_id, rng)
    task["data"].update(text=text, title=seed["title"], source=seed["source"])
    task["annotations"][0].update(result=result, result_count=len(result))
    return task


def write_dense_export(path: Path, tasks: int, seed: int = 5) -> int:
    """``tasks`` perturbed copies of the bundled seed document (the sample's first line) as an export."""
    rng = random.Random(seed)
    with SEED_DOCUMENT.open(encoding="utf-8") as f:
        document = json.loads(f.readline())
    with path.open("w", encoding="utf-8") as f:
        f.write("[")
        for i in range(1, tasks + 1):
            f.write(("," if i > 1 else "") + "\n" + json.dumps(make_dense_task(document, i, rng), ensure_ascii=False))
        f.write("\n]\n")
    return path.stat().st_size


CHILD = r"""
import json, sys, time
mode, path = sys.argv[1], sys.argv[2]
if mode == "parse":
    import ijson
    start, cpu = time.perf_counter(), time.process_time()
    n = 0
    with open(path, "rb") as f:
        for _ in ijson.items(f, "item", use_float=True):
            n += 1
    seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu
    extra = {}
elif mode == "stream":
    from corpus_tools.validate.driver import iter_validated
    from corpus_tools.ontology import load_ontology
    from corpus_tools.report import Report
    ontology = load_ontology()
    report = Report()
    start, cpu = time.perf_counter(), time.process_time()
    n = sum(1 for _ in iter_validated(path, report, ontology=ontology))
    seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu
    extra = {"valid": report.valid, "problems": report.errors_found + report.warnings_found, "counts": report.counts()}
else:
    from corpus_tools.validate.driver import validate_export
    from corpus_tools.ontology import load_ontology
    ontology = load_ontology()
    start, cpu = time.perf_counter(), time.process_time()
    report = validate_export(path, ontology=ontology)
    seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu
    n = report.stats["tasks"]
    extra = {"valid": report.valid, "problems": report.errors_found + report.warnings_found, "counts": report.counts()}
# VmHWM is this process's own peak RSS (ru_maxrss would include the parent's RSS at fork time).
with open("/proc/self/status") as status:
    rss_mib = next(int(line.split()[1]) for line in status if line.startswith("VmHWM:")) / 1024
print(json.dumps({"tasks": n, "seconds": seconds, "cpu_seconds": cpu_seconds, "rss_mib": rss_mib, **extra}))
"""


def measure(mode: str, path: Path) -> dict:
    out = subprocess.run([sys.executable, "-c", CHILD, mode, str(path)], check=True, capture_output=True, text=True)
    return json.loads(out.stdout)


def best_of(path: Path, repeat: int) -> tuple[dict, dict]:
    """Parse and validate ``repeat`` times, interleaved; keep each one's fastest run (least disturbed)."""
    runs: dict[str, list[dict]] = {"parse": [], "validate": []}
    for _ in range(repeat):
        for mode in runs:
            runs[mode].append(measure(mode, path))
    best = {}
    for mode, results in runs.items():
        best[mode] = {**results[0], "seconds": min(r["seconds"] for r in results),
                      "cpu_seconds": min(r["cpu_seconds"] for r in results),
                      "rss_mib": max(r["rss_mib"] for r in results)}
    return best["parse"], best["validate"]


def profile(path: Path) -> None:
    import cProfile
    import pstats

    from corpus_tools.ontology import load_ontology
    from corpus_tools.validate.driver import validate_export

    ontology = load_ontology()
    profiler = cProfile.Profile()
    profiler.runcall(validate_export, path, ontology=ontology)
    pstats.Stats(profiler).sort_stats("tottime").print_stats(25)


def huge_texts(sizes_mb: list[float], directory: Path | None) -> None:
    """validate and the stream reading of one task whose text is each of ``sizes_mb`` MB."""
    rows = []
    with tempfile.TemporaryDirectory(dir=directory) as tmp:
        for megabytes in sizes_mb:
            path = Path(tmp) / f"huge-{megabytes:g}.json"
            nbytes = write_huge_export(path, megabytes)
            runs = {mode: measure(mode, path) for mode in ("validate", "stream")}
            for run in runs.values():
                assert run["valid"] and run["tasks"] == 1, run
            rows.append((nbytes / 1e6, runs))
            print(f"{nbytes / 1e6:>6.1f} MB  " + "  ".join(
                f"{mode} {run['seconds']:.2f} s ({run['seconds'] / (nbytes / 1e6):.3f} s/MB, CPU"
                f" {run['cpu_seconds']:.2f} s, peak RSS {run['rss_mib']:.0f} MiB)" for mode, run in runs.items()),
                flush=True)
    (small, first), (large, last) = rows[0], rows[-1]
    for mode in ("validate", "stream"):
        wall, cpu = ((last[mode][key] / large) / (first[mode][key] / small) for key in ("seconds", "cpu_seconds"))
        print(f"{mode}: seconds per MB at {large:g} MB / at {small:g} MB = {wall:.2f} wall, {cpu:.2f} CPU"
              " (1.0: linear)")


def print_pair(size: int, nbytes: int, parse: dict, check: dict) -> float:
    """The two runs' rates and their ratio; returns the CPU ratio."""
    print(f"{size:>7} tasks  {nbytes / size / 1000:.1f} KB/task  {nbytes / 1e6:.0f} MB", flush=True)
    for name, run in (("parse   ", parse), ("validate", check)):
        print(f"        {name} {size / run['cpu_seconds']:>7.0f} tasks/s CPU  {size / run['seconds']:>7.0f}"
              f" tasks/s wall  peak RSS {run['rss_mib']:.1f} MiB")
    cpu_ratio = parse["cpu_seconds"] / check["cpu_seconds"]
    wall_ratio = parse["seconds"] / check["seconds"]
    verdict = "ok" if cpu_ratio >= 0.5 else "MISSED"
    print(f"        validate/parse speed ratio {cpu_ratio:.2f} CPU, {wall_ratio:.2f} wall"
          f"  (target >= 0.50: {verdict})", flush=True)
    return cpu_ratio


def dense(args: argparse.Namespace) -> None:
    """Span-dense tasks (the seed) at 1k and 4k: the speed ratio against ijson and validate's peak RSS."""
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        peaks = {}
        for size in DENSE_SIZES:
            path = Path(tmp) / f"dense-{size}.json"
            nbytes = write_dense_export(path, size)
            if args.profile and size == DENSE_SIZES[-1]:
                profile(path)
            parse, check = best_of(path, args.repeat)
            assert check["valid"] and check["tasks"] == size, check
            print_pair(size, nbytes, parse, check)
            peaks[size] = check["rss_mib"]
            path.unlink()
        small, large = DENSE_SIZES
        rss = peaks[large] / peaks[small]
        print(f"validate peak RSS {large}/{small} {rss:.2f}  ({peaks[small]:.1f} -> {peaks[large]:.1f} MiB;"
              f" flat: <= 1.20: {'ok' if rss <= 1.2 else 'MISSED'})")
        load = Path("/proc/loadavg").read_text().split()[:3]
        print(f"load average during the run: {' '.join(load)}")


def warned(args: argparse.Namespace) -> None:
    """Every task with a warning: validate's peak RSS at 10k (and 100k) tasks and the warnings it counted."""
    sizes = [10_000, 100_000] if args.large else [10_000]
    peaks = {}
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        for size in sizes:
            path = Path(tmp) / f"warned-{size}.json"
            nbytes = write_export(path, size, warned=True)
            run = measure("validate", path)
            assert run["valid"] and run["tasks"] == size, run
            peaks[size] = run["rss_mib"]
            print(f"{size:>7} tasks  {nbytes / 1e6:.0f} MB  validate {run['cpu_seconds']:.1f} s CPU  peak RSS"
                  f" {run['rss_mib']:.1f} MiB  warnings counted: {run['counts']}", flush=True)
            path.unlink()
    if len(peaks) == 2:
        rss = peaks[100_000] / peaks[10_000]
        print(f"validate peak RSS 100k/10k {rss:.2f}  (flat: <= 1.20: {'ok' if rss <= 1.2 else 'MISSED'})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--large", action="store_true", help="also measure 100k tasks (about 500 MB)")
    parser.add_argument("--profile", action="store_true", help="print a cProfile of validate at 10k tasks")
    parser.add_argument("--dir", type=Path, help="where to write the synthetic exports (default: a temp dir)")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each measurement at 10k (best kept; 100k: 1)")
    parser.add_argument("--huge-text-mb", help="instead: one task whose text is each of these MB (e.g. 1,8,32)")
    parser.add_argument("--dense", action="store_true", help="instead: span-dense tasks (the bundled seed), 1k and 4k")
    parser.add_argument("--warned", action="store_true", help="instead: a warning on every task (validate's peak RSS)")
    args = parser.parse_args()
    if args.warned:
        warned(args)
        return
    if args.dense:
        dense(args)
        return
    if args.huge_text_mb:
        huge_texts([float(size) for size in args.huge_text_mb.split(",")], args.dir)
        return
    sizes = [10_000, 100_000] if args.large else [10_000]
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        rows = {}
        for size in sizes:
            path = Path(tmp) / f"export-{size}.json"
            nbytes = write_export(path, size)
            if args.profile and size == 10_000:
                profile(path)
            parse, check = best_of(path, args.repeat if size == 10_000 else 1)
            assert check["valid"] and check["tasks"] == size, check
            rows[size] = (nbytes, parse, check)
            print_pair(size, nbytes, parse, check)
        if len(rows) == 2:
            rss = rows[100_000][2]["rss_mib"] / rows[10_000][2]["rss_mib"]
            print(f"validate peak RSS 100k/10k {rss:.2f}  (target <= 1.20: {'ok' if rss <= 1.2 else 'MISSED'})")


if __name__ == "__main__":
    main()
