"""How well a label-free segmentation rule finds the proclitics annotators cut off names.

For every annotated entity of the bundled sample (annotations/sample/documents.jsonl, or the document JSONL
given), the word its start falls in is where the annotation says whether a proclitic is cut: the entity's
start is a cut when it lies strictly inside that word (``و|بغداد``), and no other position of the word is.
The rule's cuts in those words are compared with the annotated ones:

* precision: the rule's cuts that are annotated cuts, over all the rule's cuts in those words;
* recall: the annotated cuts the rule makes, over all annotated cuts.

Words with no entity start are left out: the annotation says nothing about them.  Prints one line per
segmentation; docs/releases.md shows the result for the sample.

    .venv/bin/python bench/segmentation.py [documents.jsonl]
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from corpus_tools.spans import SEGMENTATIONS, base_tokens, segmentation_cuts

SAMPLE = Path(__file__).resolve().parent.parent / "annotations" / "sample" / "documents.jsonl"


def measure(documents: list[dict], segmentation: str) -> dict[str, float | int]:
    """Counts and scores of ``segmentation`` against the annotated proclitic cuts of ``documents``."""
    predicted = annotated = both = words = 0
    for doc in documents:
        text = doc["text"]
        tokens = base_tokens(text)
        cuts = set(segmentation_cuts(text, segmentation))
        seen: set[int] = set()
        for entity in doc["entities"]:
            start = entity["start"]
            word = next((t for t in tokens if t.start <= start < t.end), None)
            if word is None or word.start in seen:
                continue
            seen.add(word.start)
            words += 1
            gold = {start} if start > word.start else set()
            found = {c for c in cuts if word.start < c < word.end}
            predicted += len(found)
            annotated += len(gold)
            both += len(found & gold)
    return {"words": words, "annotated": annotated, "predicted": predicted, "correct": both,
            "precision": both / predicted if predicted else 1.0, "recall": both / annotated if annotated else 1.0}


def main(argv: list[str]) -> None:
    path = Path(argv[0]) if argv else SAMPLE
    documents = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    for segmentation in SEGMENTATIONS:
        m = measure(documents, segmentation)
        print(f"{segmentation:>18}: {m['words']} words where an entity starts, {m['annotated']} annotated proclitic"
              f" cuts, {m['predicted']} cuts by the rule, {m['correct']} correct: precision {m['precision']:.2f},"
              f" recall {m['recall']:.2f}")


if __name__ == "__main__":
    main(sys.argv[1:])
