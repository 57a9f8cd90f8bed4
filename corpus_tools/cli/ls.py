"""``corpus-tools ls install|up|down|status|setup|users|import|export``: Label Studio, locally or remote."""

from __future__ import annotations

import math
import signal
import sys
import time
from pathlib import Path
from typing import Annotated

import typer

from corpus_tools.cli._common import (
    EXIT_OK,
    JsonOption,
    OntologyOption,
    QuietOption,
    echo_data,
    echo_json,
    info,
    render_report,
)
from corpus_tools.errors import InputError, InvalidDataError, ServerSetupError

app = typer.Typer(
    help="Run a local Label Studio, set up a project from the ontology, import articles, export annotations.",
    no_args_is_help=True,
)

DataDirOption = Annotated[
    Path, typer.Option("--data-dir", help="Data directory of the local server (database, logs, credentials).",
                       file_okay=False),
]
CredentialsOption = Annotated[
    Path | None,
    typer.Option("--credentials", help="Credentials file written by `ls up` (default: .labelstudio/credentials.json)."
                 " LABEL_STUDIO_URL and LABEL_STUDIO_API_KEY take precedence.", dir_okay=False, readable=False),
]
ProjectOption = Annotated[str, typer.Option("--project", help="Project title, or its numeric id.")]


def _client(credentials: Path | None):
    from corpus_tools.labelstudio.client import LabelStudioClient, resolve_connection

    return LabelStudioClient.connect(resolve_connection(credentials))


@app.command("install")
def install_command(quiet: QuietOption = False) -> None:
    """Install the pinned Label Studio into its own cached virtualenv (no-op when present).

    The server never shares the toolkit's environment (it pins pyarrow<25 and an exact SDK).
    Location: $LS_BIN, else ~/.cache/corpus-tools/ls-venv-<version>.
    """
    from corpus_tools.labelstudio.server import install_server

    binary = install_server(output=None if quiet else sys.stderr, progress=lambda m: info(m, quiet=quiet))
    info(f"Label Studio is installed: {binary}", quiet=quiet)


@app.command("up")
def up_command(
    port: Annotated[int, typer.Option("--port", help="Port to listen on (refused when busy).", min=1,
                                      max=65535)] = 8080,
    data_dir: DataDirOption = Path(".labelstudio"),
    host: Annotated[str, typer.Option("--host", help="Interface to listen on (0.0.0.0 for other machines).")]
    = "127.0.0.1",
    email: Annotated[str, typer.Option("--email", help="Admin e-mail, used on the first start only.")]
    = "admin@example.com",
    detach: Annotated[bool, typer.Option("--detach", help="Return once the server is up; stop it with `ls down`.")]
    = False,
    quiet: QuietOption = False,
) -> None:
    """Start a local Label Studio for annotators and wait until it is healthy.

    Installs Label Studio on first use, creates the admin user and an API key on the first start
    (about 40 s), writes them to DATA_DIR/credentials.json (mode 0600) and prints where. Nothing
    phones home. Runs until Ctrl-C or `corpus-tools ls down` unless --detach.
    """
    from corpus_tools.labelstudio import server as srv

    def say(message: str) -> None:
        info(message, quiet=quiet)

    running = srv.running_server(data_dir)
    if running:
        raise ServerSetupError(f"Label Studio is already running for {data_dir} at {running[1]} (pid {running[0]});"
                               " stop it with `corpus-tools ls down`")
    binary = srv.server_binary()
    if srv.installed_version(binary) is None:
        srv.install_server(binary, output=None if quiet else sys.stderr, progress=say)
    credentials, created = srv.prepare_data_dir(data_dir, email=email)
    server = srv.start_server(data_dir, port=port, host=host, binary=binary,
                              first_run=credentials if created else None, progress=say)
    srv.write_credentials(data_dir / srv.CREDENTIALS_FILE, credentials.with_url(server.url))
    if server.moved:
        say(f"Warning: port {port} was taken meanwhile; Label Studio listens on {server.port} instead.")
    say(f"Label Studio {srv.LS_VERSION} is up at {server.url} (pid {server.process.pid}).")
    say(f"Log in as {credentials.email}; password and API key are in {data_dir / srv.CREDENTIALS_FILE}.")
    if detach:
        say("Stop it with `corpus-tools ls down`.")
        return
    say("Press Ctrl-C to stop.")

    def on_term(signum, frame):  # noqa: ARG001
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, on_term)
    # "Press Ctrl-C" must hold even when started from a non-interactive shell's background job, which
    # starts with SIGINT ignored (Python then leaves it ignored).
    previous_int = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        while server.alive():
            time.sleep(0.5)
    except KeyboardInterrupt:
        say("Stopping Label Studio...")
        server.stop()
        say("Label Studio stopped.")
        raise typer.Exit(EXIT_OK) from None
    finally:
        signal.signal(signal.SIGTERM, previous)
        signal.signal(signal.SIGINT, previous_int)
    code = server.process.returncode
    say("Label Studio stopped.")
    if code not in (0, -signal.SIGTERM, -signal.SIGINT):
        raise ServerSetupError(f"Label Studio exited with code {code}; see {server.log_path}")


