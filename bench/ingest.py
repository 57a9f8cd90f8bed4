"""Ingest benchmark: throughput and peak memory over generated newswire articles.

Generates N synthetic Arabic articles (default 10k and 100k) in a temporary folder, as plain-text
files in sub-folders of 1,000 (``txt``) and as one JSONL file (``jsonl``), then runs the real ingest
(``ingest_to_jsonl``: parse, hygiene, schema validation, de-duplication, atomic write) in a fresh
subprocess per size and format, so each peak RSS is measured alone.  Prints articles/s, the peak
RSS (and how far it lies above a run over one article), and the largest/smallest peak ratio: memory
that does not grow with the number of articles gives a ratio near 1 while the article count grows 10x.

    .venv/bin/python bench/ingest.py                      # 10k and 100k, txt and jsonl
    .venv/bin/python bench/ingest.py --sizes 10000,1000000 --formats jsonl   # larger, on request
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PLACES = ["بيروت", "دمشق", "القاهرة", "بغداد", "عمان", "الرياض", "الدوحة", "تونس", "الرباط", "نيويورك", "موسكو"]
PAPERS = ["الوطن", "الحياة", "الأهرام", "النهار", "الشرق"]
AGENCIES = ["وكالات", "رويترز", "أ ف ب", "قنا"]
WORDS = (
    "قال الوزير إن الحكومة ستعمل على تعزيز التعاون مع الدول المجاورة في مجالات الاقتصاد والأمن وأضاف أن"
    " الاجتماع الذي عقد أمس في العاصمة بحث سبل تطوير العلاقات الثنائية وأكد الرئيس ضرورة الحوار بين"
    " الأطراف كافة لإيجاد حل سياسي للأزمة التي تشهدها المنطقة منذ سنوات وأشار المسؤول إلى أن المفاوضات"
    " ستستأنف الأسبوع المقبل بمشاركة ممثلين عن الأمم المتحدة والجامعة العربية"
).split()

RUNNER = r"""
import json, resource, sys, time
from corpus_tools.ingest.driver import ingest_to_jsonl
inputs, out = sys.argv[1], sys.argv[2]
start = time.perf_counter()
report = ingest_to_jsonl([inputs], out)
elapsed = time.perf_counter() - start
print(json.dumps({"seconds": elapsed, "stats": report.stats, "errors": report.to_dict()["errors"],
                  "peak_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}))
"""


def make_article(rng: random.Random, index: int) -> str:
    places = " ـ ".join(rng.sample(PLACES, rng.randint(1, 2)))
    dateline = f"{places} ـ ({rng.choice(PAPERS)}) ـ {rng.choice(AGENCIES)}:"
    title = " ".join(rng.choices(WORDS, k=rng.randint(5, 9))) + f" {index}"
    paragraphs = [" ".join(rng.choices(WORDS, k=rng.randint(15, 40))) + "." for _ in range(rng.randint(4, 8))]
    return "\n".join([title, "", dateline, *paragraphs]) + "\n"


def generate(root: Path, size: int, fmt: str) -> Path:
    rng = random.Random(size)
    if fmt == "jsonl":
        path = root / f"articles-{size}.jsonl"
        with path.open("w", encoding="utf-8") as out:
            for i in range(size):
                out.write(json.dumps({"text": make_article(rng, i)}, ensure_ascii=False) + "\n")
        return path
    folder = root / f"txt-{size}"
    for i in range(size):
        sub = folder / f"{i // 1000:04d}"
        if i % 1000 == 0:
            sub.mkdir(parents=True)
        (sub / f"{i:07d}.txt").write_text(make_article(rng, i), encoding="utf-8")
    return folder


def run(inputs: str, out: str) -> dict:
    result = subprocess.run([sys.executable, "-c", RUNNER, inputs, out], capture_output=True, text=True, check=True)
    return json.loads(result.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="10000,100000", help="comma-separated article counts")
    parser.add_argument("--formats", default="txt,jsonl", help="comma-separated: txt, jsonl")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    formats = args.formats.split(",")
    root = Path(tempfile.mkdtemp(prefix="corpus-tools-bench-ingest-"))
    try:
        baseline = run(str(generate(root, 1, "txt")), str(root / "out-1.jsonl"))["peak_kib"] / 1024
        print(f"baseline (interpreter, imports and one article): peak RSS {baseline:.1f} MiB")
        print(f"{'format':<6} {'articles':>9} {'written':>9} {'seconds':>8} {'articles/s':>11} {'peak MiB':>9}"
              f" {'above base':>11}")
        for fmt in formats:
            peaks: dict[int, float] = {}
            for size in sizes:
                t0 = time.perf_counter()
                inputs = generate(root, size, fmt)
                made = time.perf_counter() - t0
                res = run(str(inputs), str(root / f"out-{fmt}-{size}.jsonl"))
                peak = res["peak_kib"] / 1024
                peaks[size] = peak
                print(f"{fmt:<6} {size:>9} {res['stats']['articles']:>9} {res['seconds']:>8.2f}"
                      f" {size / res['seconds']:>11.0f} {peak:>9.1f} {peak - baseline:>11.1f}"
                      f"   (generated in {made:.1f}s, errors {res['errors']})")
                shutil.rmtree(inputs) if inputs.is_dir() else inputs.unlink()
            small, large = min(sizes), max(sizes)
            if small != large:
                print(f"{fmt:<6} peak memory ratio {large}/{small}: {peaks[large] / peaks[small]:.2f}"
                      f" ({peaks[large] - peaks[small]:+.1f} MiB) for {large / small:.0f}x the articles")
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
