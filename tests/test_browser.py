"""An annotator in a real browser: Arabic right to left, a name after a proclitic selected by mouse,
labels by hotkey, a labelled relation, submit; then ``ls export`` and ``validate`` on what was saved."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
from browser import (
    chromium_path,
    create_relation,
    highlights,
    label_span,
    launch,
    login,
    new_page,
    open_task,
    playwright_available,
    submit,
    text_box,
    text_style,
)
from conftest import require

from corpus_tools.labelstudio.export import task_to_records
from corpus_tools.validate.driver import validate_export

pytestmark = [pytest.mark.browser, pytest.mark.labelstudio]

TITLE = "لقاء في موسكو"
DATELINE = "بغداد ـ (الوطن) ـ وكالات:"
PARAGRAPH = "التقى الرئيس فلاديمير بوتين وزير الخارجية في موسكو وبغداد أمس."
TEXT = f"{TITLE}\n\n{DATELINE}\n{PARAGRAPH}\n"
HEAD = f"{TITLE}\n\n{DATELINE}\n"
PER_START = len(HEAD + "التقى الرئيس ")
PER_END = PER_START + len("فلاديمير بوتين")
GPE_START = len(HEAD + "التقى الرئيس فلاديمير بوتين وزير الخارجية في موسكو و")  # the و stays outside
GPE_END = GPE_START + len("بغداد")


def corpus_tools(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "corpus_tools", *args], capture_output=True, text=True, env=env,
                          timeout=300)


def ok(result: subprocess.CompletedProcess) -> str:
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.fixture(scope="module")
def browser():
    require(playwright_available(), "playwright is not installed (pip install -e '.[dev]')")
    require(chromium_path() is not None, "no Chromium: apt-get install chromium fonts-dejavu-core")
    with launch() as started:
        yield started


def test_annotator_labels_a_name_after_a_proclitic_and_a_relation(ls_server, browser, tmp_path: Path):
    timings: dict[str, float] = {}
    clock = time.monotonic()
    env = ls_server.env()
    project = "Browser RTL labeling"
    setup = json.loads(ok(corpus_tools("ls", "setup", "--project", project, "--json", env=env)))
    raw = tmp_path / "raw"
    raw.mkdir()
    (raw / "putin_baghdad.txt").write_text(TEXT, encoding="utf-8")
    ok(corpus_tools("ingest", str(raw), "--out", str(tmp_path / "articles.jsonl"), "--quiet", env=env))
    ok(corpus_tools("ls", "import", str(tmp_path / "articles.jsonl"), "--project", project, "--quiet", env=env))
    [(task_id, data)] = list(ls_server.client().iter_task_data(setup["project_id"]))
    assert data["text"] == TEXT
    timings["setup, ingest, import"] = time.monotonic() - clock

    clock = time.monotonic()
    page = new_page(browser)
    login(page, ls_server.url, ls_server.email, ls_server.password)
    open_task(page, ls_server.url, setup["project_id"], task_id)
    assert text_style(page) == {"direction": "rtl", "align": "right"}
    container = page.locator(".lsf-htx-richtext")
    assert container.is_visible() and TITLE in container.inner_text() and PARAGRAPH in container.inner_text()
    # Right to left on screen: the paragraph's first word is drawn right of its last word.
    first, last = text_box(page, len(HEAD), len(HEAD + "التقى")), text_box(page, len(TEXT) - len("أمس.\n"),
                                                                            len(TEXT) - len(".\n"))
    assert (first["text"], last["text"]) == ("التقى", "أمس") and first["left"] > last["right"]
    page.screenshot(path=str(tmp_path / "task.png"))
    timings["login, open task"] = time.monotonic() - clock

    clock = time.monotonic()
    label_span(page, TEXT, GPE_START, GPE_END, hotkey="g", label="GPE")
    label_span(page, TEXT, PER_START, PER_END, hotkey="p", label="PER")
    assert sorted(highlights(page)) == sorted(["بغداد", "فلاديمير بوتين"])
    create_relation(page, "فلاديمير بوتين", "بغداد", "PHYS.Located")
    page.screenshot(path=str(tmp_path / "labeled.png"))
    saved = submit(page)
    timings["label, relate, submit"] = time.monotonic() - clock
    page.close()

    clock = time.monotonic()
    export = tmp_path / "export.json"
    ok(corpus_tools("ls", "export", "--project", project, "--out", str(export), "--quiet", env=env))
    validated = corpus_tools("validate", str(export), "--json", env=env)
    report = json.loads(validated.stdout)
    timings["export, validate"] = time.monotonic() - clock
    print("browser test timings (s): " + ", ".join(f"{k} {v:.1f}" for k, v in timings.items()))

    assert validated.returncode == 0 and report["valid"] is True and report["errors"] == 0, report["problems"]
    assert report["problems"] == []
    [task] = json.loads(export.read_text(encoding="utf-8"))
    [annotation] = task["annotations"]
    assert annotation["id"] == saved["id"]
    spans = {item["value"]["labels"][0]: item for item in annotation["result"] if item["type"] == "labels"}
    assert {label: (item["value"]["start"], item["value"]["end"], item["value"]["text"]) for label, item
            in spans.items()} == {"PER": (PER_START, PER_END, "فلاديمير بوتين"), "GPE": (GPE_START, GPE_END, "بغداد")}
    assert all(item["origin"] == "manual" for item in spans.values())
    [relation] = [item for item in annotation["result"] if item["type"] == "relation"]
    assert relation == {"from_id": spans["PER"]["id"], "to_id": spans["GPE"]["id"], "type": "relation",
                        "direction": "right", "labels": ["PHYS.Located"]}

    [record] = task_to_records(task)
    assert sorted((s.start, s.end, s.label, s.text) for s in record.entities) == [
        (PER_START, PER_END, "PER", TEXT[PER_START:PER_END]),
        (GPE_START, GPE_END, "GPE", TEXT[GPE_START:GPE_END]),
    ]
    assert [(r.head, r.label, r.tail) for r in record.relations] == [
        (spans["PER"]["id"], "PHYS.Located", spans["GPE"]["id"])
    ]
    assert TEXT[GPE_START - 1] == "و" and (tmp_path / "task.png").stat().st_size > 10_000

    # An annotator who forgets the relation label: the UI then saves the relation with no "labels" key at all.
    del relation["labels"]
    unlabelled = tmp_path / "unlabelled.json"
    unlabelled.write_text(json.dumps([task], ensure_ascii=False), encoding="utf-8")
    assert [(p.code, p.json_path) for p in validate_export(unlabelled).problems] == [
        ("relation-missing-label", f"$[0].annotations[0].result[{annotation['result'].index(relation)}]")
    ]
