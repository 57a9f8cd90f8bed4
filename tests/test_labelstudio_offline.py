"""Label Studio helpers that need no server: connection precedence, server environment, checks, index."""

from __future__ import annotations

import json
import socket
import unicodedata
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from corpus_tools.artefacts import ontology_to_labelstudio_config
from corpus_tools.checks import validate_document
from corpus_tools.errors import LabelStudioError, ServerSetupError
from corpus_tools.labelstudio import server as srv
from corpus_tools.labelstudio.checks import blocking, check_document, labels_used
from corpus_tools.labelstudio.client import Connection, resolve_connection
from corpus_tools.labelstudio.importer import TaskIndex, id_ranges, read_predictions
from corpus_tools.labelstudio.project import config_labels, ontology_to_instructions
from corpus_tools.labelstudio.snapshot import summarize_export
from corpus_tools.labelstudio.tasks import document_to_result
from corpus_tools.report import Report
from corpus_tools.spans import Document, Relation, Span, make_span

TEXT = "😀 زار محمد بن سلمان باريس 🇫🇷 أمس\nوبغداد"


def credentials_file(tmp_path: Path, url: str = "http://127.0.0.1:8123", key: str = "k" * 40) -> Path:
    return srv.write_credentials(tmp_path / "credentials.json",
                                 srv.Credentials(url=url, email="a@example.com", password="pw-123456", api_key=key))


def test_environment_key_wins_over_the_credentials_file(tmp_path):
    path = credentials_file(tmp_path)
    env = {"LABEL_STUDIO_URL": "https://ls.example.org/", "LABEL_STUDIO_API_KEY": "env-key-123"}
    assert resolve_connection(path, env) == Connection("https://ls.example.org", "env-key-123", "environment")
    assert resolve_connection(path, {"LABEL_STUDIO_API_KEY": "env-key-123"}).url == "http://localhost:8080"
    assert resolve_connection(path, {}) == Connection("http://127.0.0.1:8123", "k" * 40, str(path))
    assert resolve_connection(path, {"LABEL_STUDIO_URL": "http://127.0.0.1:8123/"}).api_key == "k" * 40


def test_a_project_named_by_a_digit_int_refuses_is_a_title_not_a_traceback():
    """`--project ²` (a digit that isdigit() accepts and int() refuses) raised ValueError before Label Studio was
    asked; it names a project by title, so an unreachable server is the one error."""
    from corpus_tools.labelstudio.client import LabelStudioClient, project_id_of

    assert [project_id_of(ref) for ref in ("12", "²", "١٢", "12a", "", 7)] == [12, None, None, None, None, 7]
    client = LabelStudioClient(Connection("http://127.0.0.1:9", "k" * 40, "test"), timeout=2)
    with pytest.raises(LabelStudioError, match="no Label Studio answered"):
        client.find_project("²")


def test_a_url_without_a_key_never_gets_the_local_key(tmp_path):
    path = credentials_file(tmp_path)
    with pytest.raises(LabelStudioError, match="LABEL_STUDIO_API_KEY is not set") as caught:
        resolve_connection(path, {"LABEL_STUDIO_URL": "https://elsewhere.example.org"})
    assert "k" * 40 not in str(caught.value)
    with pytest.raises(LabelStudioError, match="no Label Studio connection"):
        resolve_connection(tmp_path / "missing.json", {})


def test_credentials_file_is_private_and_round_trips(tmp_path):
    path = credentials_file(tmp_path)
    assert path.stat().st_mode & 0o777 == 0o600
    creds = srv.read_credentials(path)
    assert (creds.url, creds.api_key, creds.label_studio_version) == ("http://127.0.0.1:8123", "k" * 40, srv.LS_VERSION)
    assert "k" * 40 not in repr(creds) and "pw-123456" not in repr(creds)
    assert [p.name for p in tmp_path.iterdir()] == ["credentials.json"]
    path.write_text("{not json", encoding="utf-8")
    with pytest.raises(ServerSetupError, match="cannot read credentials file"):
        srv.read_credentials(path)


