"""Small real releases for the publish tests: a synthetic Label Studio export built with ``build_release``.

Every text's last word is annotated as a GPE entity; ``splits`` fixes which split each document lands in,
so a test knows the rows each version must load.
"""

from __future__ import annotations

import json
from pathlib import Path

from corpus_tools.build.driver import build_release
from corpus_tools.labelstudio.tasks import document_to_result
from corpus_tools.spans import make_span

TEXTS_V1 = {"train": ["قال الرئيس في القاهرة", "وصل الوفد إلى عمّان"], "test": ["اجتمع المجلس في بيروت"]}
TEXTS_V2 = {"train": ["قال الرئيس في القاهرة", "أعلنت الشركة في دبي", "زار الوزير الرباط"]}
TEXTS_V3 = {"train": ["أعلنت الشركة في دبي", "زار الوزير الرباط"], "validation": ["قال المتحدث في تونس"]}


def _doc_id(text: str) -> str:
    import hashlib

    return "doc-" + hashlib.sha256(text.encode("utf-8")).hexdigest()[:12]


def write_export(folder: Path, texts: dict[str, list[str]]) -> tuple[Path, Path]:
    """A Label Studio JSON export (one annotation per task) and a splits.json assigning every document."""
    tasks, assignments = [], {}
    for split, items in texts.items():
        for text in items:
            number = len(tasks) + 1
            word = text.rsplit(" ", 1)[1]
            span = make_span(text, len(text) - len(word), len(text), "GPE", f"s{number}")
            tasks.append({
                "id": number,
                "data": {"text": text, "article_id": _doc_id(text)},
                "annotations": [{"id": 100 + number, "result": document_to_result([span], [], text),
                                 "completed_by": {"id": 1, "email": "annotator@example.org"},
                                 "was_cancelled": False, "ground_truth": False, "lead_time": 1.5}],
                "predictions": [],
            })
            assignments[_doc_id(text)] = split
    names = list(texts)
    splits = {"format": 1, "method": "sha256-bucket", "seed": "corpus-tools",
              "ratios": [[name, 1 / len(names)] for name in names], "assignments": assignments}
    folder.mkdir(parents=True, exist_ok=True)
    export, splits_path = folder / "export.json", folder / "splits.json"
    export.write_text(json.dumps(tasks, ensure_ascii=False), encoding="utf-8")
    splits_path.write_text(json.dumps(splits, ensure_ascii=False), encoding="utf-8")
    return export, splits_path


def make_release(root: Path, version: str, texts: dict[str, list[str]], name: str = "arabic-news") -> Path:
    """Build release ``version`` of ``texts`` under ``root`` and return its folder."""
    export, splits = write_export(root / f"input-{version}", texts)
    out = root / f"release-{version}"
    build_release(export, version=version, out=out, splits=splits, name=name)
    return out


def rehash(root: Path) -> None:
    """Write a damaged release's manifest.json again with the hashes of its files as they are now, so that only the
    check aimed at the damage can fire."""
    from corpus_tools.release.manifest import write_manifest

    manifest = json.loads((root / "manifest.json").read_text(encoding="utf-8"))
    manifest.pop("files")
    write_manifest(root, manifest)


def copy_release(clean: Path, tmp_path: Path) -> Path:
    """A copy of a built release to damage."""
    import shutil

    copy = tmp_path / "release"
    shutil.copytree(clean, copy)
    return copy
