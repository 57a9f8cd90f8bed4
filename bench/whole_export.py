"""Benchmark the build's whole-export state alone: what the main process keeps of every task (document ids, the
leakage audit's text digests and near-duplicate signatures, split assignments) as N tasks' keys go through the
build's merger, then ``splits.json`` written; no parsing, no rows, no Parquet.

Each segment of 520 tasks (a 4 MB segment of the bench export) carries, per task, a document id, its split, a
random sha256 and a random MinHash signature (distinct texts: no band is shared, as in the bench export), as a
worker would send them.  Prints the time, the CPU time of the merge (process clock) and the process's peak RSS,
and the bytes per task above the 10k run::

    .venv/bin/python bench/whole_export.py                 # 10k, 100k and 1M tasks, each in a fresh process
    .venv/bin/python bench/whole_export.py --sizes 10000,2000000
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SEGMENT_TASKS = 520


def run(n: int) -> dict[str, float]:
    import numpy as np

    from corpus_tools.build.tables import SegmentResult, TaskKeys
    from corpus_tools.build.workers import SegmentMerger
    from corpus_tools.build.writer import ReleaseWriter
    from corpus_tools.ontology import load_ontology
    from corpus_tools.release.splits import SplitPlan
    from corpus_tools.report import Report

    rng = np.random.default_rng(0)
    plan = SplitPlan()
    with tempfile.TemporaryDirectory() as tmp:
        writer = ReleaseWriter(Path(tmp), load_ontology(), plan, Report(), row_group_rows=1000,
                               max_shard_bytes=1 << 28, file_name="export.json")
        merger = SegmentMerger(writer, {})
        start, cpu = time.perf_counter(), time.process_time()
        for first in range(0, n, SEGMENT_TASKS):
            count = min(SEGMENT_TASKS, n - first)
            digests = rng.bytes(32 * count)
            signatures = rng.bytes(256 * count)
            result = SegmentResult(first_index=first, count=count)
            for k in range(count):
                doc_id = f"article-{first + k:08d}"
                result.tasks.append(TaskKeys(
                    index=first + k, task_id=first + k, doc_id=doc_id, split=plan.rule_split(doc_id),
                    digest=digests[32 * k:32 * k + 32], signature=signatures[256 * k:256 * k + 256],
                    where={"task_id": first + k}, source="annotation"))
            merger.add(result)
        merged, merged_cpu = time.perf_counter() - start, time.process_time() - cpu
        splits = Path(tmp) / "splits.json"
        if hasattr(writer, "write_splits"):
            writer.write_splits(splits)
        else:  # before the state went out of core
            splits.write_text(writer.plan.to_json(), encoding="utf-8")
        seconds = time.perf_counter() - start
        valid = writer.report.valid and splits.stat().st_size > 0  # not parsed here: that would cost its own memory
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    return {"merge_seconds": merged, "merge_cpu_seconds": merged_cpu, "seconds": seconds,
            "peak_rss_mb": peak / 2**20, "valid": valid}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="10000,100000,1000000", help="comma-separated numbers of tasks")
    parser.add_argument("--worker", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(run(args.worker)))
        return
    results = {}
    for n in (int(size) for size in args.sizes.split(",")):
        out = subprocess.run([sys.executable, __file__, "--worker", str(n)], capture_output=True, text=True)
        if out.returncode != 0:
            raise SystemExit(out.stderr[-3000:])
        results[n] = json.loads(out.stdout.strip().splitlines()[-1])
        first = results[min(results)]
        extra = (results[n]["peak_rss_mb"] - first["peak_rss_mb"]) * 2**20 / max(1, n - min(results))
        print(f"{n:>10,} tasks: {results[n]['seconds']:7.1f} s ({results[n]['merge_seconds'] / n * 1e6:5.1f} us/task"
              f" merging, {results[n]['merge_cpu_seconds'] / n * 1e6:5.1f} us/task of CPU),"
              f" peak RSS {results[n]['peak_rss_mb']:6.0f} MB, {extra:6.0f} B/task above"
              f" {min(results):,}", flush=True)


if __name__ == "__main__":
    main()
