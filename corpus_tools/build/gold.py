"""Which annotation of a task becomes the release's gold document.

Gold selection per task (predictions never become gold):

1. the document of that id in the ``--gold`` file (canonical document JSONL), when given;
2. else the one non-cancelled annotation marked ground truth (``ground_truth``);
3. else the only non-cancelled annotation;
4. else the task is left out and reported: ``build-gold-ambiguous`` (several annotations and not exactly
   one marked ground truth) or ``build-gold-missing`` (no non-cancelled annotation).

Left-out tasks still contribute their annotations to the ``annotations`` config, each annotator named by a
keyed pseudonym (:mod:`corpus_tools.teams.pseudonyms`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TypeVar

from corpus_tools.errors import InputError
from corpus_tools.labelstudio.export import AnnotationRecord
from corpus_tools.report import define_code
from corpus_tools.spans import Document
from corpus_tools.strictjson import loads as json_loads

T = TypeVar("T")
STAGE = "build"
GOLD_AMBIGUOUS = define_code(
    "build-gold-ambiguous",
    "warning",
    "A task has several non-cancelled annotations and not exactly one marked ground truth; it was left out. Mark"
    " one as ground truth in Label Studio (the annotation's menu, *Set as Ground Truth*: see"
    " [A team of annotators](labelstudio.md#a-team-of-annotators)), or run `corpus-tools adjudicate`, or pass an"
    " adjudicated `--gold` file.",
    stage=STAGE,
)
GOLD_MISSING = define_code(
    "build-gold-missing",
    "warning",
    "A task has no non-cancelled annotation; it was left out of the documents, tokens and relations configs.",
    stage=STAGE,
)
GOLD_TEXT_MISMATCH = define_code(
    "build-gold-text-mismatch",
    "error",
    "A document of the --gold file has another text than the export's task of the same id; regenerate the gold"
    " file from this export.",
    stage=STAGE,
)
GOLD_UNUSED = define_code(
    "build-gold-unused", "warning", "A document of the --gold file matches no task of the export.", stage=STAGE
)


def choose_gold(live: list[T], marked: list[T]) -> tuple[T | None, str]:
    """The gold among a task's non-cancelled annotations (``marked``: those marked ground truth) and how it
    was chosen, or None and why not."""
    if len(marked) == 1:
        return marked[0], "ground-truth"
    if len(marked) > 1:
        return None, "ambiguous"
    if len(live) == 1:
        return live[0], "single"
    return None, ("ambiguous" if live else "unannotated")


def select_gold(records: list[AnnotationRecord]) -> tuple[AnnotationRecord | None, str]:
    """The gold annotation of a task and how it was chosen, or None and why not."""
    live = [r for r in records if r.kind == "annotation" and not r.cancelled]
    return choose_gold(live, [r for r in live if r.ground_truth])


def left_out_problem(source: str, doc_id: str) -> tuple[str, str]:
    """The code and message for a task left out because its gold could not be chosen (``source``)."""
    if source == "ambiguous":
        return GOLD_AMBIGUOUS, (
            f"Task of document {doc_id!r} has several annotations and not exactly one marked ground truth; left out."
            " Mark one as ground truth in Label Studio (the annotation's menu, Set as Ground Truth; see"
            " docs/labelstudio.md, 'A team of annotators'), or run `corpus-tools adjudicate`, or pass an adjudicated"
            " --gold file."
        )
    return GOLD_MISSING, f"Task of document {doc_id!r} has no non-cancelled annotation; left out."


def gold_text_mismatch(doc_id: str) -> tuple[str, str]:
    """The code and message for a ``--gold`` document whose text is not its task's."""
    return GOLD_TEXT_MISMATCH, f"The gold document {doc_id!r} has another text than the task; regenerate the gold file."


def unused_gold(doc_id: str) -> tuple[str, str]:
    """The code and message for a ``--gold`` document that no task of the export carries."""
    return GOLD_UNUSED, f"Gold document {doc_id!r} matches no task of the export."


def read_gold(path: Path) -> dict[str, Document]:
    """The documents of a (validated) ``--gold`` file by id."""
    docs: dict[str, Document] = {}
    try:
        with open(path, encoding="utf-8") as f:
            for line in f:
                if line.strip():
                    doc = Document.from_dict(json_loads(line))
                    docs[doc.id] = doc
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError) as exc:
        raise InputError(f"cannot read gold file {path}: {exc}") from exc
    return docs
