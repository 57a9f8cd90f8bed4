"""Ingest: newswire layout, hygiene rules (each with its exact code and location), JSONL/CSV mapping,
determinism, atomic output and the CLI."""

from __future__ import annotations

import hashlib
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from corpus_tools.errors import InputError
from corpus_tools.ingest.driver import (
    ingest_paths,
    ingest_to_jsonl,
    parse_field_mapping,
    parse_newswire,
    read_articles_jsonl,
    write_articles_jsonl,
)
from corpus_tools.ingest.newswire import parse_dateline
from corpus_tools.labelstudio.tasks import article_to_task
from corpus_tools.schemas import validator_for

SEED = "seeds/000_6e18b1ef7decaba4.txt"
TITLE = "اجتماع في بيروت"
DATELINE = "بيروت ـ (الوطن) ـ وكالات:"
PARA1 = "قال الوزير إن الاجتماع انتهى."
PARA2 = "وأضاف أن الحكومة ستعمل."
ARTICLE = f"{TITLE}\n\n{DATELINE}\n{PARA1}\n{PARA2}\n"
RLM, ALM, LRM = "\u200f", "\u061c", "\u200e"


def ingest(*paths, **options):
    """Run ingest fully; return (articles, [(code, location dict)], report)."""
    result = ingest_paths([str(p) for p in paths], **options)
    articles = list(result.articles)
    return articles, result.report


def located(report):
    """(code, file, line, byte_offset, json_path) of every problem, for exact comparisons."""
    return [(p.code, p.file, p.line, p.byte_offset, p.json_path) for p in report.problems]


