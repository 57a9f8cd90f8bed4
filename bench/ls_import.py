"""Label Studio import benchmark: bulk batches vs one task per request, and re-import of everything.

Starts a throw-away Label Studio from the cached template data dir (``corpus-tools ls install``
first), generates N Arabic articles (~2.5 kB each, default 10,000) and measures, through the
library (``import_articles``, no CLI start-up):

* bulk import of all N articles in batches (default 500 per request);
* one task per request (``--batch-size 1``) on a SAMPLE of articles (default 300) in another
  project; its per-task time is EXTRAPOLATED to N, and the script says so;
* re-import of the same N articles: must add 0 tasks, using the verified local index; the same
  re-import with a full task listing (no index) is shown for comparison.

Targets (issue 4): bulk at least 20x faster than one request per task; re-import adds 0 tasks in
at most 10% of the first import's time.

    .venv/bin/python bench/ls_import.py                   # 10k articles, 300-task single sample
    .venv/bin/python bench/ls_import.py --size 100000     # larger, on request
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import random
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from corpus_tools.artefacts import ontology_to_labelstudio_config
from corpus_tools.labelstudio import server as srv
from corpus_tools.labelstudio.client import Connection, LabelStudioClient
from corpus_tools.labelstudio.importer import import_articles
from corpus_tools.ontology import load_ontology

WORDS = (
    "قال الوزير إن الحكومة ستعمل على تعزيز التعاون مع الدول المجاورة في مجالات الاقتصاد والأمن وأضاف أن"
    " الاجتماع الذي عقد أمس في العاصمة بحث سبل تطوير العلاقات الثنائية وأكد الرئيس ضرورة الحوار بين"
    " الأطراف كافة لإيجاد حل سياسي للأزمة التي تشهدها المنطقة منذ سنوات"
).split()
NAMES = ["محمد بن سلمان", "عبد الله الثاني", "ماكرون", "ميركل"]
PLACES = ["بغداد", "الرياض", "باريس", "برلين", "عمان"]


def article_text(rng: random.Random, index: int) -> str:
    paragraphs = [" ".join(rng.choices(WORDS, k=rng.randint(40, 70))) for _ in range(4)]
    return f"😀 زار {rng.choice(NAMES)} و{rng.choice(PLACES)} {index}\n" + "\n".join(paragraphs)


def generate_articles(path: Path, size: int, *, prefix: str = "art", seed: int = 1) -> Path:
    """N Article records as JSONL (schemas/article.schema.json)."""
    rng = random.Random(seed)
    with path.open("w", encoding="utf-8") as out:
        for i in range(size):
            text = article_text(rng, i)
            out.write(json.dumps({
                "id": f"{prefix}-{i:07d}", "text": text, "title": text.split("\n", 1)[0], "dateline": None,
                "source": "الوطن", "lang": "ar", "paragraphs": [{"start": 0, "end": len(text)}],
                "source_path": f"{prefix}/{i}.txt", "sha256": hashlib.sha256(text.encode()).hexdigest(),
            }, ensure_ascii=False) + "\n")
    return path


@contextlib.contextmanager
def local_server(workdir: Path) -> Iterator[tuple[srv.RunningServer, LabelStudioClient]]:
    """A Label Studio on a copy of the template data dir, stopped on exit."""
    binary = srv.require_binary()
    data_dir = workdir / "ls-data"
    credentials = srv.copy_template(data_dir, binary=binary, progress=lambda m: print(m, file=sys.stderr))
    server = srv.start_server(data_dir, port=srv.free_port(), binary=binary)
    try:
        yield server, LabelStudioClient.connect(Connection(server.url, credentials.api_key, "bench"))
    finally:
        server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=10_000, help="articles to import in bulk")
    parser.add_argument("--sample", type=int, default=300, help="articles imported one per request")
    parser.add_argument("--batch-size", type=int, default=500)
    args = parser.parse_args()

    ontology = load_ontology()
    config = ontology_to_labelstudio_config(ontology)
    workdir = Path(tempfile.mkdtemp(prefix="ls-import-bench-"))
    try:
        articles = generate_articles(workdir / "articles.jsonl", args.size)
        sample = generate_articles(workdir / "sample.jsonl", args.sample, prefix="one")
        print(f"{args.size} articles, {articles.stat().st_size / args.size / 1024:.1f} KiB each on average")
        with local_server(workdir) as (_, client):
            index_dir = workdir / "index"
            bulk_project = client.create_project("bench bulk import", config)
            t = time.perf_counter()
            first = import_articles(client, bulk_project, articles, ontology=ontology, batch_size=args.batch_size,
                                    index_dir=index_dir)
            bulk = time.perf_counter() - t
            assert first.stats["imported"] == args.size, first.stats

            single_project = client.create_project("bench one per request", config)
            t = time.perf_counter()
            single = import_articles(client, single_project, sample, ontology=ontology, batch_size=1,
                                     index_dir=index_dir)
            single_sample = time.perf_counter() - t
            assert single.stats["imported"] == args.sample
            single_total = single_sample / args.sample * args.size

            t = time.perf_counter()
            again = import_articles(client, bulk_project, articles, ontology=ontology, batch_size=args.batch_size,
                                    index_dir=index_dir)
            reimport = time.perf_counter() - t
            t = time.perf_counter()
            listed = import_articles(client, bulk_project, articles, ontology=ontology, use_index=False)
            reimport_listing = time.perf_counter() - t
            assert again.stats["imported"] == listed.stats["imported"] == 0
            assert client.count_tasks(bulk_project.id) == args.size

        print(f"bulk import ({args.batch_size}/request): {args.size} tasks in {bulk:.2f} s"
              f" ({args.size / bulk:.0f} tasks/s, {first.stats['batches']} requests)")
        print(f"one task per request: {args.sample} tasks in {single_sample:.2f} s"
              f" ({single_sample / args.sample * 1000:.1f} ms/task); EXTRAPOLATED from this {args.sample}-task sample"
              f" to {args.size} tasks: {single_total:.1f} s")
        print(f"  ratio one-per-request / bulk = {single_total / bulk:.1f}x  (target >= 20x)")
        print(f"re-import (verified index): added {again.stats['imported']} in {reimport:.2f} s ="
              f" {reimport / bulk:.1%} of the first import  (target <= 10%)")
        print(f"re-import (full task listing, no index): added {listed.stats['imported']} in {reimport_listing:.2f} s"
              f" = {reimport_listing / bulk:.1%} of the first import")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