@app.command("down")
def down_command(data_dir: DataDirOption = Path(".labelstudio"), quiet: QuietOption = False) -> None:
    """Stop the local Label Studio started by `ls up` on this data directory."""
    from corpus_tools.labelstudio.server import stop_server

    pid = stop_server(data_dir)
    info(f"Label Studio (pid {pid}) stopped." if pid else f"No Label Studio is running for {data_dir}.", quiet=quiet)


@app.command("status")
def status_command(
    project: Annotated[str | None, typer.Option(
        "--project", help="Also show this project (title or id): its tasks and its overlap settings.")] = None,
    credentials: CredentialsOption = None,
    as_json: JsonOption = False,
) -> None:
    """Check the connection: which server, which user, and where the key came from (never the key); with
    --project, the project's task count and overlap (up to N annotations per task on P % of the tasks).

    --json prints `{url, user, key_from}`, with --project also `project: {id, title, tasks, overlap:
    {maximum_annotations, overlap_cohort_percentage}}`.
    """
    from corpus_tools.labelstudio.client import LabelStudioClient, resolve_connection
    from corpus_tools.labelstudio.team import project_overlap

    connection = resolve_connection(credentials)
    client = LabelStudioClient.connect(connection)
    user = client.whoami()
    data: dict[str, object] = {"url": connection.url, "user": user["email"], "key_from": connection.source}
    found = client.find_project(project) if project is not None else None
    if found is not None:
        overlap = project_overlap(found)
        data["project"] = {"id": found.id, "title": found.title, "tasks": found.task_number,
                           "overlap": overlap.to_dict()}
    if as_json:
        echo_json(data)
        return
    info(f"Connected to {data['url']} as {data['user']} (key from {data['key_from']}).")
    if found is not None:
        info(f"Project {found.id} {found.title!r}: {found.task_number} tasks; overlap: up to"
             f" {overlap.maximum_annotations} annotations per task on {overlap.percentage} % of the tasks.")


def _overlap_share(value: float | None) -> float | None:
    from corpus_tools.labelstudio.team import share_to_percentage

    if value is not None:
        try:
            share_to_percentage(value)
        except ValueError as exc:
            raise typer.BadParameter(str(exc)) from None
    return value


