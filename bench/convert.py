"""Benchmark the interchange formats' writers and readers against the Label Studio SDK converter's CONLL2003 export.

Generates N synthetic documents (default 100k; the tasks of ``bench/build.py``: about 2,000 characters of Arabic
with proclitics, tatweel, an RLM and an emoji, 11 spans of which one nested, 3 relations), as a Label Studio
export and as canonical document JSONL (each task's first annotation), then measures, each in a fresh subprocess
so that peak RSS is its own:

* for every format of ``--formats`` (default ``brat,conll``), through the registry
  (:func:`corpus_tools.interop.registry.get_format`): ``write`` (the documents, parsed from the JSONL without
  checks, given to the format's writer) and ``read`` (the format's reader over what the writer wrote, every
  document consumed);
* ``both``: write and read together, as the converter reads and writes in one step;
* ``converter``: ``label_studio_sdk.converter.Converter(...).convert(export, ..., "CONLL2003")`` of the same data.

Prints documents/s, seconds, peak RSS of each step and its time as a ratio of the converter's.

    .venv/bin/python bench/convert.py                               # brat and conll, 100k documents
    .venv/bin/python bench/convert.py --formats documents,tasks --n 2000
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

from build import make_task, run_measured  # bench/ is on sys.path when a script runs


# ------------------------------------------------------------------------------------------ data
def write_inputs(folder: Path, n: int) -> tuple[Path, Path]:
    """The Label Studio export and the document JSONL of ``n`` synthetic tasks (the first annotation of each)."""
    from corpus_tools.labelstudio.export import task_to_document, task_to_records

    export, documents = folder / "export.json", folder / "documents.jsonl"
    with open(export, "w", encoding="utf-8") as ex, open(documents, "w", encoding="utf-8") as docs:
        ex.write("[")
        for i in range(1, n + 1):
            task = make_task(i)
            ex.write((",\n" if i > 1 else "") + json.dumps(task, ensure_ascii=False))
            record = next(r for r in task_to_records(task) if r.kind == "annotation")
            docs.write(json.dumps(task_to_document(task, record).to_dict(), ensure_ascii=False) + "\n")
        ex.write("]\n")
    return export, documents


def check_formats(names: list[str]) -> list[str]:
    """The format names, each registered with a reader or a writer; SystemExit naming the unknown ones."""
    from corpus_tools.interop.registry import formats

    known = formats()
    unknown = [name for name in names if name not in known]
    if unknown:
        raise SystemExit(f"unknown format(s) {', '.join(unknown)}; registered formats: {', '.join(known)}")
    return names


# ------------------------------------------------------------------------------------------ workers
def worker(kind: str, name: str, source: str, out: str) -> dict:
    from corpus_tools.interop.format import Context
    from corpus_tools.interop.registry import get_format
    from corpus_tools.spans import Document

    start = time.perf_counter()
    extra: dict[str, object] = {}
    if kind == "write":
        fmt = get_format(name, "write")
        ctx = Context()

        def documents():
            with open(source, encoding="utf-8") as f:
                for line in f:
                    yield Document.from_dict(json.loads(line))

        target = Path(out)
        if fmt.output == "folder":
            target.mkdir()
        fmt.writer(documents(), target, ctx)
        extra = {"errors": ctx.report.error_count}
    elif kind == "read":
        fmt = get_format(name, "read")
        ctx = Context()
        count = entities = relations = 0
        for doc in fmt.reader(Path(source), ctx):
            count += 1
            entities += len(doc.entities)
            relations += len(doc.relations)
        extra = {"documents": count, "entities": entities, "relations": relations, "errors": ctx.report.error_count,
                 "warnings": ctx.report.warnings_found}
    elif kind == "converter":
        from label_studio_sdk.converter import Converter

        from corpus_tools.artefacts import ontology_to_labelstudio_config
        from corpus_tools.ontology import load_ontology

        converter = Converter(ontology_to_labelstudio_config(load_ontology()), project_dir=None,
                              download_resources=False)
        converter.convert(source, out, "CONLL2003", is_dir=False)
    else:
        raise SystemExit(f"unknown worker {kind}")
    return {"seconds": time.perf_counter() - start, **extra}


def measure(kind: str, name: str, source: Path, out: Path) -> dict:
    """One step in a fresh subprocess; peak RSS of its process tree sampled every 20 ms (bench/build.py)."""
    return run_measured([sys.executable, __file__, "--worker", kind, name, str(source), str(out)], f"{kind} {name}")


def run(n: int, names: list[str], tmp: Path) -> None:
    from corpus_tools.interop.registry import formats

    started = time.perf_counter()
    export, documents = write_inputs(tmp, n)
    print(f"{n} synthetic documents generated in {time.perf_counter() - started:.1f} s"
          f" (export {export.stat().st_size / 2**20:.0f} MB, documents {documents.stat().st_size / 2**20:.0f} MB)")
    rows = [("converter", "CONLL2003", measure("converter", "-", export, tmp / "converter"))]
    for name in names:
        fmt = formats()[name]
        out = tmp / f"out-{name}"
        if fmt.writer is not None:
            rows.append(("write", name, measure("write", name, documents, out)))
        if fmt.reader is not None:
            if fmt.writer is None:  # a read-only format is read from what it reads best: the export or documents
                print(f"{name}: no writer, so nothing of it to read here; skipped")
                continue
            rows.append(("read", name, measure("read", name, out, tmp / "unused")))
        if out.is_dir():
            shutil.rmtree(out)
        else:
            out.unlink(missing_ok=True)
        steps = [r for k, f, r in rows if f == name]
        if len(steps) == 2:  # the converter reads and writes in one step: so do these two together
            rows.append(("both", name, {"seconds": sum(r["seconds"] for r in steps),
                                        "peak_rss_mb": max(r["peak_rss_mb"] for r in steps)}))
    base = rows[0][2]["seconds"]
    print(f"\n{'step':<10} {'format':<12} {'docs/s':>10} {'seconds':>9} {'peak RSS MB':>12} {'vs converter':>13}")
    for kind, name, result in rows:
        seconds = result["seconds"]
        note = "" if kind != "read" else (f"  ({result['documents']} documents, {result['entities']} entities,"
                                          f" {result['relations']} relations, {result['errors']} errors)")
        print(f"{kind:<10} {name:<12} {n / seconds:>10,.0f} {seconds:>9.1f} {result['peak_rss_mb']:>12.0f}"
              f" {seconds / base:>12.2f}x{note}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=100_000, help="synthetic documents (default 100000)")
    parser.add_argument("--formats", default="brat,conll", help="comma-separated registered formats")
    parser.add_argument("--keep", type=Path, help="write the inputs and outputs in this folder and keep them")
    parser.add_argument("--worker", nargs=4, metavar=("KIND", "FORMAT", "SOURCE", "OUT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(*args.worker)))
        return
    names = check_formats([name.strip() for name in args.formats.split(",") if name.strip()])
    if args.keep:
        args.keep.mkdir(parents=True, exist_ok=True)
        run(args.n, names, args.keep)
        return
    with tempfile.TemporaryDirectory(prefix="bench-convert-") as tmp:
        run(args.n, names, Path(tmp))


if __name__ == "__main__":
    main()