def test_server_env_removes_leaking_variables_and_silences_phoning_home(tmp_path):
    base = {"HOST": "h", "PORT": "1", "USERNAME": "u", "PASSWORD": "p", "DEBUG": "1", "LABEL_STUDIO_PORT": "2",
            "HEARTEX_X": "y", "PATH": "/bin", "LABEL_STUDIO_API_KEY": "secret"}
    env = srv.server_env(tmp_path, base=base)
    assert env["PATH"] == "/bin" and env["LABEL_STUDIO_BASE_DATA_DIR"] == str(tmp_path.resolve())
    assert not {"HOST", "PORT", "USERNAME", "PASSWORD", "DEBUG", "LABEL_STUDIO_PORT", "HEARTEX_X",
                "LABEL_STUDIO_API_KEY"} & env.keys()
    assert (env["LATEST_VERSION_CHECK"], env["SENTRY_DSN"], env["FRONTEND_SENTRY_DSN"], env["COLLECT_ANALYTICS"]) == (
        "false", "", "", "false")
    first = srv.server_env(tmp_path, base={}, first_run=srv.template_credentials())
    assert first["LABEL_STUDIO_USERNAME"] == srv.TEMPLATE_EMAIL
    assert first["LABEL_STUDIO_ENABLE_LEGACY_API_TOKEN"] == "true"


def test_prepare_data_dir_creates_credentials_once(tmp_path):
    data = tmp_path / "ls"
    creds, created = srv.prepare_data_dir(data)
    assert created and len(creds.api_key) == 40 and (data / "credentials.json").stat().st_mode & 0o777 == 0o600
    again, created_again = srv.prepare_data_dir(data)
    assert not created_again and again.api_key == creds.api_key
    other = tmp_path / "other"
    other.mkdir()
    (other / srv.DB_FILE).write_bytes(b"")
    with pytest.raises(ServerSetupError, match="no credentials.json"):
        srv.prepare_data_dir(other)


def test_busy_port_is_detected_and_the_announced_port_is_read(tmp_path):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        assert not srv.port_is_free(sock.getsockname()[1])
    assert srv.port_is_free(srv.free_port())
    log = tmp_path / "ls.log"
    log.write_bytes(b"old run\nStarting development server at http://127.0.0.1:8080/\n")
    offset = log.stat().st_size
    with open(log, "ab") as fh:
        fh.write(b"* Port 8096 is in use.\n* Trying to start at 8097\n")
    assert srv._announced_port(log, offset) == 8097
    with open(log, "ab") as fh:
        fh.write(b"Starting development server at http://127.0.0.1:8097/\n")
    assert srv._announced_port(log, offset) == 8097
    assert srv._announced_port(log, log.stat().st_size) is None


def test_missing_binary_says_how_to_install(tmp_path):
    with pytest.raises(ServerSetupError, match="corpus-tools ls install"):
        srv.require_binary(tmp_path / "bin" / "label-studio")
    assert srv.installed_version(tmp_path / "bin" / "label-studio") is None


def test_id_ranges():
    assert id_ranges([5, 1, 2, 3, 9, 10, 7]) == [(1, 3), (5, 5), (7, 7), (9, 10)]
    assert id_ranges([]) == []


def test_task_index_ignores_a_torn_line_and_another_project(tmp_path):
    from corpus_tools.labelstudio.client import ProjectInfo

    project = ProjectInfo(3, "t", "", "", 0, "2026-01-01T00:00:00Z")
    index = TaskIndex(tmp_path, "http://x", project)
    index.rewrite([("a", 10, "1" * 64), (None, 11, None)])
    index.append([("b", 12, "2" * 64), ("a", 10, "3" * 64)])  # task 10's text replaced: the later line wins
    with open(index.path, "a", encoding="utf-8") as fh:
        fh.write('["c", 1')
    assert index.load() == [("a", 10, "3" * 64), (None, 11, None), ("b", 12, "2" * 64)]
    recreated = ProjectInfo(3, "t", "", "", 0, "2026-02-02T00:00:00Z")
    assert TaskIndex(tmp_path, "http://x", recreated).load() is None


def test_an_index_of_the_first_format_is_not_used(tmp_path):
    """Its lines have no text hash, so a changed text could not be seen: the import lists the tasks instead."""
    from corpus_tools.labelstudio.client import ProjectInfo

    index = TaskIndex(tmp_path, "http://x", ProjectInfo(3, "t", "", "", 0, "2026-01-01T00:00:00Z"))
    index.path.write_text(json.dumps({**index.header, "version": 1}) + '\n["a", 10]\n', encoding="utf-8")
    assert index.load() is None


# ---------------------------------------------------------------------------- re-anchoring


