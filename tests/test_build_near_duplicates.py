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

from corpus_tools.build import writer
from corpus_tools.build.driver import build_release
from corpus_tools.build.writer import (
    _PERMUTE_A,
    _PERMUTE_B,
    NEAR_DUPLICATE_BANDS,
    NEAR_DUPLICATE_PERMUTATIONS,
    NEAR_DUPLICATE_ROWS,
    NEAR_DUPLICATE_SEED,
    NEAR_DUPLICATE_THRESHOLD,
    NearDuplicates,
    shingle_hashes,
    text_signatures,
    word_hashes,
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


def reference_signature(text: str) -> bytes | None:
    """A text's signature computed on its own: each permutation of every distinct 3-gram, then the least."""
    shingles = reference_shingle_hashes(text)
    if not len(shingles):
        return None
    shingles ^= shingles >> np.uint32(16)  # MurmurHash3's finaliser
    shingles *= np.uint32(0x85EBCA6B)
    shingles ^= shingles >> np.uint32(13)
    shingles *= np.uint32(0xC2B2AE35)
    shingles ^= shingles >> np.uint32(16)
    return (shingles[:, None] * _PERMUTE_A + _PERMUTE_B).min(axis=0).astype("<u4").tobytes()


def shingles_of_each(texts: list[str]) -> list[list[int]]:
    hashes, bounds = shingle_hashes(texts)
    assert len(bounds) == len(texts) + 1 and bounds[-1] == len(hashes)
    return [np.unique(hashes[start:end]).tolist() for start, end in zip(bounds[:-1], bounds[1:], strict=True)]


def test_every_code_point_str_split_splits_at_splits_words_and_no_other():
    points = range(sys.maxunicode + 1)
    texts = [f"x{chr(c)}y" for c in points]
    utf8 = b" ".join(text.encode("utf-8", "surrogatepass") for text in texts)
    hashes, starts = word_hashes(utf8)
    per_text = np.diff(np.searchsorted(starts, np.cumsum([0] + [len(text.encode("utf-8", "surrogatepass")) + 1
                                                              for text in texts])))
    split_at = {chr(c) for c, words in zip(points, per_text.tolist(), strict=True) if words == 2}
    assert split_at == {chr(c) for c in points if chr(c).isspace()} and "\x1c" in split_at and "\u3000" in split_at
    x, y = zlib.crc32(b"x"), zlib.crc32(b"y")
    expected = [h for text in texts for h in ([x, y] if text[1].isspace()
                                              else [zlib.crc32(text.encode("utf-8", "surrogatepass"))])]
    assert hashes.tolist() == expected


WHITESPACE = [c for c in map(chr, range(0x3001)) if c.isspace()] + ["\u200b", "\u200f", "\ufeff"]  # and look-alikes
# words of 63 to 65 UTF-8 bytes (the longest the CRC tables take is 64) and longer
LONG_WORDS = ("a" * 63, "é" * 32, "a" * 65, "ـ" * 33, "😀" * 20, "x" * 300)
PARTS = st.one_of(st.sampled_from(WORDS + ("بِسْمِ", "ـــ", "😀", "a\r\nb", "\ud800", "x") + LONG_WORDS),
                  st.sampled_from(WHITESPACE), st.text(max_size=4))


@settings(max_examples=300, deadline=None)
@given(st.lists(PARTS, max_size=30))
def test_shingle_hashes_are_the_plain_reading_of_str_split(parts):
    text = "".join(parts)
    assert shingles_of_each([text]) == [reference_shingle_hashes(text).tolist()]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.lists(PARTS, max_size=12).map("".join), max_size=8))
def test_shingle_hashes_and_signatures_of_texts_taken_together_are_each_texts_own(texts):
    assert shingles_of_each(texts) == [reference_shingle_hashes(text).tolist() for text in texts]
    assert text_signatures(texts) == [reference_signature(text) for text in texts]


@pytest.mark.parametrize("text", ["", " ", "بغداد", "بغداد\u00a0القاهرة", "a\x1cb\x1dc\x1ed\x1fe",
                                  "\u3000x\u2028y\u2029z\x85w", article_text(3), "x y\u00a0", "x y é",
                                  "x y \u3000", *LONG_WORDS, "ب" * 40 + " " + "a" * 64 + "\n" + "x" * 1000])
def test_shingle_hashes_on_crafted_texts(text):
    assert shingles_of_each([text]) == [reference_shingle_hashes(text).tolist()]
    assert text_signatures([text]) == [reference_signature(text)]


def test_signatures_are_computed_in_runs_of_text_with_the_same_answers(monkeypatch):
    texts = ["", article_text(1), "بغداد", " \n", article_text(2, 30), "a b", "", "x" * 70 + " y", article_text(3)]
    expected = [reference_signature(text) for text in texts]
    assert [s is None for s in expected] == [True, False, False, True, False, False, True, False, False]
    for run in (1, 10, 300, 1 << 20):
        monkeypatch.setattr(writer, "SIGNATURE_CODE_POINTS", run)
        assert text_signatures(texts) == expected, run
    assert text_signatures([]) == [] and text_signatures(["", " "]) == [None, None]


@pytest.mark.parametrize("text", [article_text(1), article_text(7, 40), "بغداد", "بغداد القاهرة", "\ud800 x y"])
def test_signature_is_datasketchs_minhash_and_bands_are_minhashlshs(text):
    from datasketch import MinHash, MinHashLSH

    reference = MinHash(num_perm=NEAR_DUPLICATE_PERMUTATIONS, seed=NEAR_DUPLICATE_SEED, hashfunc=int)
    reference.update_batch(reference_shingle_hashes(text).tolist())
    assert text_signatures([text]) == [reference.hashvalues.astype("<u4").tobytes()] == [reference_signature(text)]
    lsh = MinHashLSH(threshold=NEAR_DUPLICATE_THRESHOLD, num_perm=NEAR_DUPLICATE_PERMUTATIONS)
    assert (lsh.b, lsh.r) == (NEAR_DUPLICATE_BANDS, NEAR_DUPLICATE_ROWS)


def test_typo_fix_is_near_the_original_and_unrelated_texts_are_not():
    original = article_text(1)
    fixed = typo_fixed(original)
    assert fixed != original and len(fixed) == len(original) + 1
    first, second, third = text_signatures([original, article_text(2), fixed])
    near = NearDuplicates()
    assert near.add("a", "train", first) == []
    assert near.add("b", "train", second) == []
    [(other, split, similarity)] = near.add("c", "test", third)
    assert (other, split) == ("a", "train") and 0.8 <= similarity < 1.0
    assert text_signatures(["", " \n\t"]) == [None, None]
    collapsed, spaced = text_signatures(["بغداد  القاهرة\nعمان", "بغداد القاهرة عمان"])
    assert collapsed == spaced  # whitespace collapsed


def test_one_signature_twice_in_a_segment_is_a_pair_and_other_texts_are_not_near_it():
    """Two texts with the same words (whitespace apart) have one signature: the second is near the first even when
    both are looked up in one segment, where no earlier document shares a band with them."""
    same, other = text_signatures(["بغداد  القاهرة عمان", article_text(2)])
    near = NearDuplicates()
    near.segment([same, other, same])
    assert near.add("a", "train", same) == []
    assert near.add("b", "train", other) == []
    assert near.add("c", "test", same) == [("a", "train", 1.0)]
    near.segment([other])
    assert near.add("d", "test", other) == [("b", "train", 1.0)]
    near.close()


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