def write(path: Path, data: bytes | str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
    return path


def sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


# -- the sample article (the issue's "Done when") ------------------------------------------------------


def test_sample_article_ingests_to_one_record(shared_dir):
    path = shared_dir / SEED
    articles, report = ingest(path)
    assert report.valid and report.problems == []
    assert len(articles) == 1
    article = articles[0]
    raw = path.read_bytes().decode("utf-8")
    lines = raw.split("\n")
    assert article["text"] == raw
    assert article["title"] == lines[0] == "تنسيق استخباراتي بين دمشق وموسكو وبغداد وطهران"
    dateline = article["dateline"]
    assert dateline["places"] == ["نيويورك", "عواصم"]
    assert dateline["paper"] == "الوطن"
    assert dateline["agencies"] == ["وكالات"]
    assert dateline["text"] == lines[2] == article["text"][dateline["start"] : dateline["end"]]
    assert article["source"] == "الوطن" and article["lang"] == "ar"
    expected_paragraphs = [line for line in lines[3:] if line.strip()]
    got = [article["text"][p["start"] : p["end"]] for p in article["paragraphs"]]
    assert got == expected_paragraphs
    assert article["sha256"] == sha(raw) and article["id"] == path.stem == "000_6e18b1ef7decaba4"
    assert article["meta"] == {"source_id": path.stem}
    assert article["source_path"] == path.name
    assert list(validator_for("article.schema.json").iter_errors(article)) == []
    task = article_to_task(article)
    assert task["data"]["article_id"] == article["id"] and task["data"]["dateline"] == dateline


def test_layout_offsets_written_as_prefix_lengths():
    parts = parse_newswire(ARTICLE)
    assert parts.has_layout and parts.title == TITLE
    assert parts.dateline.start == len(f"{TITLE}\n\n")
    assert parts.dateline.end == len(f"{TITLE}\n\n{DATELINE}")
    first = len(f"{TITLE}\n\n{DATELINE}\n")
    second = len(f"{TITLE}\n\n{DATELINE}\n{PARA1}\n")
    assert parts.paragraphs == ((first, first + len(PARA1)), (second, second + len(PARA2)))


@pytest.mark.parametrize(
    ("line", "places", "paper", "agencies"),
    [
        ("نيويورك ـ عواصم ـ (الوطن) ـ وكالات:", ["نيويورك", "عواصم"], "الوطن", ["وكالات"]),
        ("القاهرة ـ وكالات:", ["القاهرة"], None, ["وكالات"]),
        ("دمشق - (الوطن):", ["دمشق"], "الوطن", []),
        ("واشنطن – أ ف ب:", ["واشنطن"], None, ["أ ف ب"]),
        ("(الوطن) ـ رويترز:", [], "الوطن", ["رويترز"]),
        ("بيروت:", ["بيروت"], None, []),
        ("  الدوحة ـ (الوطن) ـ قنا ـ رويترز:  ", ["الدوحة"], "الوطن", ["قنا", "رويترز"]),
    ],
)
def test_dateline_variants(line, places, paper, agencies):
    dateline = parse_dateline(line, start=7)
    assert (list(dateline.places), dateline.paper, list(dateline.agencies)) == (places, paper, agencies)
    assert (dateline.text, dateline.start, dateline.end) == (line, 7, 7 + len(line))


@pytest.mark.parametrize("line", ["وقال الوزير إن الحكومة ستعمل على ذلك:", "سطر عادي بلا نقطتين", ""])
def test_not_a_dateline(line):
    assert parse_dateline(line) is None


def test_source_option_overrides_the_paper(tmp_path):
    path = write(tmp_path / "a.txt", ARTICLE)
    articles, _ = ingest(path, source="wire-x", lang="ar-LB")
    assert articles[0]["source"] == "wire-x" and articles[0]["lang"] == "ar-LB"


def test_record_failing_the_schema_is_rejected(tmp_path):
    path = write(tmp_path / "a.txt", ARTICLE)
    articles, report = ingest(path, lang="")
    assert articles == []
    assert located(report) == [("ingest-invalid-record", str(path), None, None, "$.lang")]


# -- files without the layout ----------------------------------------------------------------------


def test_no_layout_imports_with_warning(tmp_path):
    text = f"\n{TITLE}\n{PARA1}\n\n{PARA2}"
    path = write(tmp_path / "plain.txt", text)
    articles, report = ingest(path)
    assert located(report) == [("ingest-no-layout", str(path), None, None, None)]
    article = articles[0]
    assert article["title"] == TITLE and article["dateline"] is None and article["source"] == ""
    first = len(f"\n{TITLE}\n")
    second = len(f"\n{TITLE}\n{PARA1}\n\n")
    assert article["paragraphs"] == [
        {"start": first, "end": first + len(PARA1)},
        {"start": second, "end": second + len(PARA2)},
    ]


# -- hygiene: each case with its exact code and location ---------------------------------------------


def test_bom_removed_before_offsets(tmp_path):
    path = write(tmp_path / "bom.txt", b"\xef\xbb\xbf" + ARTICLE.encode())
    articles, report = ingest(path)
    assert located(report) == [("ingest-bom-removed", str(path), None, 0, None)]
    assert articles[0]["text"] == ARTICLE and articles[0]["sha256"] == sha(ARTICLE)
    assert articles[0]["dateline"]["start"] == len(f"{TITLE}\n\n")


@pytest.mark.parametrize(("newline", "crlf", "cr"), [("\r\n", 5, 0), ("\r", 0, 5)])
def test_line_ends_converted_before_offsets(tmp_path, newline, crlf, cr):
    path = write(tmp_path / "crlf.txt", ARTICLE.replace("\n", newline))
    articles, report = ingest(path)
    assert located(report) == [("ingest-line-ends-converted", str(path), None, None, None)]
    assert report.problems[0].details == {"crlf": crlf, "cr": cr}
    article = articles[0]
    assert article["text"] == ARTICLE
    assert [article["text"][p["start"] : p["end"]] for p in article["paragraphs"]] == [PARA1, PARA2]


def test_mixed_line_ends(tmp_path):
    path = write(tmp_path / "mixed.txt", f"{TITLE}\r\n\r{DATELINE}\n{PARA1}\r\n")
    articles, report = ingest(path)
    assert report.problems[0].details == {"crlf": 2, "cr": 1}
    assert articles[0]["text"] == f"{TITLE}\n\n{DATELINE}\n{PARA1}\n"


def test_invalid_utf8_names_file_and_byte_offset(tmp_path):
    good = f"{TITLE}\n\n"
    path = write(tmp_path / "bad.txt", good.encode() + b"\xff\xfe" + PARA1.encode())
    articles, report = ingest(path)
    assert articles == []
    assert located(report) == [("ingest-invalid-utf8", str(path), 3, len(good.encode()), None)]
    assert report.stats["rejected"] == 1


def test_truncated_utf8_sequence_at_end(tmp_path):
    path = write(tmp_path / "cut.txt", TITLE.encode() + "ب".encode()[:1])
    _, report = ingest(path)
    assert located(report) == [("ingest-invalid-utf8", str(path), 1, len(TITLE.encode()), None)]


@pytest.mark.parametrize("data", [b"", b"  \n\t\r\n", b"\xef\xbb\xbf \n", " \u200f \n".encode()])
def test_empty_or_blank_file_is_skipped(tmp_path, data):
    path = write(tmp_path / "empty.txt", data)
    articles, report = ingest(path)
    assert articles == []
    assert located(report) == [("ingest-empty", str(path), None, None, None)]


@pytest.mark.parametrize(("name", "data", "line", "message"), [
    ("header.csv", "title,text\n", 1, "CSV file has a header row and no data rows"),
    ("header-and-blank-rows.csv", "title,text\r\n,\r\n\r\n", 1, "CSV file has a header row and no data rows"),
    ("no-header.csv", "", None, "CSV file has no header row"),
    ("empty.jsonl", "", None, "file is empty (0 bytes)"),
    ("blank.jsonl", "\n  \n\t\r\n", None, "file holds only blank lines"),
])
def test_a_tabular_file_without_a_record_is_empty_like_an_empty_text_file(tmp_path, name, data, line, message):
    """A header alone, or only blank lines, holds no article: ingest-empty (exit 1), as an empty text file is."""
    path = write(tmp_path / name, data)
    articles, report = ingest(path)
    assert articles == []
    assert located(report) == [("ingest-empty", str(path), line, None, None)]
    assert report.problems[0].message == message
    assert (report.stats["records"], report.stats["rejected"]) == (1, 1)
    result = run(str(path), "--out", str(tmp_path / "out.jsonl"))
    lines = [line for line in result.stderr.decode().splitlines() if line.startswith("error:")]
    assert result.returncode == 1
    assert lines == [f"error: [ingest-empty] {path}{'' if line is None else f':{line}'}: {message}"]


def test_binary_file_is_skipped(tmp_path):
    path = write(tmp_path / "image.txt", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    articles, report = ingest(path)
    assert articles == []
    assert located(report) == [("ingest-binary", str(path), None, len(b"\x89PNG\r\n\x1a\n"), None)]


def test_utf16_file_is_binary_with_a_hint(tmp_path):
    path = write(tmp_path / "utf16.txt", ARTICLE.encode("utf-16"))
    _, report = ingest(path)
    assert [p.code for p in report.problems] == ["ingest-binary"]
    assert "UTF-16" in report.problems[0].message


def test_too_large_file_is_skipped_and_limit_is_inclusive(tmp_path):
    limit = len(ARTICLE.encode())
    fits = write(tmp_path / "a.txt", ARTICLE)
    big = write(tmp_path / "b.txt", ARTICLE + "x")
    articles, report = ingest(fits, big, max_bytes=limit)
    assert [a["source_path"] for a in articles] == ["a.txt"]
    assert located(report) == [("ingest-too-large", str(big), None, None, None)]
    assert report.problems[0].details == {"bytes": limit + 1, "max_bytes": limit}


def test_too_large_stdin_is_skipped():
    result = ingest_paths(["-"], stdin=io.BytesIO(ARTICLE.encode()), max_bytes=10)
    assert list(result.articles) == []
    assert located(result.report) == [("ingest-too-large", "-", None, None, None)]


@pytest.mark.parametrize("limit", [10**12, 2**63 - 1, 10**30])
def test_a_limit_beyond_any_file_is_no_limit(tmp_path, limit):
    """--max-bytes 1000000000000 made the text reader allocate that many bytes (MemoryError), and a limit beyond a C
    integer raised OverflowError in the JSONL and CSV readers: a traceback either way."""
    text = write(tmp_path / "a.txt", ARTICLE)
    lines = write(tmp_path / "b.jsonl", json.dumps({"id": "b", "text": ARTICLE + "ب"}, ensure_ascii=False) + "\n")
    table = write(tmp_path / "c.csv", "id,text\nc," + json.dumps(ARTICLE + "ج", ensure_ascii=False) + "\n")
    articles, report = ingest(text, lines, table, max_bytes=limit)
    assert [a["source_path"] for a in articles] == ["a.txt", "b.jsonl", "c.csv"]
    assert not report.errors
    result = ingest_paths(["-"], stdin=io.BytesIO(ARTICLE.encode()), max_bytes=limit)
    assert [a["text"] for a in result.articles] == [ARTICLE]


def test_bidi_controls_reported_with_positions_and_kept(tmp_path):
    line = f"قال {RLM}الوزير{ALM} إن {LRM}x"
    text = f"{TITLE}\n\n{DATELINE}\n{line}\n"
    path = write(tmp_path / "bidi.txt", text)
    articles, report = ingest(path)
    assert articles[0]["text"] == text
    assert located(report) == [("ingest-bidi-control", str(path), 4, None, None)]
    prefix = f"{TITLE}\n\n{DATELINE}\n"
    assert report.problems[0].details == {
        "positions": [
            len(prefix + "قال "),
            len(prefix + f"قال {RLM}الوزير"),
            len(prefix + f"قال {RLM}الوزير{ALM} إن "),
        ],
        "chars": ["U+061C", "U+200E", "U+200F"],
    }


def test_embedding_and_override_controls_are_reported(tmp_path):
    text = f"{TITLE}\n\u202bنص\u202c \u202eنص\u202c"
    path = write(tmp_path / "embed.txt", text)
    _, report = ingest(path)
    bidi = [p for p in report.problems if p.code == "ingest-bidi-control"][0]
    assert bidi.details["chars"] == ["U+202B", "U+202C", "U+202E"]
    assert bidi.line == 2


def test_bom_inside_text_is_reported_and_kept(tmp_path):
    text = f"{TITLE}\n\n{DATELINE}\n{PARA1}\n\ufeff{PARA2}\n"
    path = write(tmp_path / "concat.txt", text)
    articles, report = ingest(path)
    assert articles[0]["text"] == text
    assert located(report) == [("ingest-bom-in-text", str(path), 5, None, None)]
    assert report.problems[0].details["positions"] == [len(f"{TITLE}\n\n{DATELINE}\n{PARA1}\n")]


def test_unreadable_file_is_reported(tmp_path):
    folder = tmp_path / "in"
    write(folder / "a.txt", ARTICLE)
    os.symlink(folder / "missing.txt", folder / "b.txt")  # a dangling link cannot be opened
    articles, report = ingest(folder)
    assert [a["source_path"] for a in articles] == ["a.txt"]
    assert located(report) == [("ingest-unreadable", os.path.join(str(folder), "b.txt"), None, None, None)]


def test_a_named_pipe_found_in_a_folder_is_skipped_not_opened(tmp_path):
    folder = tmp_path / "in"
    write(folder / "a.txt", ARTICLE)
    os.mkfifo(folder / "b.txt")  # opening it would wait for a writer forever
    articles, report = ingest(folder)
    assert [a["source_path"] for a in articles] == ["a.txt"]
    assert located(report) == [("ingest-not-a-file", os.path.join(str(folder), "b.txt"), None, None, None)]
    assert report.valid


@pytest.mark.parametrize(("name", "code", "said"), [("SIGTERM", 143, "Error: terminated"),
                                                     ("SIGINT", 130, "Error: interrupted")])
def test_sigterm_and_ctrl_c_remove_the_temp_file_and_say_so(tmp_path, name, code, said):
    import signal
    import time

    fifo = tmp_path / "pipe.txt"
    os.mkfifo(fifo)  # named on the command line: read, so the run waits for a writer
    out = tmp_path / "out" / "a.jsonl"
    out.parent.mkdir()
    child = subprocess.Popen([sys.executable, "-m", "corpus_tools", "ingest", str(fifo), "--out", str(out)],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))  # as from a terminal
    deadline = time.monotonic() + 60
    while not any(p.name.endswith(".tmp") for p in out.parent.iterdir()) and time.monotonic() < deadline:
        time.sleep(0.05)
    left = sorted(p.name for p in out.parent.iterdir())
    assert len(left) == 2 and left[0].endswith(".tmp") and left[1] == left[0] + ".lock"  # the file and its lock
    child.send_signal(getattr(signal, name))
    _, stderr = child.communicate(timeout=60)
    assert child.returncode == code
    assert stderr.decode().strip().splitlines() == [said]
    assert list(out.parent.iterdir()) == []


def test_missing_input_is_a_failure_to_run(tmp_path):
    with pytest.raises(InputError, match="input not found"):
        ingest_paths([str(tmp_path / "nope.txt")])


# -- ids, duplicates, determinism --------------------------------------------------------------------


def test_same_text_under_another_name_is_one_record(tmp_path):
    first = write(tmp_path / "in" / "a.txt", ARTICLE)
    write(tmp_path / "in" / "sub" / "copy.txt", ARTICLE)
    articles, report = ingest(tmp_path / "in")
    assert len(articles) == 1 and articles[0]["source_path"] == "a.txt"
    second = os.path.join(str(tmp_path / "in"), "sub/copy.txt")
    assert located(report) == [("ingest-duplicate", second, None, None, None)]
    assert report.problems[0].details == {"id": "a", "first": str(first)}
    assert report.stats["duplicates"] == 1 and report.valid


def test_ids_are_stable_across_paths_and_runs(tmp_path):
    a = write(tmp_path / "x" / "one.txt", ARTICLE)
    b = write(tmp_path / "y" / "one.txt", b"\xef\xbb\xbf" + ARTICLE.replace("\n", "\r\n").encode())
    (first,), _ = ingest(a)
    (second,), _ = ingest(b)
    assert first["id"] == second["id"] == "one"
    (piped,) = ingest_paths(["-"], stdin=io.BytesIO(ARTICLE.encode("utf-8"))).articles  # no name: the text's hash
    assert piped["id"] == sha(ARTICLE)[:16] and "meta" not in piped


def test_a_source_id_survives_an_edit_of_the_text(tmp_path):
    """The id comes from the source's id when there is one (as it is when it is a safe token, else hashed), from
    the text otherwise; sha256 always follows the text and meta.source_id keeps the id as given."""
    lines = [{"id": "afp-2019_001", "text": ARTICLE}, {"id": "AFP/2019 002", "text": PARA1, "title": "t"},
             {"id": 7, "text": PARA2, "title": "t"}, {"text": TITLE, "title": "t"},
             {"id": "", "text": DATELINE, "title": "t"}]
    path = write(tmp_path / "a.jsonl", "".join(json.dumps(x, ensure_ascii=False) + "\n" for x in lines))
    articles, report = ingest(path)
    assert report.valid and report.problems == []
    titled = lambda body: "t\n\n" + body  # noqa: E731 - a title field goes first in the text (the one title rule)
    assert [a["id"] for a in articles] == ["afp-2019_001", "src-" + sha("AFP/2019 002")[:16], "7",
                                           sha(titled(TITLE))[:16], sha(titled(DATELINE))[:16]]
    assert [a.get("meta") for a in articles] == [{"source_id": "afp-2019_001"}, {"source_id": "AFP/2019 002"},
                                                 {"source_id": "7"}, None, None]
    assert [a["sha256"] for a in articles] == [sha(ARTICLE), sha(titled(PARA1)), sha(titled(PARA2)),
                                               sha(titled(TITLE)), sha(titled(DATELINE))]
    edited = ARTICLE.replace("انتهى", "انتهى أمس")
    write(path, json.dumps({"id": "afp-2019_001", "text": edited}, ensure_ascii=False) + "\n")
    (again,), _ = ingest(path)
    assert again["id"] == "afp-2019_001" and again["sha256"] == sha(edited) != sha(ARTICLE)
    long_id = "a" * 65  # over 64 characters: hashed
    assert ingest_source_id(tmp_path, long_id) == "src-" + sha(long_id)[:16]
    assert ingest_source_id(tmp_path, "a" * 64) == "a" * 64


def ingest_source_id(tmp_path, source_id):
    path = write(tmp_path / "one.jsonl", json.dumps({"id": source_id, "text": ARTICLE}) + "\n")
    (article,), _ = ingest(path)
    return article["id"]


def test_two_texts_with_one_source_id_are_a_located_error(tmp_path):
    data = "num,body,title\n12,first text,t\n13,second text,t\n12,third text,t\n"
    path = write(tmp_path / "a.csv", data)
    articles, report = ingest(path, fields=parse_field_mapping(["text=body", "id=num"]))
    assert [a["id"] for a in articles] == ["12", "13"]
    assert located(report) == [("ingest-duplicate-id", str(path), 4, None, None)]
    assert report.problems[0].details == {"id": "12", "source_id": "12", "first": f"{path}:2"}
    assert not report.valid and report.stats["rejected"] == 1
    # text files: the name without its extension is the source id, whatever the folder
    first = write(tmp_path / "in" / "a" / "story.txt", ARTICLE)
    second = write(tmp_path / "in" / "b" / "story.txt", ARTICLE + PARA1)
    articles, report = ingest(tmp_path / "in")
    assert [a["source_path"] for a in articles] == ["a/story.txt"]
    assert located(report) == [("ingest-duplicate-id", os.path.join(str(tmp_path / "in"), "b/story.txt"), None,
                                None, None)]
    assert report.problems[0].details == {"id": "story", "source_id": "story", "first": str(first)}
    assert second.exists()


def test_an_archive_whose_folders_reuse_file_names_takes_the_path_as_source_id(tmp_path):
    root = tmp_path / "archive"
    write(root / "2019" / "03" / "001.txt", ARTICLE)
    write(root / "2019" / "04" / "001.txt", ARTICLE + PARA1)
    write(root / "notes.txt", ARTICLE + PARA1 + PARA1)
    articles, report = ingest(root, id_from="path")
    assert report.valid, located(report)
    hashed = {path: "src-" + hashlib.sha256(path.encode("utf-8")).hexdigest()[:16] for path in ("2019/03/001",
                                                                                                "2019/04/001")}
    assert [(a["id"], a["meta"]["source_id"], a["source_path"]) for a in articles] == [
        ("notes", "notes", "notes.txt"),  # a path without a folder is a safe token: kept as it is
        (hashed["2019/03/001"], "2019/03/001", "2019/03/001.txt"),
        (hashed["2019/04/001"], "2019/04/001", "2019/04/001.txt"),
    ]
    again, _ = ingest(root, id_from="path")
    assert again == articles
    # a file given by itself: its path within what was given is its name
    (single,), _ = ingest(root / "2019" / "03" / "001.txt", id_from="path")
    assert single["id"] == "001"
    with pytest.raises(ValueError, match="id_from must be one of"):
        ingest_paths([str(root)], id_from="folder")


def test_ingest_id_from_path_on_the_command_line(tmp_path):
    root = tmp_path / "archive"
    write(root / "a" / "story.txt", ARTICLE)
    write(root / "b" / "story.txt", ARTICLE + PARA1)
    out = tmp_path / "articles.jsonl"
    command = [sys.executable, "-m", "corpus_tools", "ingest", str(root), "--out", str(out)]
    refused = subprocess.run(command, capture_output=True, text=True)
    assert refused.returncode == 1 and "ingest-duplicate-id" in refused.stderr and not out.exists()
    done = subprocess.run([*command, "--id-from", "path"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    ids = [json.loads(line)["meta"]["source_id"] for line in out.read_text(encoding="utf-8").splitlines()]
    assert ids == ["a/story", "b/story"]


def test_an_id_field_of_another_type_is_refused(tmp_path):
    path = write(tmp_path / "a.jsonl", '{"id": true, "text": "x"}\n{"id": {"n": 1}, "text": "y"}\n')
    articles, report = ingest(path)
    assert articles == []
    assert located(report) == [("ingest-bad-field-type", str(path), 1, None, "$.id"),
                               ("ingest-bad-field-type", str(path), 2, None, "$.id")]


def test_directory_walk_is_sorted_relative_and_skips_hidden(tmp_path):
    root = tmp_path / "in"
    for name in ["b.txt", "a/z.txt", "a/b/c.txt", "A.txt", ".hidden.txt", ".git/x.txt"]:
        write(root / name, f"{TITLE} {name}\n\n{DATELINE}\n{PARA1}\n")
    articles, report = ingest(root)
    assert [a["source_path"] for a in articles] == ["A.txt", "b.txt", "a/z.txt", "a/b/c.txt"]
    assert report.stats["inputs"] == 4


def test_rerun_is_byte_identical_and_has_no_machine_paths(tmp_path):
    root = tmp_path / "in"
    write(root / "a.txt", ARTICLE)
    write(root / "b.txt", b"\xef\xbb\xbf" + ARTICLE.replace(PARA2, PARA2 + " 2").encode())
    write(root / "c.jsonl", json.dumps({"text": ARTICLE + "3"}, ensure_ascii=False) + "\n")
    out1, out2 = tmp_path / "o1.jsonl", tmp_path / "o2.jsonl"
    report1 = ingest_to_jsonl([root], out1)
    report2 = ingest_to_jsonl([root], out2)
    data = out1.read_bytes()
    assert data == out2.read_bytes() and report1.to_dict() == report2.to_dict()
    assert str(tmp_path) not in data.decode("utf-8")
    records = list(read_articles_jsonl(out1))
    assert [r["source_path"] for r in records] == ["a.txt", "b.txt", "c.jsonl"]
    validator = validator_for("article.schema.json")
    assert all(list(validator.iter_errors(r)) == [] for r in records)


def test_output_inside_an_input_folder_is_not_ingested(tmp_path):
    root = tmp_path / "in"
    write(root / "a.txt", ARTICLE)
    out = root / "articles.jsonl"
    ingest_to_jsonl([root], out)
    first = out.read_bytes()
    report = ingest_to_jsonl([root], out)
    assert out.read_bytes() == first and report.stats["inputs"] == 1


def test_an_input_named_as_the_output_is_refused_before_anything_is_written(tmp_path):
    folder = tmp_path / "t2"
    path = write(folder / "a.jsonl", json.dumps({"text": ARTICLE}) + "\n")
    before = path.read_bytes()
    os.symlink(path, tmp_path / "link.jsonl")
    os.link(path, tmp_path / "hard.jsonl")
    for named in [str(path), os.path.join(str(folder), "..", "t2", "a.jsonl"), str(tmp_path / "link.jsonl"),
                  str(tmp_path / "hard.jsonl")]:
        with pytest.raises(InputError, match="is the output file"):
            ingest_to_jsonl([named], path)
        result = run(named, "--out", str(path))
        assert result.returncode == 3, result.stderr
        lines = result.stderr.decode().strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith(f"Error: input {named} is the output file"), lines
        assert path.read_bytes() == before
    assert sorted(p.name for p in folder.iterdir()) == ["a.jsonl"]  # no temp file left either
    result = run(str(folder), "--out", str(path))  # found while walking the folder: skipped, not refused
    assert result.returncode == 0 and b"wrote 0 articles" in result.stderr


def test_file_names_that_are_not_utf8_are_ingested_and_shown_escaped(tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    bad = os.path.join(os.fsencode(folder), b"bad\xffname.txt")
    with open(bad, "wb") as handle:
        handle.write(b"not a dateline\n\nbody\n")
    with open(os.path.join(os.fsencode(folder), b"j\xfe.jsonl"), "wb") as handle:
        handle.write(b'{"text": 1}\n')
    for named, source_path in [(str(folder), "bad\\xffname.txt"), (os.fsdecode(bad), "bad\\xffname.txt")]:
        articles, report = ingest(named)
        assert [a["source_path"] for a in articles] == [source_path]
    shown = os.path.join(str(folder), "bad\\xffname.txt")
    out = tmp_path / "articles.jsonl"
    result = run(str(folder), "--out", str(out), "--json")
    assert result.returncode == 1 and b"Traceback" not in result.stderr, result.stderr
    report = json.loads(result.stdout.decode("utf-8"))  # strict UTF-8 JSON
    assert [(p["code"], p["file"]) for p in report["problems"]] == [
        ("ingest-no-layout", shown), ("ingest-bad-field-type", os.path.join(str(folder), "j\\xfe.jsonl"))]
    assert not out.exists()  # an input was rejected: nothing is written
    os.unlink(os.path.join(os.fsencode(folder), b"j\xfe.jsonl"))  # the rejected input left out
    result = run(str(folder), "--out", str(out))
    assert result.returncode == 0 and f"{shown}: no newswire layout" in result.stderr.decode("utf-8")
    assert [r["source_path"] for r in read_articles_jsonl(out)] == ["bad\\xffname.txt"]


def test_source_and_lang_that_are_not_text_are_usage_errors(tmp_path):
    path = write(tmp_path / "a.txt", ARTICLE)
    out = tmp_path / "a.jsonl"
    for option in ("--source", "--lang"):
        result = subprocess.run([sys.executable, "-m", "corpus_tools", "ingest", str(path), "--out", str(out),
                                 option, b"\xff"], capture_output=True, timeout=120)
        assert result.returncode == 2 and b"Traceback" not in result.stderr, result.stderr
        assert b"is not text" in result.stderr and not out.exists()
    result = run(str(path), "--out", str(out), "--field", os.fsdecode(b"meta.\xff=x"))
    assert result.returncode == 2 and b"is not text" in result.stderr
    with pytest.raises(ValueError, match="is not text"):
        ingest_paths([str(path)], source=os.fsdecode(b"\xff"))


# -- JSONL ------------------------------------------------------------------------------------------------


def test_jsonl_field_mapping(tmp_path):
    body = f"{DATELINE}\n{PARA1}\n{PARA2}"
    lines = [
        {"article": {"body": body}, "headline": TITLE, "site": "alwatan", "link": "https://example.org/1"},
        {"article": {"body": PARA1}, "headline": "", "site": None, "language": "en"},
    ]
    path = write(tmp_path / "dump.jsonl", "".join(json.dumps(x, ensure_ascii=False) + "\n" for x in lines))
    fields = parse_field_mapping(["text=article.body", "title=headline", "source=site", "meta.url=link",
                                  "lang=language"])
    articles, report = ingest(path, fields=fields)
    first, second = articles
    # the title field goes first in the text (title, empty line, body), as in a newswire text file
    assert first["text"] == f"{TITLE}\n\n{body}" and first["title"] == TITLE and first["source"] == "alwatan"
    assert first["meta"] == {"url": "https://example.org/1"} and first["source_line"] == 1
    assert first["dateline"]["paper"] == "الوطن" and first["dateline"]["start"] == len(f"{TITLE}\n\n")
    assert [first["text"][p["start"] : p["end"]] for p in first["paragraphs"]] == [PARA1, PARA2]
    # an empty title falls back to the layout parse; a null source to the (absent) paper
    assert second["title"] == PARA1 and second["source"] == "" and second["lang"] == "en"
    assert located(report) == [("ingest-no-layout", str(path), 2, None, "$.article.body")]


def test_jsonl_meta_object_and_default_fields(tmp_path):
    path = write(tmp_path / "a.jsonl", json.dumps({"text": ARTICLE, "meta": {"desk": "sport"}}) + "\n")
    (article,), report = ingest(path)
    assert article["meta"] == {"desk": "sport"} and article["title"] == TITLE  # undeclared: kept, reported
    assert located(report) == [("ingest-meta-undeclared", str(path), 1, None, "$.meta.desk")]


def test_jsonl_record_problems_are_located(tmp_path):
    lines = [
        json.dumps({"text": ARTICLE}),
        "",
        '{"text": "unterminated',
        "[1, 2]",
        json.dumps({"body": ARTICLE}),
        json.dumps({"text": 5}),
        json.dumps({"text": ARTICLE + "x", "meta": "not an object"}),
        json.dumps({"text": "   "}),
        '{"text": "\\ud800 lone"}',
        json.dumps({"text": ARTICLE.replace("\n", "\r\n") + "y"}),
        json.dumps({"text": None}),
    ]
    path = write(tmp_path / "mixed.jsonl", "\n".join(lines) + "\n")
    articles, report = ingest(path)
    assert [a["source_line"] for a in articles] == [1, 10]
    file = str(path)
    assert located(report) == [
        ("ingest-bad-json-line", file, 3, None, None),
        ("ingest-record-not-object", file, 4, None, None),
        ("ingest-missing-field", file, 5, None, "$.text"),
        ("ingest-bad-field-type", file, 6, None, "$.text"),
        ("ingest-bad-field-type", file, 7, None, "$.meta"),
        ("ingest-empty", file, 8, None, "$.text"),
        ("ingest-invalid-utf8", file, 9, None, "$.text"),
        ("ingest-line-ends-converted", file, 10, None, "$.text"),
        ("ingest-missing-field", file, 11, None, "$.text"),
    ]
    assert report.stats == {"inputs": 1, "records": 10, "articles": 2, "duplicates": 0, "rejected": 8}


def test_jsonl_invalid_utf8_byte_offset_is_in_the_file(tmp_path):
    first = (json.dumps({"text": ARTICLE}) + "\n").encode()
    path = write(tmp_path / "a.jsonl", first + b'{"text": "ab\xc3"}\n')
    _, report = ingest(path)
    assert located(report) == [("ingest-invalid-utf8", str(path), 2, len(first) + len(b'{"text": "ab'), None)]


def test_a_lone_surrogate_is_located_in_every_reader(tmp_path):
    """JSON keeps a lone surrogate escape in the str, and Python's UTF-8 codec would keep one encoded in bytes
    with 'surrogatepass': each reader refuses it, located, and ingests nothing of that record."""
    encoded = "\ud800".encode("utf-8", "surrogatepass")  # ED A0 80: a surrogate written as UTF-8, which UTF-8 forbids
    text = write(tmp_path / "a.txt", TITLE.encode() + b"\n" + encoded + PARA1.encode())
    jsonl = write(tmp_path / "b.jsonl", json.dumps({"text": ARTICLE}) + "\n" + '{"title": "t", "text": "ok\\udbff"}\n')
    csv_file = write(tmp_path / "c.csv", 'text,meta\n' + ARTICLE.replace("\n", " ") + ',"{""k"": [""\\ud800""]}"\n')
    articles, report = ingest(text, jsonl, csv_file)
    assert [a["source_line"] for a in articles] == [1]
    assert located(report) == [
        ("ingest-invalid-utf8", str(text), 2, len(TITLE.encode()) + 1, None),
        ("ingest-invalid-utf8", str(jsonl), 2, None, "$.text"),
        ("ingest-invalid-utf8", str(csv_file), 2, None, None),
    ]
    assert "$.k[0]" in report.problems[2].message


def test_jsonl_too_long_line_is_skipped_and_the_next_line_read(tmp_path):
    short = json.dumps({"text": ARTICLE}, ensure_ascii=False) + "\n"
    long = json.dumps({"text": ARTICLE + "x" * 500}, ensure_ascii=False) + "\n"
    path = write(tmp_path / "a.jsonl", long + short + long)
    articles, report = ingest(path, max_bytes=len(short.encode()))
    assert [a["source_line"] for a in articles] == [2]
    second_long_at = len((long + short).encode())
    assert located(report) == [
        ("ingest-too-large", str(path), 1, 0, None),
        ("ingest-too-large", str(path), 3, second_long_at, None),
    ]


def test_jsonl_bom_and_bidi_in_a_record(tmp_path):
    text = f"{TITLE}\n\n{DATELINE}\nقال {RLM}الوزير"
    path = write(tmp_path / "a.jsonl", b"\xef\xbb\xbf" + json.dumps({"text": text}).encode() + b"\r\n")
    (article,), report = ingest(path)
    assert article["text"] == text
    assert located(report) == [
        ("ingest-bom-removed", str(path), None, 0, None),
        ("ingest-bidi-control", str(path), 1, None, "$.text"),
    ]
    assert report.problems[1].details["positions"] == [len(f"{TITLE}\n\n{DATELINE}\nقال ")]


def test_jsonl_binary_file(tmp_path):
    path = write(tmp_path / "a.jsonl", b"\x00\x01\x02")
    _, report = ingest(path)
    assert located(report) == [("ingest-binary", str(path), None, 0, None)]


def test_jsonl_nul_in_the_first_8_kib_beyond_line_1_rejects_the_whole_file(tmp_path):
    data = b'{"text":"a"}\n\0\0\0\x01binary\n{"text":"b"}\n'
    path = write(tmp_path / "n.jsonl", data)
    articles, report = ingest(path)
    assert articles == []
    assert located(report) == [("ingest-binary", str(path), None, len(b'{"text":"a"}\n'), None)]
    result = ingest_paths(["-"], fmt="jsonl", stdin=io.BytesIO(data))
    assert list(result.articles) == [] and [p.code for p in result.report.problems] == ["ingest-binary"]
    late = b'{"text":"a"}\n' * 700 + b'\0\n'  # past the first 8 KiB: only that line is refused
    articles, report = ingest(write(tmp_path / "late.jsonl", late))
    assert len(articles) == 1
    assert [(p.code, p.line) for p in report.problems if p.severity == "error"] == [("ingest-bad-json-line", 701)]


def test_jsonl_from_a_pipe_is_sniffed_and_read_whole(tmp_path):
    import threading

    fifo = tmp_path / "news.jsonl"
    os.mkfifo(fifo)
    lines = [json.dumps({"text": f"{PARA1} {i}"}, ensure_ascii=False) for i in range(2000)]  # > 8 KiB

    def feed() -> None:
        with open(fifo, "wb") as pipe:
            pipe.write(("\n".join(lines) + "\n").encode())

    writer = threading.Thread(target=feed)
    writer.start()
    try:
        articles, report = ingest(fifo)
    finally:
        writer.join(10)
    assert [a["text"] for a in articles] == [f"{PARA1} {i}" for i in range(2000)]
    assert [a["source_line"] for a in articles][-1] == 2000


# -- CSV --------------------------------------------------------------------------------------------------


def test_csv_mapping_multiline_fields_and_row_lines(tmp_path):
    body = f"{DATELINE}\n{PARA1}"
    data = (
        "id,headline,body\n"
        f'1,{TITLE},"{body}"\n'
        "\n"
        f'2,"عنوان, ثان","{PARA2}"\n'
        "3,only two\n"
    )
    path = write(tmp_path / "a.csv", data)
    fields = parse_field_mapping(["text=body", "title=headline", "meta.row=id"])
    articles, report = ingest(path, fields=fields)
    assert [(a["source_line"], a["id"], a["title"], a["meta"]) for a in articles] == [  # id: the id column
        (2, "1", TITLE, {"row": "1", "source_id": "1"}),
        (5, "2", "عنوان, ثان", {"row": "2", "source_id": "2"}),
    ]
    assert articles[0]["text"] == f"{TITLE}\n\n{body}" and articles[0]["dateline"]["places"] == ["بيروت"]
    assert articles[1]["text"] == f"عنوان, ثان\n\n{PARA2}"
    assert located(report) == [("ingest-meta-undeclared", str(path), 2, None, None),  # once per file
                               ("ingest-bad-csv-row", str(path), 6, None, None)]


def test_csv_stray_quote_is_not_the_rest_of_the_file(tmp_path):
    """A quoted field never closed would take every later row as its text: the row is refused, located."""
    data = f"text\n{PARA1}\n\"{PARA2}\n{PARA1}\n{PARA2}\n"
    path = write(tmp_path / "a.csv", data)
    articles, report = ingest(path)
    assert [a["text"] for a in articles] == [PARA1]
    assert [(p.code, p.line) for p in report.problems if p.severity == "error"] == [("ingest-bad-csv-row", 3)]
    assert "never closed" in next(p.message for p in report.problems if p.code == "ingest-bad-csv-row")


def test_csv_text_after_a_closing_quote_is_refused(tmp_path):
    path = write(tmp_path / "a.csv", f'text\n"{PARA1}"tail\n{PARA2}\n')
    articles, report = ingest(path)
    assert [a["text"] for a in articles] == [PARA2]
    assert [(p.code, p.line) for p in report.problems if p.severity == "error"] == [("ingest-bad-csv-row", 2)]


def test_csv_from_a_named_pipe_is_spooled_like_stdin(tmp_path):
    """`ingest <(zcat news.csv.gz) --format csv`: the CSV reader seeks, a pipe cannot, so it is spooled first."""
    import threading

    fifo = tmp_path / "news.csv"
    os.mkfifo(fifo)
    data = f"text\n{PARA1}\n{PARA2}\n".encode()

    def feed() -> None:
        with open(fifo, "wb") as pipe:
            pipe.write(data)

    writer = threading.Thread(target=feed)
    writer.start()
    try:
        articles, report = ingest(fifo, fmt="csv")
    finally:
        writer.join(10)
    assert [a["text"] for a in articles] == [PARA1, PARA2]
    assert [p.code for p in report.problems if p.severity == "error"] == []


def test_csv_missing_text_column(tmp_path):
    path = write(tmp_path / "a.csv", f"title,content\n{TITLE},{PARA1}\n")
    articles, report = ingest(path)
    assert articles == []
    assert located(report) == [("ingest-missing-field", str(path), 1, None, None)]


def test_a_missing_text_column_lists_the_columns_there_are(tmp_path):
    path = write(tmp_path / "a.csv", f"title,content\n{TITLE},{PARA1}\n")
    _, report = ingest(path, fields={"text": "Body"})
    (problem,) = report.problems
    assert (problem.code, problem.line) == ("ingest-missing-field", 1)
    assert "no column 'Body' for the article text (its columns: 'title', 'content');" in problem.message
    wide = [f"c{i}" for i in range(20)] + ["x" * 50]
    path = write(tmp_path / "wide.csv", ",".join(wide) + "\n" + ",".join("v" * len(wide)) + "\n")
    (problem,) = ingest(path, fields={"text": "Body"})[1].problems
    listed = ", ".join(repr(name) for name in wide[:12])
    assert f"(its columns: {listed} and 9 more);" in problem.message
    path = write(tmp_path / "long.csv", "x" * 50 + "\nv\n")
    (problem,) = ingest(path, fields={"text": "Body"})[1].problems
    assert f"(its columns: {'x' * 39 + '…'!r});" in problem.message


def test_a_missing_text_field_lists_the_record_fields(tmp_path):
    lines = [json.dumps({"headline": TITLE, "body": ARTICLE}), json.dumps({"Body": None})]
    path = write(tmp_path / "a.jsonl", "\n".join(lines) + "\n")
    _, report = ingest(path, fields={"text": "Body"})
    assert located(report) == [("ingest-missing-field", str(path), 1, None, "$.Body"),
                               ("ingest-missing-field", str(path), 2, None, "$.Body")]
    assert "no field 'Body' for the article text (its fields: 'headline', 'body');" in report.problems[0].message
    assert "no field 'Body' for the article text;" in report.problems[1].message


def test_csv_invalid_utf8_names_byte_and_line(tmp_path):
    head = f"text\n{PARA1}\n".encode()
    path = write(tmp_path / "a.csv", head + b"x\xffy\n")
    _, report = ingest(path)
    assert located(report) == [("ingest-invalid-utf8", str(path), 3, len(head) + 1, None)]


def test_csv_bom_and_crlf(tmp_path):
    path = write(tmp_path / "a.csv", b"\xef\xbb\xbftext\r\n" + f'"{TITLE}\r\n{PARA1}"\r\n'.encode())
    (article,), report = ingest(path)
    assert article["text"] == f"{TITLE}\n{PARA1}"
    assert [(p.code, p.line, p.byte_offset) for p in report.problems] == [
        ("ingest-bom-removed", None, 0),
        ("ingest-line-ends-converted", 2, None),
        ("ingest-no-layout", 2, None),
    ]


def test_csv_text_over_the_limit(tmp_path):
    path = write(tmp_path / "a.csv", f"text\n{PARA1}\n{PARA2 * 20}\n")
    articles, report = ingest(path, max_bytes=len((PARA2 * 10).encode()))
    assert len(articles) == 1
    assert located(report) == [
        ("ingest-no-layout", str(path), 2, None, None),
        ("ingest-too-large", str(path), 3, None, None),
    ]


def test_field_mapping_errors():
    with pytest.raises(ValueError, match="TARGET=FIELD"):
        parse_field_mapping(["text"])
    with pytest.raises(ValueError, match="unknown target"):
        parse_field_mapping(["uid=x"])
    assert parse_field_mapping(["meta.url=link"])["meta.url"] == "link"


# -- stdin, atomic output ------------------------------------------------------------------------------------


def test_stdin_input_and_formats():
    result = ingest_paths(["-"], stdin=io.BytesIO(ARTICLE.encode()))
    (article,) = list(result.articles)
    assert article["source_path"] == "-" and article["title"] == TITLE
    line = json.dumps({"text": ARTICLE}).encode() + b"\n"
    result = ingest_paths(["-"], fmt="jsonl", stdin=io.BytesIO(line))
    assert [a["source_line"] for a in result.articles] == [1]
    result = ingest_paths(["-"], fmt="csv", stdin=io.BytesIO(b"text\n" + PARA1.encode() + b"\n"))
    assert [a["text"] for a in result.articles] == [PARA1]


def test_interrupted_write_leaves_nothing(tmp_path):
    out = tmp_path / "articles.jsonl"
    out.write_text("previous\n", encoding="utf-8")

    def broken():
        yield {"id": "a", "text": "x"}
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        write_articles_jsonl(out, broken())
    assert out.read_text(encoding="utf-8") == "previous\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["articles.jsonl"]


def test_write_keeps_key_order_and_utf8(tmp_path):
    out = tmp_path / "new" / "a.jsonl"
    assert write_articles_jsonl(out, [{"text": "نص", "id": "x1", "zz": 1}]) == 1
    assert out.read_text(encoding="utf-8") == '{"id":"x1","text":"نص","zz":1}\n'


# -- property: offsets always index the stored text ----------------------------------------------------------

_ALPHABET = st.sampled_from(
    list("بيروت دمشق ـ :()") + ["\u064e", "\u0651", RLM, ALM, LRM, "\u202b", "\ufeff", "😀", "\r", "\n", "\r\n", "\t"]
)


@settings(max_examples=150, deadline=None)
@given(st.lists(_ALPHABET, min_size=1, max_size=80).map("".join), st.booleans())
def test_offsets_index_the_cleaned_text(body, with_bom):
    raw = ("\ufeff" if with_bom else "") + body
    result = ingest_paths(["-"], stdin=io.BytesIO(raw.encode("utf-8")))
    articles = list(result.articles)
    expected = (raw[1:] if raw.startswith("\ufeff") else raw).replace("\r\n", "\n").replace("\r", "\n")
    if all(ch.isspace() or ch in "\u200f\u061c\u200e\u202b\ufeff" for ch in expected):
        assert articles == [] and [p.code for p in result.report.problems] == ["ingest-empty"]
        return
    (article,) = articles
    assert article["text"] == expected and article["id"] == sha(expected)[:16]
    lines = [line for line in expected.split("\n") if line.strip(" \t\u200f\u061c\u200e\u202b\ufeff")]
    spans = [article["text"][p["start"] : p["end"]] for p in article["paragraphs"]]
    skipped = 2 if article["dateline"] else 1
    if article["dateline"]:
        assert article["dateline"]["text"] == lines[1]
    assert spans == lines[skipped:] and article["title"] == lines[0]
    for problem in result.report.problems:
        for position in problem.details.get("positions", []):
            assert expected[position] in "\u200f\u061c\u200e\u202b\ufeff"


# -- CLI ------------------------------------------------------------------------------------------------------


def run(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "corpus_tools", "ingest", *args], input=stdin,
                          capture_output=True, timeout=120)


def test_cli_writes_and_exits_0(tmp_path):
    write(tmp_path / "in" / "a.txt", ARTICLE)
    out = tmp_path / "articles.jsonl"
    result = run(str(tmp_path / "in"), "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert result.stdout == b""
    assert "wrote 1 articles" in result.stderr.decode()
    (record,) = list(read_articles_jsonl(out))
    assert record["title"] == TITLE


def test_cli_json_is_exactly_the_report_and_rejects_exit_1(tmp_path):
    root = tmp_path / "in"
    write(root / "a.txt", ARTICLE)
    write(root / "b.txt", b"\xff")
    write(root / "c.txt", ARTICLE.replace("\n", "\r\n"))
    out = tmp_path / "articles.jsonl"
    result = run(str(root), "--out", str(out), "--json")
    assert result.returncode == 1
    expected = ingest_paths([str(root)])
    list(expected.articles)
    assert json.loads(result.stdout) == expected.report.to_dict()
    assert not out.exists()  # the accepted inputs are not written either: a failing run writes nothing
    assert b"Traceback" not in result.stderr


def test_cli_stdin_and_quiet(tmp_path):
    out = tmp_path / "a.jsonl"
    result = run("-", "--out", str(out), "--quiet", "--source", "wire", stdin=ARTICLE.encode())
    assert result.returncode == 0 and result.stderr == b""
    assert [r["source"] for r in read_articles_jsonl(out)] == ["wire"]


def test_cli_field_mapping_and_usage_errors(tmp_path):
    path = write(tmp_path / "a.jsonl", json.dumps({"body": ARTICLE}) + "\n")
    out = tmp_path / "a.out.jsonl"
    assert run(str(path), "--out", str(out), "--field", "text=body").returncode == 0
    assert len(list(read_articles_jsonl(out))) == 1
    assert run(str(path), "--out", str(out), "--field", "nonsense").returncode == 2
    assert run(str(path), "--out", str(out), "--format", "xml").returncode == 2


def test_cli_missing_input_is_one_error_line_exit_3(tmp_path):
    result = run(str(tmp_path / "missing.txt"), "--out", str(tmp_path / "a.jsonl"))
    assert result.returncode == 3
    assert result.stderr.decode().strip().splitlines() == [f"Error: input not found: {tmp_path / 'missing.txt'}"]
    assert not (tmp_path / "a.jsonl").exists()


def test_cli_unwritable_output_is_one_error_line_exit_3(tmp_path):
    source = write(tmp_path / "a.txt", ARTICLE)
    write(tmp_path / "blocker", "not a folder")
    result = run(str(source), "--out", str(tmp_path / "blocker" / "a.jsonl"))
    assert result.returncode == 3
    lines = result.stderr.decode().strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"Error: cannot write {tmp_path / 'blocker' / 'a.jsonl'}")


def test_cli_an_existing_write_only_output_is_replaced_not_refused_as_unreadable():
    from unprivileged import give, run_cli_as_nobody, shared_tmp

    with shared_tmp() as folder:
        source = write(folder / "a.txt", ARTICLE)
        out = write(folder / "out" / "articles.jsonl", "old\n")
        give(out.parent)
        give(out)
        os.chmod(out, 0o200)  # writable, not readable: ingest only writes it
        code, output = run_cli_as_nobody(["ingest", str(source), "--out", str(out)],
                                         warm=["ingest", str(source), "--out", str(folder / "w.jsonl")])
        assert code == 0, output
        assert [r["title"] for r in read_articles_jsonl(out)] == [TITLE]