def _span_item(region_id: str, text: str, start: int, end: int, label: str) -> dict:
    return {"id": region_id, "from_name": "label", "to_name": "text", "type": "labels",
            "value": {"start": start, "end": end, "text": text[start:end], "labels": [label]}}


def test_reanchor_moves_untouched_spans_and_removes_the_touched_ones():
    from corpus_tools.labelstudio.reanchor import RemovedRegion, reanchor_result

    old = "زار محمد بيروت أمس ثم عاد إلى دمشق"
    new = "وقال: " + old.replace("أمس", "الأحد")
    shift = len("وقال: ")
    person, day, city = len("زار "), len("زار محمد بيروت "), len("زار محمد بيروت أمس ثم عاد إلى ")
    result = [_span_item("p", old, person, person + len("محمد"), "PER"),
              _span_item("d", old, day, day + len("أمس"), "TIME"),
              _span_item("c", old, city, city + len("دمشق"), "GPE"),
              {"from_id": "p", "to_id": "c", "type": "relation", "direction": "right", "labels": ["PHYS.Located"]},
              {"from_id": "p", "to_id": "d", "type": "relation", "direction": "right", "labels": ["PHYS.Located"]},
              {"id": "x", "from_name": "genre", "to_name": "text", "type": "choices", "value": {"choices": ["news"]}}]
    moved, removed = reanchor_result(result, old, new)
    new_city = shift + city + len("الأحد") - len("أمس")
    assert moved == [_span_item("p", new, shift + person, shift + person + len("محمد"), "PER"),
                     _span_item("c", new, new_city, new_city + len("دمشق"), "GPE"),
                     result[3], result[5]]
    assert [moved[0]["value"]["text"], moved[1]["value"]["text"]] == ["محمد", "دمشق"]
    assert removed == [RemovedRegion("span", "d", day, day + len("أمس"), "أمس", "TIME"),
                       RemovedRegion("relation", "p->d", label="PHYS.Located")]
    # a second pass over what the first saved changes nothing: its spans are already on the new text
    assert reanchor_result(moved, old, new) == (moved, [])


def test_reanchor_removes_a_span_with_an_insertion_inside_it():
    from corpus_tools.labelstudio.reanchor import reanchor_result

    old = "وصل عبد الله إلى عمّان"
    new = old.replace("عبد الله", "عبد  الله")  # a space inserted inside the name
    start = len("وصل ")
    (item,) = [_span_item("n", old, start, start + len("عبد الله"), "PER")]
    moved, removed = reanchor_result([item], old, new)
    assert moved == [] and [(r.kind, r.start, r.end) for r in removed] == [("span", start, start + len("عبد الله"))]


# ---------------------------------------------------------------------------- checks


def _doc(entities, relations=()):
    return Document("d", TEXT, list(entities), list(relations))


def test_check_document_reports_the_validator_codes_located(ontology):
    per_start = len("😀 زار ")
    gpe_start = len("😀 زار محمد بن سلمان ")
    per = make_span(TEXT, per_start, per_start + len("محمد بن سلمان"), "PER", "per")
    gpe = make_span(TEXT, gpe_start, gpe_start + len("باريس"), "GPE", "gpe")
    ams_start = len("😀 زار محمد بن سلمان باريس 🇫🇷 ")
    inside_start = len("😀 زار محمد بن سلمان باريس 🇫🇷 أمس\nوبغ")  # after وبغ, which is no proclitic
    doc = _doc(
        [per, gpe,
         Span(0, 1, "WEAPON", "w", "😀"),
         Span(3, 999, "GPE", "far", "x"),
         Span(per_start, per_start + len("محمد"), "PER", "per", "محمود"),
         make_span(TEXT, per_start + len("محمد بن "), gpe_start + len("باريس"), "ORG", "cross"),
         make_span(TEXT, ams_start, ams_start + len("أمس\n"), "LOC", "edge"),
         make_span(TEXT, inside_start, len(TEXT), "GPE", "inside")],
        [Relation("per", "gpe", "PHYS.Located"), Relation("gpe", "per", "PHYS.Located"),
         Relation("per", "nope", "PHYS.Located"), Relation("per", "gpe", "LIKES")],
    )
    problems = check_document(doc, ontology, text=TEXT, file="p.jsonl", line=4, task_id=12)
    assert sorted((p.code, p.json_path, p.severity) for p in problems) == [
        ("relation-dangling", "$.relations[2].tail", "error"),
        ("relation-domain", "$.relations[1]", "error"),
        ("relation-inner-span", "$.relations[0]", "error"),  # gpe lies inside the (crossing) span 'cross'
        ("relation-inner-span", "$.relations[1]", "error"),
        ("relation-range", "$.relations[1]", "error"),
        ("relation-unknown-label", "$.relations[3].label", "error"),
        ("span-contains-emoji", "$.entities[2]", "error"),
        ("span-duplicate-id", "$.entities[4].id", "error"),
        ("span-edge-whitespace", "$.entities[6].end", "error"),
        ("span-left-edge-inside-word", "$.entities[7].start", "warning"),
        ("span-out-of-range", "$.entities[3].end", "error"),
        ("span-overlap", "$.entities[5]", "error"),
        ("span-text-mismatch", "$.entities[4].text", "error"),
        ("span-unknown-label", "$.entities[2].label", "error"),
    ]
    assert {(p.file, p.line, p.task_id) for p in problems} == {("p.jsonl", 4, 12)}
    assert [p.code for p in problems if p not in blocking(problems)] == ["span-left-edge-inside-word"]
    # the same rules and locations as `corpus-tools validate` on the same document
    assert check_document(doc.to_dict(), ontology, file="p.jsonl", line=4, task_id=12) == validate_document(
        doc.to_dict(), ontology=ontology, file="p.jsonl", line=4, task_id=12)


