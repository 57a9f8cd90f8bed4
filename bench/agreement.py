"""The build's agreement statistics: ``AgreementReport.add_task`` over the tasks with two annotators of the bench
export (every tenth task of ``bench/build.py``'s ``make_task``), CPU of this process (``time.process_time``), best
of ``--repeat`` runs, every token count finished inside the measured time.  The annotations are read before the
clock starts (``task_annotations``), as the build reads them for its other rows.

    .venv/bin/python bench/agreement.py                          # 10,000 tasks: 1,000 with two annotators
    .venv/bin/python bench/agreement.py --tasks 100000 --json a.json

``--json OUT`` writes the report's ``to_dict()`` (tasks added in segments of ``--segment`` tasks, merged), so that
two checkouts can be compared: run the script with each on ``PYTHONPATH`` in turn and compare the files.
"""

from __future__ import annotations

import argparse
import json
import time

from build import make_task  # bench/ is on sys.path when a script runs

from corpus_tools.teams.agreement import AgreementReport, task_annotations


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--segment", type=int, default=500, help="tasks per part of the merged --json report")
    parser.add_argument("--json", dest="json_out", help="write the merged report's to_dict() here")
    args = parser.parse_args()

    tasks = [make_task(i) for i in range(1, args.tasks + 1)]
    read = [(task["id"], task["data"]["text"], task_annotations(task, lambda value: f"annotator-{value}"))
            for task in tasks]
    compared = [one for one in read if len(one[2]) > 1]
    best = float("inf")
    for _ in range(args.repeat):
        started = time.process_time()
        report = AgreementReport()
        for task_id, text, chosen in compared:
            report.add_task(task_id, text, chosen)
        tokens = report.tokens()  # every token counted
        best = min(best, time.process_time() - started)
    print(json.dumps({"tasks": args.tasks, "compared_tasks": len(compared), "tokens": tokens,
                      "add_task_cpu_s": round(best, 4),
                      "us_per_compared_task": round(1e6 * best / max(len(compared), 1), 1)}))
    if args.json_out:
        merged = AgreementReport()
        for start in range(0, len(read), args.segment):
            part = AgreementReport()
            for task_id, text, chosen in read[start:start + args.segment]:
                part.add_task(task_id, text, chosen)
            merged.merge(part)
        with open(args.json_out, "w", encoding="utf-8") as out:
            json.dump(merged.to_dict(), out, ensure_ascii=False, sort_keys=True)


if __name__ == "__main__":
    main()