@app.command("setup")
def setup_command(
    project: ProjectOption,
    overlap: Annotated[int | None, typer.Option(
        "--overlap", min=1, help="Label Studio's overlap: up to N annotations per task (by N annotators);"
        " 1 is one annotation per task. Unchanged when not given.")] = None,
    overlap_share: Annotated[float | None, typer.Option(
        "--overlap-share", callback=_overlap_share, metavar="FRACTION",
        help="The share of tasks that get --overlap annotations, from 0 to 1 (0.5: half of them; Label Studio"
        " keeps a whole percentage); the other tasks get one. Unchanged when not given (new projects: 1).")]
    = None,
    ontology: OntologyOption = None,
    credentials: CredentialsOption = None,
    as_json: JsonOption = False,
    quiet: QuietOption = False,
) -> None:
    """Create the project with the labeling config generated from the ontology, or update it.

    Refuses (exit 3) an ontology change that removes a label still used by annotations or
    predictions. Annotator instructions generated from the ontology glossary are set too.
    --overlap and --overlap-share set Label Studio's overlap settings (maximum annotations per
    task, overlap percentage) when they differ; the summary says what changed.
    """
    from corpus_tools.labelstudio.client import project_id_of
    from corpus_tools.labelstudio.project import setup_project
    from corpus_tools.labelstudio.team import set_overlap, share_to_percentage
    from corpus_tools.ontology import load_ontology

    onto = load_ontology(ontology)
    client = _client(credentials)
    result = setup_project(client, project, onto, project_id=project_id_of(project))
    overlap_result = set_overlap(client, result.project.id, maximum_annotations=overlap,
                                 percentage=None if overlap_share is None else share_to_percentage(overlap_share))
    now = overlap_result.after
    data = {"project_id": result.project.id, "title": result.project.title, "action": result.action,
            "added_labels": list(result.added_labels), "removed_labels": list(result.removed_labels),
            "url": f"{client.url}/projects/{result.project.id}/",
            "overlap": {**now.to_dict(), "changed": list(overlap_result.changed)}}
    if as_json:
        echo_json(data)
        return
    changes = ""
    if result.action == "updated" and (result.added_labels or result.removed_labels):
        added, removed = ", ".join(result.added_labels) or "-", ", ".join(result.removed_labels) or "-"
        changes = f" (added: {added}; removed: {removed})"
    info(f"Project {result.project.id} {result.project.title!r} {result.action}{changes}: {data['url']}",
         quiet=quiet)
    before = overlap_result.before.to_dict()
    changed = ", ".join(f"{name} {before[name]} -> {now.to_dict()[name]}" for name in overlap_result.changed)
    info(f"Overlap: up to {now.maximum_annotations} annotations per task on {now.percentage} % of the tasks"
         f" ({'changed: ' + changed if changed else 'unchanged'}).", quiet=quiet)


users_app = typer.Typer(help="Annotator logins on the Label Studio server (the key's organisation).",
                        no_args_is_help=True)
app.add_typer(users_app, name="users")


@users_app.command("add")
def users_add_command(
    emails: Annotated[list[str], typer.Argument(help="E-mail addresses of the annotators (their login names).",
                                                metavar="EMAIL")],
    password_file: Annotated[Path | None, typer.Option(
        "--password-file", dir_okay=False, readable=False,
        help="Write the new passwords to this JSON file (mode 0600, atomically; new entries are merged into an"
        " existing password file of the same server) instead of printing them.")] = None,
    credentials: CredentialsOption = None,
    as_json: JsonOption = False,
    quiet: QuietOption = False,
) -> None:
    """Create a login for each e-mail, with a random password, through Label Studio's invitation link.

    New users join the organisation, so they see its projects. Each new password is printed once
    on stdout as `EMAIL<TAB>PASSWORD`, or written to --password-file. An e-mail that already has a
    login is reported as existing and keeps its password. --json (which needs --password-file)
    prints `{"users": [{email, id, action}], "password_file"}` without passwords.
    """
    from corpus_tools.labelstudio.team import (
        add_users,
        check_password_file,
        invalid_emails,
        merge_password_file_results,
        write_password_file,
    )

    bad = invalid_emails(emails)
    if bad:
        raise typer.BadParameter(f"not an e-mail address: {', '.join(bad)}", param_hint="EMAIL")
    if as_json and password_file is None:
        raise typer.BadParameter("--json prints no passwords: give --password-file for them",
                                 param_hint="--password-file")
    client = _client(credentials)
    if password_file is not None:
        check_password_file(password_file, client.url)  # before any login is made whose password it must keep
    writes = []

    def keep(email: str, password: str) -> None:  # at once: a later signup that fails must not lose it
        if password_file is None:
            echo_data(f"{email}\t{password}")
        else:
            writes.append(write_password_file(password_file, client.url, {email: password}))

    users = add_users(client, emails, on_created=keep)
    passwords = {u.email: u.password for u in users if u.created and u.password}
    written = merge_password_file_results(password_file, client.url, writes) if password_file is not None else None
    if as_json:
        echo_json({"users": [{"email": u.email, "id": u.id, "action": "created" if u.created else "existing"}
                             for u in users], "password_file": str(password_file)})
    for user in users:
        info(f"{user.email} (id {user.id}): {'created' if user.created else 'exists already; password unchanged'}",
             quiet=quiet or as_json)
    if written is None:
        if passwords:
            info("The passwords above are shown only once.", quiet=quiet)
        return
    if written.added or written.replaced:
        replaced = f"; replaced the old password of {', '.join(written.replaced)}" if written.replaced else ""
        info(f"{'Updated' if written.existed else 'Wrote'} {password_file} (mode 0600): {len(written.added)}"
             f" passwords added{replaced}, {len(written.kept)} kept.", quiet=quiet or as_json)
    else:
        info(f"No new login: {password_file} left as it was.", quiet=quiet or as_json)