def test_check_document_upload_specific_problems(ontology):
    per_start = len("😀 زار ")
    per = make_span(TEXT, per_start, per_start + len("محمد"), "PER", "per")
    other = check_document(_doc([per]), ontology, text=TEXT + " ", task_id=7)
    assert [(p.code, p.json_path, p.task_id) for p in other] == [("upload-text-mismatch", "$.text", 7)]
    no_id = check_document(_doc([make_span(TEXT, per_start, per_start + len("محمد"), "PER")]), ontology, text=TEXT)
    assert [(p.code, p.json_path) for p in no_id] == [("document-schema", "$.entities[0].id")]


def test_a_document_twice_in_predictions_is_the_validator_duplicate_id(tmp_path):
    doc = {"id": "d", "text": "نص", "entities": [], "relations": [], "meta": {"model_version": "m1"}}
    path = tmp_path / "p.jsonl"
    path.write_text("\n".join(json.dumps(d, ensure_ascii=False) for d in [doc, {**doc, "meta": {}}]) + "\n",
                    encoding="utf-8")
    report = Report()
    assert list(read_predictions(path, report)) == ["d"]
    assert [(p.code, p.line, p.json_path) for p in report] == [
        ("upload-missing-model-version", 2, "$.meta.model_version"), ("document-duplicate-id", 2, "$.id")]


def _edge_errors(text: str, start: int, end: int) -> set[tuple[str, str]]:
    """The errors expected for a span, written from the rules (no whitespace or Cf at either edge, then no tatweel at
    the start; no emoji anywhere)."""
    def code(ch: str) -> str | None:
        if ch.isspace():
            return "span-edge-whitespace"
        return "span-edge-control" if unicodedata.category(ch) == "Cf" else None

    found = set()
    if code(text[start]):
        found.add((code(text[start]), "$.entities[0].start"))
    if end - start > 1 and code(text[end - 1]):
        found.add((code(text[end - 1]), "$.entities[0].end"))
    word = start
    while word > 0 and text[word - 1] in "ابتثجح\u0640\u064e":  # the word characters of the alphabet below
        word -= 1
    if not found and text[start] == "\u0640" and text[word:start].replace("\u064e", "").rstrip("\u0640") == "ب":
        found.add(("span-edge-tatweel", "$.entities[0].start"))  # the tatweel goes with the proclitic ب before it
    if "😀" in text[start:end]:  # never part of a name
        found.add(("span-contains-emoji", "$.entities[0]"))
    return found


