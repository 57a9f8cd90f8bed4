"""The leakage audit's near-duplicate part: MinHash signatures of word 3-grams, compared across splits."""

from __future__ import annotations

import random
import sys
import zlib

import build_inputs as B
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from corpus_tools.build.driver import build_release
from corpus_tools.build.writer import (
    _NON_ASCII_WHITESPACE,
    NEAR_DUPLICATE_BANDS,
    NEAR_DUPLICATE_PERMUTATIONS,
    NEAR_DUPLICATE_ROWS,
    NEAR_DUPLICATE_SEED,
    NEAR_DUPLICATE_THRESHOLD,
    NearDuplicates,
    shingle_hashes,
    text_signature,
)
from corpus_tools.release.splits import SplitPlan
from corpus_tools.validate import segmented

WORDS = ("وقال", "الوزير", "إن", "الحكومة", "ستعمل", "على", "تطوير", "الاقتصاد", "في", "المدينة", "خلال",
         "العام", "المقبل", "وأضاف", "أن", "المشروع", "يهدف", "إلى", "دعم", "الشباب", "والمرأة", "بغداد",
         "القاهرة", "عمان", "الرياض", "المجلس", "الوطني", "الأمم", "المتحدة", "الاجتماع", "الرئيس", "مع",
         "وزارة", "الخارجية", "المصرية", "الأردنية", "التعاون", "الدولي", "الميزانية", "الجديدة")


def article_text(seed: int, words: int = 120) -> str:
    rng = random.Random(seed)
    return " ".join(rng.choice(WORDS) for _ in range(words)) + ".\n"


def typo_fixed(text: str) -> str:
    """The same text with one character changed (a letter doubled in the 60th word)."""
    words = text.split(" ")
    words[60] = words[60][:2] + words[60][1:]
    return " ".join(words)


def ids_in(split: str, count: int, prefix: str) -> list[str]:
    plan = SplitPlan()
    found = [i for i in (f"{prefix}-{n}" for n in range(500)) if plan.rule_split(i) == split]
    return found[:count]


def export_of(tmp_path, texts: list[tuple[str, str]]):
    """A Label Studio export of one task per (id, text), each with one annotation (no spans) as its gold."""
    tasks = [B.task(n + 1, B.Article(doc_id, text), [B.annotation(100 + n, [])])
             for n, (doc_id, text) in enumerate(texts)]
    return B.write_export(tmp_path / "in.json", tasks)


def near_problems(report) -> list[tuple]:
    return [(p.code, p.severity, p.task_id, p.details["documents"], p.details["splits"])
            for p in report.problems if p.code == "build-near-duplicate-across-splits"]


def reference_shingle_hashes(text: str) -> np.ndarray:
    """shingle_hashes written plainly: str.split()'s words, each crc32 of its UTF-8, mixed three by three."""
    hashes = np.array([zlib.crc32(word.encode("utf-8", "surrogatepass")) for word in text.split()], dtype=np.uint64)
    if 0 < len(hashes) < 3:
        hashes = np.append(hashes, np.zeros(3 - len(hashes), dtype=np.uint64))
    mix = np.uint64(0x9E3779B97F4A7C15)
    hashes = (hashes[:-2] * mix + hashes[1:-1]) * mix + hashes[2:]
    return np.unique((hashes >> np.uint64(32)).astype(np.uint32))


def test_the_whitespace_made_a_space_is_what_str_split_splits_at_and_bytes_split_does_not():
    expected = {chr(c) for c in range(sys.maxunicode + 1)
                if chr(c).isspace() and not chr(c).encode("utf-8").isspace()}
    found = {chr(c) for c in range(sys.maxunicode + 1) if _NON_ASCII_WHITESPACE.fullmatch(chr(c))}
    assert found == expected and "\x1c" in found and "\u3000" in found and " " not in found


WHITESPACE = [c for c in map(chr, range(0x3001)) if c.isspace()] + ["\u200b", "\u200f", "\ufeff"]  # and look-alikes


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(st.sampled_from(WORDS + ("بِسْمِ", "ـــ", "😀", "a\r\nb", "\ud800", "x")),
                          st.sampled_from(WHITESPACE), st.text(max_size=4)), max_size=30))
def test_shingle_hashes_are_the_plain_reading_of_str_split(parts):
    text = "".join(parts)
    assert shingle_hashes(text).tolist() == reference_shingle_hashes(text).tolist()