@users_app.command("list")
def users_list_command(
    project: Annotated[str | None, typer.Option(
        "--project", help="Also count the tasks of this project (title or id) each user has annotated.")] = None,
    credentials: CredentialsOption = None,
    as_json: JsonOption = False,
) -> None:
    """List the users of the organisation (id, e-mail), and with --project the tasks each has annotated.

    --json prints `{"users": [{id, email, annotated_tasks?}]}`.
    """
    from corpus_tools.labelstudio.team import list_team

    client = _client(credentials)
    project_id = client.find_project(project).id if project is not None else None
    team = list_team(client, project_id)
    if as_json:
        echo_json({"users": [m.to_dict() for m in team]})
        return
    for member in team:
        line = f"{member.id}\t{member.email}"
        echo_data(line if member.annotated_tasks is None else f"{line}\t{member.annotated_tasks}")


def _checked_upload(upload, *, what: str, as_json: bool, quiet: bool):
    """Run an upload whose input was checked first: a refusal prints its report and exits 1;
    with --json the report is printed and None returned; otherwise warnings are shown."""
    try:
        report = upload()
    except InvalidDataError as exc:
        if exc.report is None:
            raise
        render_report(exc.report, as_json=as_json, quiet=quiet, title=f"{what} refused")
        raise typer.Exit(1) from None
    if as_json:
        echo_json(report.to_dict())
        return None
    if report.problems:
        render_report(report, as_json=False, quiet=quiet, title=f"{what} warnings")
    return report


def _finite_score(value: float | None) -> float | None:
    if value is not None and not math.isfinite(value):
        raise typer.BadParameter(f"{value} is not a number JSON can carry (NaN and infinities are not)")
    return value