@settings(max_examples=150, deadline=None)
@given(st.text(alphabet="ابتث جح😀\u0640\u064e\r\n\u200f", min_size=1, max_size=30), st.data())
def test_any_span_that_fits_the_text_has_only_edge_problems(ontology, text, data):
    start = data.draw(st.integers(0, len(text) - 1))
    end = data.draw(st.integers(start + 1, len(text)))
    span = make_span(text, start, end, data.draw(st.sampled_from(ontology.entity_labels)), "s1")
    problems = check_document(Document("d", text, [span]), ontology, text=text)
    assert {(p.code, p.json_path) for p in blocking(problems)} == _edge_errors(text, start, end)
    assert {p.code for p in problems if not p.is_error} <= {"span-left-edge-inside-word", "span-right-edge-inside-word"}
    assert labels_used(document_to_result([span], [], text)) == {span.label}


def test_instructions_and_config_labels_come_from_the_ontology(ontology):
    html = ontology_to_instructions(ontology)
    for entity in ontology.entities:
        assert f"<b>{entity.label}</b>" in html and entity.name_ar in html
    assert "PHYS.Located" in html and "<script" not in html
    assert config_labels(ontology_to_labelstudio_config(ontology)) == (
        set(ontology.entity_labels) | set(ontology.relation_labels))
    assert config_labels("<View><broken") == set()


def test_summarize_export_counts_a_stream(tmp_path):
    tasks = [
        {"id": 1, "data": {"text": "ا"}, "annotations": [
            {"id": 1, "completed_by": {"id": 1, "email": "a@x"}, "was_cancelled": False,
             "result": [{"type": "relation", "from_id": "a", "to_id": "b", "labels": ["R"]}]},
            {"id": 2, "completed_by": {"id": 2, "email": "b@x"}, "was_cancelled": True, "result": []}],
         "predictions": [{"id": 5, "result": []}]},
        {"id": 2, "data": {"text": "ب"}, "annotations": [], "predictions": []},
    ]
    path = tmp_path / "e.json"
    path.write_text(json.dumps(tasks), encoding="utf-8")
    s = summarize_export(path, 7)
    assert (s.tasks, s.unannotated_tasks, s.annotations, s.cancelled_annotations, s.predictions, s.relations,
            s.annotators, s.project_id) == (2, 1, 2, 1, 1, 1, 2, 7)


def test_first_run_secrets_travel_in_the_environment_not_argv(tmp_path):
    creds = srv.Credentials(url="", email="a@example.com", password="-Xy_3-dash", api_key="-" + "a" * 39)
    args = srv._first_run_args(creds)
    assert args == ["--enable-legacy-api-token"]
    env = srv.server_env(tmp_path, first_run=creds, base={})
    assert (env["LABEL_STUDIO_USERNAME"], env["LABEL_STUDIO_PASSWORD"], env["LABEL_STUDIO_USER_TOKEN"]) == (
        creds.email, creds.password, creds.api_key)


def test_ls_readers_refuse_a_pipe(tmp_path):
    """ls import reads the articles again by byte offset, which a pipe cannot give."""
    import os

    from corpus_tools.errors import InputError
    from corpus_tools.labelstudio.importer import iter_jsonl
    from corpus_tools.report import Report

    fifo = tmp_path / "articles.jsonl"
    os.mkfifo(fifo)
    with pytest.raises(InputError, match="not a file"):
        list(iter_jsonl(fifo, "article.schema.json", "upload-invalid-article", Report()))



def test_ls_readers_locate_a_record_the_schema_refuses(tmp_path):
    """A line that is JSON but not an article is reported with its line and the first error's JSON path; the
    lines around it are still read."""
    import json
    from pathlib import Path

    from corpus_tools.ingest.driver import ingest_to_jsonl
    from corpus_tools.labelstudio.importer import iter_jsonl
    from corpus_tools.report import Report

    sample = Path(__file__).resolve().parents[1] / "annotations" / "sample" / "articles"
    ingested = tmp_path / "ingested.jsonl"
    ingest_to_jsonl([str(sample)], ingested)
    first, second = ingested.read_text(encoding="utf-8").splitlines()[:2]
    broken = json.loads(first)
    broken["dateline"] = 7  # not an object
    path = tmp_path / "articles.jsonl"
    path.write_text("\n".join([first, json.dumps(broken, ensure_ascii=False), second]) + "\n", encoding="utf-8")
    report = Report()
    lines = [number for number, _, _, _ in iter_jsonl(path, "article.schema.json", "upload-invalid-article", report)]
    assert lines == [1, 3]
    [problem] = report.problems
    assert (problem.code, problem.line, problem.json_path) == ("upload-invalid-article", 2, "$.dateline")
    assert "article.schema.json" in problem.message and "7" in problem.message
