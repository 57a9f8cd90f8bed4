"""Small synthetic Label Studio exports with Arabic text, for build, release and diff tests.

Every article is assembled from pieces, so each span's offsets are computed from the prefix
(``len(prefix)``), never typed in.  The expected gold of each task is known to the test.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

CITIES = ["بيروت", "دمشق", "القاهرة", "بغداد", "عمّان", "الرباط", "تونس", "الرياض"]
PEOPLE = ["محمد بن سلمان", "نجيب ميقاتي", "عبد الفتاح السيسي", "أيمن الصفدي", "ناصر بوريطة"]
MINISTRIES = ["وزارة الخارجية", "وزارة الدفاع", "وزارة الداخلية"]
NATIONS = ["اللبنانية", "السورية", "المصرية", "العراقية"]


@dataclass
class Piece:
    text: str
    label: str | None = None
    key: str | None = None  # span key for relations


@dataclass
class Article:
    """An article's text with its gold spans (id, start, end, label) and relations (head, tail, label)."""

    id: str
    text: str
    spans: list[tuple[str, int, int, str]] = field(default_factory=list)
    relations: list[tuple[str, str, str]] = field(default_factory=list)
    title: str = ""
    dateline: dict | None = None

    def result(self, prefix: str = "") -> list[dict]:
        items: list[dict] = [
            {"id": prefix + sid, "from_name": "label", "to_name": "text", "type": "labels",
             "value": {"start": s, "end": e, "text": self.text[s:e], "labels": [label]}}
            for sid, s, e, label in self.spans
        ]
        items += [{"from_id": prefix + h, "to_id": prefix + t, "type": "relation", "direction": "right",
                   "labels": [label]} for h, t, label in self.relations]
        return items


def assemble(doc_id: str, pieces: list[Piece], relations: list[tuple[str, str, str]] = (),
             nested: list[tuple[str, str, int, int, str]] = ()) -> Article:
    """Concatenate pieces; labelled pieces become spans. ``nested`` adds (key, outer key, start, end, label)
    spans inside an outer span, with offsets relative to the outer span's start."""
    text = ""
    spans = []
    where: dict[str, tuple[int, int]] = {}
    for piece in pieces:
        start = len(text)
        text += piece.text
        if piece.label:
            key = piece.key or f"s{len(spans)}"
            spans.append((key, start, len(text), piece.label))
            where[key] = (start, len(text))
    for key, outer, rel_start, rel_end, label in nested:
        base = where[outer][0]
        spans.append((key, base + rel_start, base + rel_end, label))
    return Article(id=doc_id, text=text, spans=spans, relations=list(relations))


def news_article(i: int, *, variant: int = 0) -> Article:
    """Article number ``i``: a person in a city with a ministry (proclitics before names, one nested GPE)."""
    person, city = PEOPLE[i % len(PEOPLE)], CITIES[i % len(CITIES)]
    other_city = CITIES[(i + 3) % len(CITIES)]
    ministry, nation = MINISTRIES[i % len(MINISTRIES)], NATIONS[i % len(NATIONS)]
    nested_org = f"{ministry} {nation}"
    pieces = [
        Piece(f"{city} ـ وكالات: "),
        Piece("وقال "), Piece(person, "PER", "per"),
        Piece(" في "), Piece(city, "GPE", "city"),
        Piece(" إن "), Piece(nested_org, "ORG", "org"),
        Piece(" ستعمل مع \u200f"), Piece("الأمم المتحدة", "ORG", "un"),
        Piece(" وب"), Piece(other_city, "GPE", "city2"),
        Piece(f" في الخبر رقم {i} من نشرة {variant}.\n"),
    ]
    relations = [("per", "city", "PHYS.Located"), ("per", "org", "ORG-AFF.Employment")]
    nested = [("nation", "org", len(ministry) + 1, len(nested_org), "GPE")]
    article = assemble(f"art-{i:04d}", pieces, relations, nested)
    article.title = f"خبر رقم {i}"
    article.dateline = {"text": f"{city} ـ وكالات:", "places": [city], "paper": None, "agencies": ["وكالات"]}
    return article


def task(task_id: int, article: Article, annotations: list[dict] | None = None,
         predictions: list[dict] | None = None) -> dict:
    data = {"text": article.text, "article_id": article.id, "title": article.title, "source": "الوطن",
            "lang": "ar"}
    if article.dateline is not None:
        data["dateline"] = article.dateline
    return {"id": task_id, "data": data, "annotations": annotations if annotations is not None else [],
            "predictions": predictions or []}


def annotation(ann_id: int, result: list[dict], *, annotator: int | dict = 1, ground_truth: bool = False,
               cancelled: bool = False, lead_time: float | None = 12.5) -> dict:
    return {"id": ann_id, "completed_by": annotator, "result": result, "was_cancelled": cancelled,
            "ground_truth": ground_truth, "lead_time": lead_time, "created_at": "2026-01-01T00:00:00Z",
            "updated_at": "2026-01-01T00:00:00Z"}


def simple_export(n: int, *, start: int = 0, variant: int = 0) -> list[dict]:
    """``n`` tasks, each with one annotation holding the article's gold."""
    tasks = []
    for i in range(start, start + n):
        art = news_article(i, variant=variant)
        tasks.append(task(i + 1, art, [annotation(1000 + i, art.result(f"t{i}-"))]))
    return tasks


def write_export(path: Path, tasks: list[dict]) -> Path:
    path.write_text(json.dumps(tasks, ensure_ascii=False, indent=1), encoding="utf-8")
    return path
