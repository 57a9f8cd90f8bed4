"""Regenerate the labeling-screen screenshot for the docs from the real Label Studio UI.

    python tests/screenshots.py --out docs/img/labeling.png      (or: make docs-screenshots)

Starts a throw-away Label Studio (a copy of the cached template data dir, on a free port),
sets up a project from the ontology, imports one sample article (ingested like any other), adds
the sample corpus's own annotation of it through the API, opens the task in Chromium and saves
a screenshot of the labeling screen: right-to-left Arabic with coloured highlights, the label
buttons with their hotkeys, the relation arrows and the Regions panel.

The default article is a synthetic one (Apache-2.0): the real newswire article of the sample
corpus has no cleared rights, so it must not be published in the docs.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))

from browser import launch, login, new_page, open_task  # noqa: E402

from corpus_tools.ingest.driver import ingest_paths  # noqa: E402
from corpus_tools.labelstudio.client import Connection, LabelStudioClient  # noqa: E402
from corpus_tools.labelstudio.project import setup_project  # noqa: E402
from corpus_tools.labelstudio.server import copy_template, free_port, start_server  # noqa: E402
from corpus_tools.labelstudio.tasks import article_to_task, document_to_result  # noqa: E402
from corpus_tools.ontology import load_ontology  # noqa: E402
from corpus_tools.spans import Document  # noqa: E402

SAMPLE = REPO / "annotations" / "sample"
DEFAULT_ARTICLE = SAMPLE / "articles" / "006_kuwait_moscow_visit.txt"
DEFAULT_OUT = REPO / "docs" / "img" / "labeling.png"
SCREEN = {"width": 1600, "height": 620}
RELATIONS = 2  # the first relations of the sample annotation; all of them clutter the text with arrows


def sample_document(article: Path, documents: Path) -> Document:
    """The sample corpus's annotation of ``article`` (matched by its ``meta.file``)."""
    with documents.open(encoding="utf-8") as fh:
        for line in fh:
            doc = json.loads(line)
            if doc.get("meta", {}).get("file") == article.name:
                return Document.from_dict(doc)
    raise SystemExit(f"{documents} has no document for {article.name}")


def ingest_one(article: Path) -> dict[str, object]:
    result = ingest_paths([article])
    articles = list(result.articles)
    if len(articles) != 1 or result.report.error_count:
        raise SystemExit(f"could not ingest {article}: {[p.message for p in result.report.problems]}")
    return articles[0]


def save_screenshot(page, out: Path, *, full_page: bool) -> None:
    """Write the screenshot atomically (temp file in the same folder, then rename)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp.png")
    try:
        page.screenshot(path=str(tmp), full_page=full_page)
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)


def take_screenshot(out: Path, article: Path = DEFAULT_ARTICLE, documents: Path = SAMPLE / "documents.jsonl",
                    *, relations: int | None = RELATIONS, full_page: bool = False) -> dict[str, object]:
    """Start Label Studio, load ``article`` with its sample annotation, screenshot the labeling screen."""
    clock = time.monotonic()
    record = ingest_one(article)
    doc = sample_document(article, documents)
    if doc.text != record["text"]:
        raise SystemExit(f"{article.name}: the sample document's text differs from the ingested article")
    kept = doc.relations if relations is None else doc.relations[:relations]
    with tempfile.TemporaryDirectory(prefix="ls-screenshot-") as tmp:
        data_dir = Path(tmp) / "data"
        credentials = copy_template(data_dir)
        server = start_server(data_dir, port=free_port(), timeout=120)
        try:
            client = LabelStudioClient.connect(Connection(server.url, credentials.api_key, "screenshots"))
            project = setup_project(client, "Arabic news: entities and relations", load_ontology()).project
            [task_id] = client.import_tasks(project.id, [article_to_task(record)])
            client.create_annotation(task_id, document_to_result(doc.entities, kept, doc.text))
            with launch() as browser:
                page = new_page(browser, viewport=SCREEN)
                login(page, server.url, credentials.email, credentials.password)
                open_task(page, server.url, project.id, task_id)
                page.locator(".htx-highlight").first.wait_for()
                page.mouse.move(0, 0)
                page.wait_for_timeout(500)  # let the relation arrows settle
                save_screenshot(page, out, full_page=full_page)
        finally:
            server.stop()
    return {"out": str(out), "article": article.name, "spans": len(doc.entities), "relations": len(kept),
            "seconds": round(time.monotonic() - clock, 1)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="PNG to write (default: docs/img/labeling.png)")
    parser.add_argument("--article", type=Path, default=DEFAULT_ARTICLE, help="a sample article (.txt)")
    parser.add_argument("--relations", type=int, default=RELATIONS,
                        help=f"show the first N relations of the sample annotation (default {RELATIONS})")
    parser.add_argument("--full-page", action="store_true", help="capture the whole page, not the viewport")
    args = parser.parse_args(argv)
    summary = take_screenshot(args.out.resolve(), args.article.resolve(), relations=args.relations,
                              full_page=args.full_page)
    print(json.dumps(summary), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