@app.command("import")
def import_command(
    articles: Annotated[Path | None, typer.Argument(
        help="Article records (JSONL, schemas/article.schema.json). Leave out to add --predictions to the tasks"
        " that have their ids (and import the others as new tasks).", dir_okay=False, readable=False,
        metavar="ARTICLES")] = None,
    *,
    project: ProjectOption,
    predictions: Annotated[Path | None, typer.Option(
        "--predictions", help="Pre-annotations: canonical documents (JSONL) with meta.model_version and meta.score"
        " (or a file or folder of the --from format).", readable=False)] = None,
    model_version: Annotated[str | None, typer.Option("--model-version", help="Model version for every prediction"
                                                      " (overrides meta.model_version).")] = None,
    score: Annotated[float | None, typer.Option("--score", help="Score for every prediction"
                                                " (overrides meta.score).", callback=_finite_score)] = None,
    batch_size: Annotated[int, typer.Option("--batch-size", min=1, help="Tasks per import request.")] = 500,
    from_format: Annotated[str | None, typer.Option(
        "--from", metavar="FORMAT", help="Read --predictions in this interchange format (see `convert`) instead of"
        " documents JSONL; without ARTICLES only.")] = None,
    format_options: Annotated[list[str] | None, typer.Option(
        "--option", metavar="KEY=VALUE", help="An option of the --from format (repeatable).")] = None,
    update_changed: Annotated[bool, typer.Option(
        "--update-changed", help="Replace the text of a task whose article's text changed, in place (same task"
        " id), moving its annotations' and predictions' spans onto the new text.")] = False,
    ontology: OntologyOption = None,
    credentials: CredentialsOption = None,
    as_json: JsonOption = False,
    quiet: QuietOption = False,
) -> None:
    """Import articles as tasks in batches; re-runs import only new articles (idempotent on article id).

    Predictions are checked against the article texts and by the validator's document checks
    before anything is uploaded; any error refuses the import (exit 1), warnings are reported. An
    interrupted import resumes on re-run. An article already imported whose text changed is left
    alone with an upload-text-changed warning; with --update-changed its task's text is replaced in
    place and each span of its annotations and predictions is moved onto the new text, or removed
    (upload-span-removed) when the edit touched it.

    Without ARTICLES, --predictions FILE adds each document as a prediction to the task with its id
    (data.article_id), once per model version (a re-run adds nothing, another --model-version adds
    another prediction), and imports a document with no task as a new task with its prediction. A
    document whose text differs from its task's text is skipped with a warning naming both.
    """
    from corpus_tools.labelstudio.importer import import_articles
    from corpus_tools.ontology import load_ontology

    if articles is None and predictions is None:
        raise typer.BadParameter("give ARTICLES to import, or --predictions FILE to add predictions to the"
                                 " project's tasks", param_hint="ARTICLES")
    if articles is not None and (from_format is not None or format_options):
        raise typer.BadParameter("--from and --option read --predictions when no ARTICLES are given",
                                 param_hint="--from")
    onto = load_ontology(ontology)
    client = _client(credentials)
    target = client.find_project(project)

    def on_batch(done: int, total: int) -> None:
        info(f"imported {done}/{total} tasks", quiet=quiet or as_json)

    if articles is None:
        assert predictions is not None
        _import_predictions(client, target, predictions, ontology=onto, model_version=model_version, score=score,
                            batch_size=batch_size, from_format=from_format, format_options=format_options or [],
                            on_batch=on_batch, as_json=as_json, quiet=quiet)
        return

    report = _checked_upload(
        lambda: import_articles(client, target, articles, ontology=onto, predictions_path=predictions,
                                model_version=model_version, score=score, batch_size=batch_size, on_batch=on_batch,
                                update_changed=update_changed),
        what="Import", as_json=as_json, quiet=quiet)
    if report is None:
        return
    stats = report.stats
    present = stats["already_present_ids"]
    shown = ", ".join(present[:10]) + (f", ... ({len(present) - 10} more)" if len(present) > 10 else "")
    info(f"Project {target.id}: imported {stats['imported']} tasks in {stats['batches']} batches"
         f" ({stats['predictions_imported']} with predictions); {stats['already_present']} already present"
         + (f": {shown}" if present else "") + ".", quiet=quiet)
    if stats["updated"]:
        tasks = ", ".join(f"{u['article_id']} (task {u['task_id']})" for u in stats["updated_tasks"])
        info(f"Updated the text of {stats['updated']} tasks whose article's text changed: {tasks}.", quiet=quiet)
    elif stats["text_changed"]:
        info(f"{stats['text_changed']} tasks have an article whose text changed and were left alone; run with"
             " --update-changed to replace their text.", quiet=quiet)


def _read_documents(path: Path, from_format: str, format_options: list[str]):
    """The documents of ``path`` read by an interchange format's reader, and the reader's report."""
    from corpus_tools.interop.format import Context
    from corpus_tools.interop.registry import get_format, reader_options

    fmt = get_format(from_format, "read")
    try:
        options = reader_options(fmt, format_options)
    except InputError as exc:  # a usage error, as in `convert`
        raise typer.BadParameter(str(exc), param_hint="--option") from exc
    assert fmt.reader is not None
    ctx = Context(options=options)
    return list(fmt.reader(path, ctx)), ctx.report


