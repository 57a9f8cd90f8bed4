"""Label Studio helpers that need no server: connection precedence, server environment, checks, index."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from corpus_tools.errors import LabelStudioError, ServerSetupError
from corpus_tools.generate import ontology_to_labelstudio_config
from corpus_tools.labelstudio import server as srv
from corpus_tools.labelstudio.checks import check_document, labels_used
from corpus_tools.labelstudio.client import Connection, resolve_connection
from corpus_tools.labelstudio.importer import TaskIndex, id_ranges
from corpus_tools.labelstudio.project import config_labels, ontology_to_instructions
from corpus_tools.labelstudio.snapshot import summarize_export
from corpus_tools.labelstudio.tasks import document_to_result
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
    index.rewrite([("a", 10), (None, 11)])
    index.append([("b", 12)])
    with open(index.path, "a", encoding="utf-8") as fh:
        fh.write('["c", 1')
    assert index.load() == [("a", 10), (None, 11), ("b", 12)]
    recreated = ProjectInfo(3, "t", "", "", 0, "2026-02-02T00:00:00Z")
    assert TaskIndex(tmp_path, "http://x", recreated).load() is None


# ---------------------------------------------------------------------------- checks


def _doc(entities, relations=()):
    return Document("d", TEXT, list(entities), list(relations))


def test_check_document_locates_every_problem(ontology):
    per_start = len("😀 زار ")
    gpe_start = len("😀 زار محمد بن سلمان ")
    per = make_span(TEXT, per_start, per_start + len("محمد بن سلمان"), "PER", "per")
    gpe = make_span(TEXT, gpe_start, gpe_start + len("باريس"), "GPE", "gpe")
    doc = _doc(
        [per, gpe, Span(0, 1, "WEAPON", "w", "😀"), Span(3, 999, "GPE", "far", "x"),
         Span(per_start, per_start + 4, "PER", "per", "محمود"), make_span(TEXT, per_start + 8, gpe_start, "ORG",
                                                                          "cross")],
        [Relation("per", "gpe", "PHYS.Located"), Relation("gpe", "per", "PHYS.Located"),
         Relation("per", "nope", "PHYS.Located"), Relation("per", "gpe", "LIKES")],
    )
    found = sorted((p.code, p.json_path) for p in check_document(doc, ontology, text=TEXT, line=4, file="p.jsonl"))
    assert found == [
        ("upload-dangling-relation", "$.relations[2].tail"),
        ("upload-duplicate-span-id", "$.entities[4].id"),
        ("upload-offsets-out-of-range", "$.entities[3]"),
        ("upload-relation-domain", "$.relations[1]"),
        ("upload-span-overlap", "$.entities[5]"),
        ("upload-span-text-mismatch", "$.entities[4].text"),
        ("upload-unknown-label", "$.entities[2].label"),
        ("upload-unknown-relation", "$.relations[3].label"),
    ]
    other = check_document(_doc([per]), ontology, text=TEXT + " ")
    assert [(p.code, p.json_path) for p in other] == [("upload-text-mismatch", "$.text")]


@settings(max_examples=150, deadline=None)
@given(st.text(alphabet="ابتث جح😀\u0640\u064e\r\n\u200f", min_size=1, max_size=30), st.data())
def test_any_span_that_fits_the_text_passes(ontology, text, data):
    start = data.draw(st.integers(0, len(text) - 1))
    end = data.draw(st.integers(start + 1, len(text)))
    span = make_span(text, start, end, data.draw(st.sampled_from(ontology.entity_labels)), "s1")
    assert check_document(Document("d", text, [span]), ontology, text=text) == []
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
            s.annotators, s.project_id) == (2, 1, 2, 1, 1, 1, 2, 7)


def test_first_run_arguments_survive_a_password_starting_with_a_dash():
    import argparse

    creds = srv.Credentials(url="", email="a@example.com", password="-Xy_3-dash", api_key="-" + "a" * 39)
    parser = argparse.ArgumentParser()
    for flag in ("--username", "--password", "--user-token"):
        parser.add_argument(flag)
    parser.add_argument("--enable-legacy-api-token", action="store_true")
    parsed = parser.parse_args(srv._first_run_args(creds))
    assert (parsed.username, parsed.password, parsed.user_token) == (creds.email, creds.password, creds.api_key)
