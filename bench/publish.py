"""Benchmark ``publish_release``: what atomicity and read-back verification cost.

Builds one release from a synthetic Label Studio export (Arabic sentences, one GPE per document), then
measures in one run:

* ``local``: ``publish_release(..., "./releases/NAME")`` against a bare ``shutil.copytree`` of the same
  folder (the ratio is the price of the temp folder, fsync, sha256 read-back, chmod and index);
* ``hub``: ``publish_release(..., "hf://datasets/ORG/NAME")`` against the in-process Hub-protocol test server
  (tests/hubserver.py), split into plan (reads), commit (upload), verify (fresh download + sha256 of every
  file) and tag (create + resolve again), from the progress messages' timestamps.

    .venv/bin/python bench/publish.py              # 5k documents
    .venv/bin/python bench/publish.py --large      # 5k and 50k documents
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WORDS = ("قال أعلن الرئيس الوزير اليوم أمس في من إلى على عن مع بعد قبل خلال الحكومة المجلس الاجتماع المؤتمر"
         " الصحفي مصادر مطلعة أن هذا ذلك التي الذي عام جديد الدولي الاقتصاد الأمن السلام المفاوضات").split()
PLACES = ("القاهرة", "عمّان", "بيروت", "دبي", "الرباط", "تونس", "بغداد", "الدوحة")


def start_hub():
    """Start the test server and point huggingface_hub at it; must run before it is imported."""
    sys.path.insert(0, str(ROOT / "tests"))
    from hubserver import HubServer

    server = HubServer().start()
    home = tempfile.mkdtemp(prefix="bench-hf-home-")
    os.environ.update({"HF_ENDPOINT": server.url, "HF_HUB_DISABLE_XET": "1", "HF_TOKEN": server.token,
                       "HF_HOME": home, "HF_HUB_DISABLE_PROGRESS_BARS": "1"})
    for name in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE"):
        os.environ.pop(name, None)
    return server, home


def write_export(folder: Path, documents: int, seed: int = 7) -> Path:
    from corpus_tools.labelstudio.tasks import document_to_result
    from corpus_tools.spans import make_span

    rng = random.Random(seed)
    tasks = []
    for number in range(1, documents + 1):
        place = rng.choice(PLACES)
        text = " ".join(rng.choice(WORDS) for _ in range(rng.randint(20, 60))) + f" {number} في {place}"
        span = make_span(text, len(text) - len(place), len(text), "GPE", f"s{number}")
        tasks.append({"id": number, "data": {"text": text, "article_id": f"doc-{number}"},
                      "annotations": [{"id": number, "result": document_to_result([span], [], text),
                                       "completed_by": {"id": 1, "email": "a@example.org"},
                                       "was_cancelled": False, "ground_truth": False, "lead_time": 1.0}],
                      "predictions": []})
    path = folder / "export.json"
    path.write_text(json.dumps(tasks, ensure_ascii=False), encoding="utf-8")
    return path


class Phases:
    """Progress callback that timestamps the publish phases."""

    def __init__(self) -> None:
        self.marks: list[tuple[str, float]] = [("start", time.perf_counter())]

    def __call__(self, message: str) -> None:
        self.marks.append((message.split(" ", 1)[0], time.perf_counter()))

    def durations(self, end: float) -> dict[str, float]:
        out: dict[str, float] = {}
        marks = [*self.marks, ("end", end)]
        for (name, t0), (_, t1) in zip(marks, marks[1:], strict=False):
            key = {"start": "check+plan", "create": "check+plan"}.get(name, name)
            if name == "verify" and out.get("tag") is not None:
                key = "tag"  # "verify tag" belongs to tagging
            out[key] = out.get(key, 0.0) + (t1 - t0)
        return out


def run(documents: int, work: Path) -> None:
    from corpus_tools.build.driver import build_release
    from corpus_tools.publish import publish_release

    folder = work / f"n{documents}"
    folder.mkdir()
    export = write_export(folder, documents)
    t0 = time.perf_counter()
    release = folder / "release"
    build_release(export, version="1.0.0", out=release, name="bench")
    build_s = time.perf_counter() - t0
    size = sum(p.stat().st_size for p in release.rglob("*") if p.is_file())
    files = sum(1 for p in release.rglob("*") if p.is_file())

    t0 = time.perf_counter()
    shutil.copytree(release, folder / "plain-copy")
    copy_s = time.perf_counter() - t0
    phases = Phases()
    t0 = time.perf_counter()
    publish_release(release, str(folder / "releases" / "bench"), progress=phases)
    local_s = time.perf_counter() - t0
    local = phases.durations(time.perf_counter())

    phases = Phases()
    t0 = time.perf_counter()
    result = publish_release(release, f"hf://datasets/bench/n{documents}", progress=phases)
    hub_s = time.perf_counter() - t0
    hub = phases.durations(time.perf_counter())
    assert result.verification is not None and result.verification.valid

    print(f"\n{documents} documents: release {size / 1e6:.2f} MB in {files} files (build {build_s:.2f} s)")
    own = local_s - local.get("check+plan", 0)
    print(f"  local publish {local_s:.3f} s: check-release {local.get('check+plan', 0):.3f} s, then"
          f" copy+fsync {local.get('copy', 0):.3f}, verify {local.get('verify', 0):.3f},"
          f" index {local.get('published', 0):.3f} s; without the check {own:.3f} s ="
          f" {own / copy_s:.1f}x a bare copytree ({copy_s:.3f} s)")
    print(f"  hub publish {hub_s:.3f} s: check+plan {hub.get('check+plan', 0):.3f}, commit {hub.get('commit', 0):.3f},"
          f" verify {hub.get('verify', 0):.3f}, tag {hub.get('tag', 0):.3f} s;"
          f" verify/commit ratio {hub.get('verify', 0) / max(hub.get('commit', 1e-9), 1e-9):.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--large", action="store_true", help="also 50k documents")
    args = parser.parse_args()
    server, home = start_hub()
    work = Path(tempfile.mkdtemp(prefix="bench-publish-"))
    try:
        for documents in (5_000, 50_000) if args.large else (5_000,):
            run(documents, work)
    finally:
        server.close()
        for path in (work, Path(home)):
            for dirpath, dirnames, _ in os.walk(path):
                for name in dirnames:
                    os.chmod(os.path.join(dirpath, name), 0o755)
            shutil.rmtree(path, ignore_errors=True)


if __name__ == "__main__":
    main()