def _import_predictions(client, target, predictions: Path, *, ontology, model_version: str | None,
                        score: float | None, batch_size: int, from_format: str | None, format_options: list[str],
                        on_batch, as_json: bool, quiet: bool) -> None:
    from corpus_tools.labelstudio.importer import import_predictions

    documents, reading = None, None
    if from_format is not None:
        documents, reading = _read_documents(predictions, from_format, format_options)
        if not reading.valid:
            render_report(reading, as_json=as_json, quiet=quiet, title="Import refused")
            raise typer.Exit(1)

    def upload():
        report = import_predictions(client, target, predictions, ontology=ontology, documents=documents,
                                    model_version=model_version, score=score, batch_size=batch_size,
                                    on_batch=on_batch)
        if reading is None:
            return report
        from corpus_tools.report import Report

        merged = Report(stats=report.stats, warnings_per_code=report.warnings_per_code)
        merged.merge(reading)  # the reader's warnings first, with what it counted without keeping
        merged.merge(report)
        return merged

    report = _checked_upload(upload, what="Import", as_json=as_json, quiet=quiet)
    if report is None:
        return
    stats = report.stats

    def ids(key: str) -> str:
        shown = stats[key][:10]
        more = len(stats[key]) - len(shown)
        return (": " + ", ".join(shown) + (f", ... ({more} more)" if more else "")) if shown else ""

    version = f" (model version {model_version})" if model_version else ""
    info(f"Project {target.id}: added {stats['predictions_added']} predictions{version} to existing tasks"
         f"{ids('added_ids')}; imported {stats['tasks_imported']} new tasks with their predictions in"
         f" {stats['batches']} batches{ids('imported_ids')}; {stats['already_present']} already had a prediction"
         f" of this model version{ids('already_present_ids')}; {stats['text_differs']} skipped, their text differs"
         f" from their task's{ids('text_differs_ids')}.", quiet=quiet)


@app.command("annotate")
def annotate_command(
    documents: Annotated[Path, typer.Argument(help="Canonical documents (JSONL, schemas/document.schema.json) whose"
                                              " id is the article id of a task.", dir_okay=False,
                                              readable=False, metavar="DOCUMENTS")],
    project: ProjectOption,
    update: Annotated[bool, typer.Option("--update", help="Replace the result of this user's existing annotation"
                                         " instead of leaving annotated tasks alone.")] = False,
    ontology: OntologyOption = None,
    credentials: CredentialsOption = None,
    as_json: JsonOption = False,
    quiet: QuietOption = False,
) -> None:
    """Save canonical annotations as annotations of their tasks, as an annotator would.

    Each document is checked against the task's stored text and by the validator's document
    checks before anything is uploaded (any error: exit 1, nothing uploaded; warnings are
    reported). Idempotent: a task the key's user already annotated is left alone unless --update,
    which replaces that annotation's result.
    """
    from corpus_tools.labelstudio.annotator import annotate_documents
    from corpus_tools.ontology import load_ontology

    onto = load_ontology(ontology)
    client = _client(credentials)
    target = client.find_project(project)
    report = _checked_upload(lambda: annotate_documents(client, target, documents, ontology=onto, update=update),
                             what="Annotation", as_json=as_json, quiet=quiet)
    if report is None:
        return
    stats = report.stats
    info(f"Project {target.id}: {stats['created']} annotations created, {stats['updated']} updated,"
         f" {stats['already_annotated']} tasks already annotated by this user.", quiet=quiet)


@app.command("export")
def export_command(
    project: ProjectOption,
    out: Annotated[Path, typer.Option("--out", help="Where to write the JSON export (atomically).", dir_okay=False,
                                      readable=False)],
    credentials: CredentialsOption = None,
    as_json: JsonOption = False,
    quiet: QuietOption = False,
) -> None:
    """Write the project's full JSON export: every task (annotated or not), every annotator's annotations,
    full prediction objects and relations. Streamed to disk through a snapshot export."""
    from corpus_tools.labelstudio.snapshot import export_project

    client = _client(credentials)
    target = client.find_project(project)
    summary = export_project(client, target.id, out)
    if as_json:
        echo_json(summary.to_dict())
        return
    info(f"Exported project {target.id} to {out}: {summary.tasks} tasks ({summary.unannotated_tasks} unannotated),"
         f" {summary.annotations} annotations by {summary.annotators} annotators ({summary.cancelled_annotations}"
         f" cancelled), {summary.predictions} predictions, {summary.relations} relations in annotations.",
         quiet=quiet)
