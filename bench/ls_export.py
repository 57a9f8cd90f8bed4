"""Label Studio export benchmark: time and client peak memory of the full snapshot export at two sizes.

Starts a throw-away Label Studio from the cached template data dir, fills one project per size
with generated Arabic articles (each task with a prediction of 3 spans and a relation; every
fifth task with an annotation), then runs ``export_project`` (snapshot export, streamed to disk,
summary by a streaming parser) in a FRESH SUBPROCESS per size, so each client peak RSS is
measured alone (VmHWM of the child).  For contrast, the SDK's in-memory ``exports.as_json`` (quick export, whole
answer in memory, predictions as ids only) is measured the same way.

Target (issue 4): export memory flat in the number of tasks, so the client peak at the larger
size stays close to the one at the smaller size while the export grows 5x.  The server's own
peak RSS (VmHWM) is shown too: the snapshot is built inside Label Studio.

    .venv/bin/python bench/ls_export.py                    # 2,000 and 10,000 tasks
    .venv/bin/python bench/ls_export.py --sizes 10000,100000
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from ls_import import generate_articles, local_server

from corpus_tools.artefacts import ontology_to_labelstudio_config
from corpus_tools.labelstudio.tasks import article_to_task, document_to_result
from corpus_tools.ontology import load_ontology
from corpus_tools.spans import Relation, make_span

RUNNER = r"""
import json, sys, time
from pathlib import Path
from corpus_tools.labelstudio.client import Connection, LabelStudioClient

def status_kib(field):  # VmHWM/VmRSS of this process only (ru_maxrss would include the parent's pages at fork)
    for line in open("/proc/self/status"):
        if line.startswith(field + ":"):
            return int(line.split()[1])

url, key, project, out, mode = sys.argv[1:6]
client = LabelStudioClient.connect(Connection(url, key, "bench"))
base = status_kib("VmRSS")
start = time.perf_counter()
if mode == "snapshot":
    from corpus_tools.labelstudio.snapshot import export_project
    summary = export_project(client, int(project), Path(out)).to_dict()
else:
    try:
        summary = {"tasks": len(client._sdk.projects.exports.as_json(int(project)))}
    except Exception as exc:  # the quick export can time out on large projects: that is a result
        summary = {"error": type(exc).__name__}
print(json.dumps({"seconds": time.perf_counter() - start, "summary": summary, "base_kib": base,
                  "peak_kib": status_kib("VmHWM")}))
"""


def tasks_with_results(articles: Path) -> list[dict]:
    """Tasks for every article, each with a prediction (3 spans, 1 relation), every fifth annotated."""
    tasks = []
    for i, line in enumerate(articles.read_text(encoding="utf-8").splitlines()):
        article = json.loads(line)
        text = article["text"]
        name_start = len("😀 زار ")
        name_end = text.index(" و", name_start)
        place_start = name_end + len(" و")
        place_end = text.index(" ", place_start)
        spans = [make_span(text, name_start, name_end, "PER", "per"),
                 make_span(text, place_start, place_end, "GPE", "gpe"),
                 make_span(text, text.index("\n") + 1, text.index(" ", text.index("\n") + 1), "ORG", "org")]
        result = document_to_result(spans, [Relation("per", "gpe", "PHYS.Located")], text)
        task = article_to_task(article)
        task["predictions"] = [{"model_version": "bench-v1", "score": 0.5, "result": result}]
        if i % 5 == 0:
            task["annotations"] = [{"result": result, "lead_time": 3.5}]
        tasks.append(task)
    return tasks


def server_peak_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="2000,10000", help="comma-separated task counts")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]

    config = ontology_to_labelstudio_config(load_ontology())
    workdir = Path(tempfile.mkdtemp(prefix="ls-export-bench-"))
    rows = []
    try:
        with local_server(workdir) as (server, client):
            for size in sizes:
                project = client.create_project(f"bench export {size}", config)
                tasks = tasks_with_results(generate_articles(workdir / f"a{size}.jsonl", size, prefix=f"e{size}"))
                t = time.perf_counter()
                for i in range(0, len(tasks), 500):
                    client.import_tasks(project.id, tasks[i : i + 500])
                fill = time.perf_counter() - t
                del tasks
                for mode in ("snapshot", "as_json"):
                    out = workdir / f"export-{size}-{mode}.json"
                    done = subprocess.run([sys.executable, "-c", RUNNER, server.url, client._key, str(project.id),
                                           str(out), mode], capture_output=True, text=True, check=False)
                    if done.returncode != 0:
                        raise SystemExit(done.stderr[-3000:])
                    row = json.loads(done.stdout)
                    row.update(size=size, mode=mode, fill=fill, bytes=out.stat().st_size if out.exists() else 0,
                               server_peak_kib=server_peak_kib(server.process.pid))
                    rows.append(row)
                    out.unlink(missing_ok=True)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)

    print(f"{'tasks':>7} {'mode':>9} {'seconds':>8} {'MB out':>7} {'client peak MiB':>16} {'above connect':>14}"
          f" {'server peak MiB':>16}")
    for r in rows:
        size_mb = f"{r['bytes'] / 1e6:.1f}" if r["bytes"] else "-"
        mode = r["mode"] + (f" ({r['summary']['error']})" if "error" in r["summary"] else "")
        print(f"{r['size']:>7} {mode:>9} {r['seconds']:>8.2f} {size_mb:>7}"
              f" {r['peak_kib'] / 1024:>16.0f} {(r['peak_kib'] - r['base_kib']) / 1024:>14.0f}"
              f" {r['server_peak_kib'] / 1024:>16.0f}")
    snap = [r for r in rows if r["mode"] == "snapshot"]
    small, large = snap[0], snap[-1]
    print(f"snapshot export: tasks x{large['size'] / small['size']:.0f}, export bytes x"
          f"{large['bytes'] / max(small['bytes'], 1):.1f}, client peak RSS x{large['peak_kib'] / small['peak_kib']:.2f}"
          f" (flat memory gives ~1), above-connect growth {(large['peak_kib'] - small['peak_kib']) / 1024:+.0f} MiB")
    for r in snap:
        s = r["summary"]
        print(f"  {r['size']} tasks: summary {s['tasks']} tasks, {s['annotations']} annotations,"
              f" {s['predictions']} predictions, {s['relations']} relations")


if __name__ == "__main__":
    main()