@pytest.mark.parametrize("text", ["", " ", "بغداد", "بغداد\u00a0القاهرة", "a\x1cb\x1dc\x1ed\x1fe",
                                  "\u3000x\u2028y\u2029z\x85w", article_text(3)])
def test_shingle_hashes_on_crafted_texts(text):
    assert shingle_hashes(text).tolist() == reference_shingle_hashes(text).tolist()


@pytest.mark.parametrize("text", [article_text(1), article_text(7, 40), "بغداد", "بغداد القاهرة", "\ud800 x y"])
def test_signature_is_datasketchs_minhash_and_bands_are_minhashlshs(text):
    from datasketch import MinHash, MinHashLSH

    reference = MinHash(num_perm=NEAR_DUPLICATE_PERMUTATIONS, seed=NEAR_DUPLICATE_SEED, hashfunc=int)
    reference.update_batch(shingle_hashes(text).tolist())
    assert text_signature(text) == reference.hashvalues.astype("<u4").tobytes()
    lsh = MinHashLSH(threshold=NEAR_DUPLICATE_THRESHOLD, num_perm=NEAR_DUPLICATE_PERMUTATIONS)
    assert (lsh.b, lsh.r) == (NEAR_DUPLICATE_BANDS, NEAR_DUPLICATE_ROWS)


def test_typo_fix_is_near_the_original_and_unrelated_texts_are_not():
    original = article_text(1)
    fixed = typo_fixed(original)
    assert fixed != original and len(fixed) == len(original) + 1
    near = NearDuplicates()
    assert near.add("a", "train", text_signature(original)) == []
    assert near.add("b", "train", text_signature(article_text(2))) == []
    [(other, split, similarity)] = near.add("c", "test", text_signature(fixed))
    assert (other, split) == ("a", "train") and 0.8 <= similarity < 1.0
    assert text_signature("") is None and text_signature(" \n\t") is None
    assert text_signature("بغداد  القاهرة\nعمان") == text_signature("بغداد القاهرة عمان")  # whitespace collapsed


@pytest.mark.parametrize("workers", [0, 2])
def test_typo_fix_across_splits_is_a_warning_naming_both(tmp_path, monkeypatch, workers):
    monkeypatch.setattr(segmented, "SEGMENT_BYTES", 4096)  # several segments for the workers
    [train_a, train_b, train_c] = ids_in("train", 3, "doc")
    [test_a, test_b] = ids_in("test", 2, "doc")
    original = article_text(1)
    export = export_of(tmp_path, [
        (train_a, original),
        (train_b, article_text(2)),
        (test_a, article_text(3)),  # unrelated: not reported
        (train_c, typo_fixed(article_text(2))),  # near train_b in the same split: counted
        (test_b, typo_fixed(original)),  # near train_a in another split: reported
    ])
    result = build_release(export, version="1.0.0", out=tmp_path / "rel", workers=workers)
    assert result.report.valid
    assert near_problems(result.report) == [
        ("build-near-duplicate-across-splits", "warning", 5, [train_a, test_b], ["train", "test"])]
    [problem] = [p for p in result.report.problems if p.code == "build-near-duplicate-across-splits"]
    assert 0.8 <= problem.details["similarity"] < 1.0
    assert result.report.stats["release"]["near_duplicate_pairs_within_split"] == 1
    card = (tmp_path / "rel" / "README.md").read_text(encoding="utf-8")
    assert "1 near-duplicate pairs within splits." in card


def test_exact_duplicates_are_not_reported_twice_and_the_audit_can_be_turned_off(tmp_path):
    [train_a] = ids_in("train", 1, "doc")
    [test_a] = ids_in("test", 1, "doc")
    export = export_of(tmp_path, [(train_a, article_text(1)), (test_a, typo_fixed(article_text(1)))])
    result = build_release(export, version="1.0.0", out=tmp_path / "off", near_duplicates=False)
    assert near_problems(result.report) == []
    from corpus_tools.errors import InvalidDataError

    same = export_of(tmp_path, [(train_a, article_text(1)), (test_a, article_text(1))])
    with pytest.raises(InvalidDataError) as info:
        build_release(same, version="1.0.0", out=tmp_path / "rel")
    assert [(p.code, p.task_id) for p in info.value.report.problems
            if p.code.startswith("build-")] == [("build-duplicate-text-across-splits", 2)]
