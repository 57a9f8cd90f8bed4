"""``corpus-tools demo``: the whole chain on the bundled sample corpus (what ``make demo`` runs).

Every step runs the real ``corpus-tools`` command in a subprocess, printed first as a maintainer
would type it, against a local Label Studio started for the demo and the local release target.
A few steps go through the library instead of a command: reading the published releases back with
``datasets.load_dataset`` (as an ML team would) and checking what they hold (v1.1.0 differs from v1.0.0
exactly in the document the demo changed; the adjudicated v1.2.0 has v1.0.0's spans; the tasks pre-annotated
from brat carry v1.2.0's spans and relations), and logging in as the second annotator to get their API key
(what the annotator would copy from their account page), which is never printed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Annotated

import typer

from corpus_tools.cli._common import err_console
from corpus_tools.errors import CorpusToolsError
from corpus_tools.files import remove_tree

PROJECT = "Arabic news sample"
NAME = "arabic-news-sample"
DATASET_NAME = f"corpus-tools/{NAME}"
CONFIGS = ("documents", "tokens", "relations", "annotations")
# The sample has 11 documents: the default 80/10/10 leaves its validation split empty (the split is a function of
# each document id), so the demo's first release asks for 60/20/20, which gives every split a document.
RATIOS = "train=60,validation=20,test=20"
# A normalised view (docs/views.md): the configs documents-plain and tokens-plain, with the offset map back
VIEW = "plain=tatweel,diacritics,alef,alef-maqsura"
BRAT_PROJECT = "Arabic news sample (from brat)"
REVIEWER = "reviewer@example.org"  # the second annotator of step 8
DEMO_MARK = ".corpus-tools-demo"  # in every folder the demo makes: a later run removes only folders with it


class DemoFailed(CorpusToolsError):
    """A demo step did not do what it should."""


def _step(number: int, title: str) -> None:
    err_console.print(f"\n[bold cyan]Step {number}[/]: {title}", highlight=False)


def _run(args: list[str], *, env: dict[str, str], capture: bool = False) -> str:
    shown = " ".join(a if " " not in a else repr(a) for a in args)
    err_console.print(f"[dim]$ corpus-tools {shown}[/]", highlight=False)
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-m", "corpus_tools", *args], env=env, text=True,
        stdout=subprocess.PIPE if capture else None, stdin=subprocess.DEVNULL,
    )
    if result.returncode != 0:
        raise DemoFailed(f"`corpus-tools {shown}` exited with {result.returncode}")
    err_console.print(f"[dim]  ({time.monotonic() - started:.1f} s)[/]", highlight=False)
    return result.stdout or ""


def _previous_run(path: Path, option: str) -> Path | None:
    """``path`` when it is a folder an earlier demo run made (and may be removed), None when it does not exist;
    anything else there is refused: the demo removes only what it made."""
    if not path.exists() and not path.is_symlink():
        return None
    if path.is_symlink() or not path.is_dir() or not (path / DEMO_MARK).is_file():
        raise DemoFailed(f"{path} exists and was not made by the demo (it has no {DEMO_MARK} file); the demo removes"
                         f" only the folders it made: choose another {option} or remove {path} yourself")
    return path


def _make_folder(path: Path) -> None:
    """Create a demo folder with the mark that lets the next demo run remove it."""
    try:
        path.mkdir(parents=True)
        (path / DEMO_MARK).write_text("Made by `corpus-tools demo`, which removes this folder when it runs again.\n",
                                      encoding="utf-8")
    except OSError as exc:
        raise DemoFailed(f"cannot create {path}: {exc.strerror or exc}") from exc


def _change_one_annotation(documents: Path, out: Path) -> dict[str, str]:
    """Relabel one span that no relation touches (GPE <-> LOC) in one document; write that document."""
    for line in documents.read_text(encoding="utf-8").splitlines():
        doc = json.loads(line)
        in_relations = {r["head"] for r in doc["relations"]} | {r["tail"] for r in doc["relations"]}
        for entity in doc["entities"]:
            if entity["id"] not in in_relations and entity["label"] in ("GPE", "LOC"):
                old = entity["label"]
                entity["label"] = "LOC" if old == "GPE" else "GPE"
                out.write_text(json.dumps(doc, ensure_ascii=False) + "\n", encoding="utf-8")
                return {"document": doc["id"], "entity": entity["id"], "text": entity["text"], "old": old,
                        "new": entity["label"]}
    raise DemoFailed("no span outside relations to relabel in the sample annotations")


def _summarise(release: Path, *, quiet: bool = False) -> dict[str, dict]:
    """Load every config of a published release with datasets and summarise it (``quiet``: check it only)."""
    from datasets import load_dataset
    from datasets.utils.logging import disable_progress_bar

    disable_progress_bar()
    summary: dict[str, dict] = {}
    for config in CONFIGS:
        ds = load_dataset(str(release), config)
        summary[config] = {split: ds[split] for split in ds}
    docs = summary["documents"]
    label_names = next(iter(docs.values())).features["entities"].feature["label"].names
    relation_names = next(iter(docs.values())).features["relations"].feature["label"].names
    entities: Counter[str] = Counter()
    relations: Counter[str] = Counter()
    for split in docs.values():
        for row in split:
            entities.update(label_names[e["label"]] for e in row["entities"])
            relations.update(relation_names[r["label"]] for r in row["relations"])
            for e in row["entities"]:  # the offset invariant, checked on what ML teams load
                if row["text"][e["start"]:e["end"]] != e["text"]:
                    raise DemoFailed(f"entity {e['id']} of {row['id']} does not match its text after loading")
    _show_view(release, docs, quiet=quiet)
    if quiet:
        return summary
    err_console.print("  documents per split: " + ", ".join(f"{s}={len(d)}" for s, d in docs.items()))
    err_console.print("  entities per label: " + ", ".join(f"{k}={v}" for k, v in sorted(entities.items())))
    err_console.print("  relations per label: " + ", ".join(f"{k}={v}" for k, v in sorted(relations.items())))
    for config in CONFIGS[1:]:
        err_console.print(f"  {config}: " + ", ".join(f"{s}={len(d)}" for s, d in summary[config].items()))
    return summary


def _show_view(release: Path, docs: dict, *, quiet: bool = False) -> None:
    """Load the view's documents config and map one of its entities back to the original text, as a model's
    prediction on the view would be (``normalise(text, steps).span_to_original``)."""
    from datasets import load_dataset

    from corpus_tools.views import normalise, parse_view

    spec = parse_view(VIEW)
    viewed = load_dataset(str(release), f"documents-{spec.name}")
    shown = quiet
    for split, rows in viewed.items():
        for original, row in zip(docs[split], rows, strict=True):
            view = normalise(original["text"], spec.steps)
            if view.text != row["text"]:
                raise DemoFailed(f"the {spec.name} view of {row['id']} is not its text normalised")
            kept = {e["id"]: e for e in original["entities"]}
            for entity in row["entities"]:
                start, end = view.span_to_original(entity["start"], entity["end"])
                source = kept[entity["id"]]
                if (start, end) != (source["start"], source["end"]):
                    raise DemoFailed(f"entity {entity['id']} of {row['id']} does not map back to its offsets")
                if not shown and entity["text"] != source["text"]:
                    shown = True
                    err_console.print(f"  documents-{spec.name}: {entity['text']!r} at {entity['start']}:"
                                      f"{entity['end']} maps back to {source['text']!r} at {start}:{end}",
                                      highlight=False)


def _rows_by_id(summary: dict[str, dict]) -> dict[str, dict]:
    """The documents rows of a release by id, their span and relation labels as names."""
    splits = summary["documents"].values()
    features = next(iter(splits)).features
    names = {key: features[key].feature["label"].names for key in ("entities", "relations")}
    rows = {}
    for split in splits:
        for row in split:
            for key, labels in names.items():
                row[key] = [{**item, "label": labels[item["label"]]} for item in row[key]]
            rows[row["id"]] = row
    return rows


def _annotations_of(row: dict) -> tuple[set[tuple], set[tuple]]:
    """The spans (start, end, label) and relations (head span, tail span, label) of a documents row, whatever
    the ids of its spans (adjudication and interchange formats give spans ids of their own)."""
    spans = {e["id"]: (e["start"], e["end"], e["label"]) for e in row["entities"]}
    return set(spans.values()), {(spans[r["head"]], spans[r["tail"]], r["label"]) for r in row["relations"]}


def _same_spans(before: dict[str, dict], after: dict[str, dict], first: str, second: str) -> None:
    """Fail unless every document of two releases has the same spans and relations."""
    differing = sorted(i for i in before.keys() | after.keys()
                       if i not in before or i not in after or _annotations_of(before[i]) != _annotations_of(after[i]))
    if differing:
        raise DemoFailed(f"{second} should have the spans and relations of {first}; these documents differ: "
                         + ", ".join(differing))


def _reviewer(workdir: Path, url: str, creds: list[str], env: dict[str, str]) -> dict[str, str]:
    """Make the second annotator's login (``ls users add``) and the environment that acts as them: their own API
    key, from logging in with the new password (``LABEL_STUDIO_API_KEY`` takes precedence over credentials)."""
    from corpus_tools.labelstudio.team import read_password_file, user_api_key

    passwords = workdir / "passwords.json"
    _run(["ls", "users", "add", REVIEWER, "--password-file", str(passwords), *creds], env=env)
    key = user_api_key(url, REVIEWER, read_password_file(passwords, url)[REVIEWER])
    err_console.print(f"  {REVIEWER} logs in; the next command runs with their own API key", highlight=False)
    return {**env, "LABEL_STUDIO_URL": url, "LABEL_STUDIO_API_KEY": key}


def _same_predictions(export: Path, rows: dict[str, dict]) -> tuple[int, int]:
    """Check that each task of an export has one prediction with the spans and relations of the release row of
    its article id; the numbers of spans and relations compared."""
    with open(export, encoding="utf-8") as f:
        tasks = json.load(f)
    found = {}
    for task in tasks:
        predictions = task.get("predictions") or []
        if len(predictions) != 1:
            raise DemoFailed(f"task {task['id']} should have one prediction, not {len(predictions)}")
        spans: dict[str, tuple] = {}
        relations = set()
        for item in predictions[0]["result"]:
            if item["type"] == "labels":
                value = item["value"]
                spans[item["id"]] = (value["start"], value["end"], value["labels"][0])
            elif item["type"] == "relation":
                ends = (item["from_id"], item["to_id"])
                head, tail = ends[::-1] if item.get("direction") == "left" else ends
                relations.add((head, tail, item["labels"][0]))
        found[task["data"]["article_id"]] = (spans, relations)
    if found.keys() != rows.keys():
        raise DemoFailed(f"the brat project's tasks are {sorted(found)}, not the release's {sorted(rows)}")
    counts = [0, 0]
    for doc_id, (spans, relations) in found.items():
        expected_spans, expected_relations = _annotations_of(rows[doc_id])
        got_relations = {(spans[head], spans[tail], label) for head, tail, label in relations}
        if set(spans.values()) != expected_spans or got_relations != expected_relations:
            raise DemoFailed(f"the pre-annotation of {doc_id} does not have the spans and relations of v1.2.0")
        counts[0] += len(spans)
        counts[1] += len(relations)
    return counts[0], counts[1]


def demo(workdir: Path, releases: Path, port: int, keep: bool) -> None:
    from corpus_tools.labelstudio import server as srv

    repo = Path(__file__).resolve().parents[2]
    sample = Path(os.path.relpath(repo / "annotations" / "sample"))
    if not (sample / "documents.jsonl").exists():
        raise DemoFailed(f"the sample corpus is missing: {sample}")
    target = releases / NAME
    ls_dir = workdir / "labelstudio"
    previous = [_previous_run(workdir, "--workdir"), _previous_run(target, "--releases")]
    if previous[0] is not None and srv.read_pid_file(ls_dir):
        srv.stop_server(ls_dir)
    for old in previous:
        if old is not None:
            err_console.print(f"Removing the previous demo run's {old}", highlight=False)
            remove_tree(old)
    _make_folder(workdir)
    _make_folder(target)
    _step(1, f"virtualenv ready: {sys.prefix}")
    env = {k: v for k, v in os.environ.items() if not k.startswith("LABEL_STUDIO_")}
    creds = ["--credentials", str(ls_dir / srv.CREDENTIALS_FILE)]
    if not srv.port_is_free(port):
        port = srv.free_port()
    started = False
    try:
        _step(2, "start a local Label Studio and set up the project from the ontology")
        _run(["ls", "up", "--detach", "--port", str(port), "--data-dir", str(ls_dir)], env=env)
        started = True
        _run(["ls", "setup", "--project", PROJECT, *creds], env=env)

        _step(3, "ingest the sample articles and import them as tasks")
        articles = workdir / "articles.jsonl"
        _run(["ingest", str(sample / "articles"), "--out", str(articles)], env=env)
        _run(["ls", "import", str(articles), "--project", PROJECT, *creds], env=env)
        _run(["ls", "import", str(articles), "--project", PROJECT, *creds], env=env)  # idempotent: adds nothing

        _step(4, "apply the sample annotations through the Label Studio API, as an annotator would")
        _run(["ls", "annotate", str(sample / "documents.jsonl"), "--project", PROJECT, *creds], env=env)

        _step(5, "export, validate, build v1.0.0 and publish it to the local release folder")
        export1, build1 = workdir / "export-1.json", workdir / "build" / "v1.0.0"
        _run(["ls", "export", "--project", PROJECT, "--out", str(export1), *creds], env=env)
        _run(["validate", str(export1)], env=env)
        _run(["build", str(export1), "--version", "1.0.0", "--out", str(build1), "--name", DATASET_NAME,
              "--ratios", RATIOS, "--view", VIEW], env=env)
        _run(["publish", str(build1), "--to", str(target)], env=env)

        _step(6, "load every config with datasets.load_dataset; map a span of the normalised view back")
        v1 = _summarise(target / "v1.0.0")
        if empty := [split for split in ("train", "validation", "test") if split not in v1["documents"]]:
            raise DemoFailed(f"v1.0.0 has no {', '.join(empty)} split")
        err_console.print(f'  load_dataset("{target / "v1.0.0"}", "documents")', highlight=False)

        _step(7, "change one annotation in Label Studio, build v1.1.0 with the previous splits, publish, diff")
        changed = workdir / "changed.jsonl"
        change = _change_one_annotation(sample / "documents.jsonl", changed)
        err_console.print(f"  relabel {change['text']!r} ({change['entity']}) in document {change['document']}:"
                          f" {change['old']} -> {change['new']}", highlight=False)
        _run(["ls", "annotate", str(changed), "--project", PROJECT, "--update", *creds], env=env)
        export2, build2 = workdir / "export-2.json", workdir / "build" / "v1.1.0"
        _run(["ls", "export", "--project", PROJECT, "--out", str(export2), *creds], env=env)
        _run(["build", str(export2), "--version", "1.1.0", "--out", str(build2), "--name", DATASET_NAME,
              "--previous", str(build1), "--view", VIEW], env=env)
        _run(["publish", str(build2), "--to", str(target)], env=env)
        _run(["diff", f"{target}@v1.0.0", f"{target}@v1.1.0"], env=env)
        _run(["releases", str(target)], env=env)
        v2 = _summarise(target / "v1.1.0")
        rows1, rows2 = _rows_by_id(v1), _rows_by_id(v2)
        differing = sorted(i for i in rows1.keys() | rows2.keys() if rows1.get(i) != rows2.get(i))
        if differing != [change["document"]]:
            raise DemoFailed(f"v1.1.0 should differ from v1.0.0 in {change['document']} only, not in {differing}")
        err_console.print(f"  v1.0.0 and v1.1.0 differ in exactly one document: {change['document']}")

        _step(8, "a second annotator labels the same articles: agreement, adjudication, build v1.2.0")
        url = srv.read_credentials(ls_dir / srv.CREDENTIALS_FILE).url
        reviewer_env = _reviewer(workdir, url, creds, env)
        _run(["ls", "annotate", str(sample / "documents.jsonl"), "--project", PROJECT], env=reviewer_env)
        export3 = workdir / "export-3.json"
        _run(["ls", "export", "--project", PROJECT, "--out", str(export3), *creds], env=env)
        _run(["agree", str(export3)], env=env)
        # the two agree on every task but the one relabelled in step 7: a majority (both) settles the others,
        # and the conflict goes to the reviewer's reading
        _run(["adjudicate", "--project", PROJECT, *creds], env=env)
        _run(["adjudicate", "--project", PROJECT, "--policy", f"prefer:{REVIEWER}", *creds], env=env)
        export4, build3 = workdir / "export-4.json", workdir / "build" / "v1.2.0"
        _run(["ls", "export", "--project", PROJECT, "--out", str(export4), *creds], env=env)
        _run(["build", str(export4), "--version", "1.2.0", "--out", str(build3), "--name", DATASET_NAME,
              "--previous", str(build2), "--view", VIEW], env=env)
        _run(["publish", str(build3), "--to", str(target)], env=env)
        v3 = _summarise(target / "v1.2.0", quiet=True)
        rows3 = _rows_by_id(v3)
        _same_spans(rows1, rows3, "v1.0.0", "v1.2.0 (adjudicated)")
        err_console.print(f"  v1.2.0, adjudicated, has the spans of v1.0.0 again: {change['text']!r} is"
                          f" {change['old']} in {change['document']}", highlight=False)

        _step(9, "out to CoNLL and brat, and brat back in as pre-annotations of a new project")
        interop = workdir / "interop"
        interop.mkdir()
        _run(["convert", str(target / "v1.2.0"), "--from", "release", "--to", "conll",
              "--out", str(interop / "v1.2.0.conll")], env=env)
        _run(["convert", str(target / "v1.2.0"), "--from", "release", "--to", "brat",
              "--out", str(interop / "brat")], env=env)
        _run(["ls", "setup", "--project", BRAT_PROJECT, *creds], env=env)
        _run(["ls", "import", "--project", BRAT_PROJECT, "--predictions", str(interop / "brat"), "--from", "brat",
              "--model-version", "brat-v1.2.0", *creds], env=env)
        export5 = workdir / "export-brat.json"
        _run(["ls", "export", "--project", BRAT_PROJECT, "--out", str(export5), *creds], env=env)
        spans, relations = _same_predictions(export5, rows3)
        err_console.print(f"  {len(rows3)} tasks pre-annotated from brat: {spans} spans and {relations} relations,"
                          " each as in v1.2.0", highlight=False)

        err_console.print("\nLoad a release with:", highlight=False)
        err_console.print(f'  load_dataset("{target / "v1.2.0"}", "documents")', highlight=False)
        err_console.print('  (on the Hub: load_dataset("ORG/NAME", "documents", revision="v1.2.0"))', highlight=False)
    finally:
        if started and not keep:
            _step(10, "stop the server")
            _run(["ls", "down", "--data-dir", str(ls_dir)], env=env)
    if keep:
        creds_data = srv.read_credentials(ls_dir / srv.CREDENTIALS_FILE)
        err_console.print(f"\nLabel Studio keeps running at {creds_data.url}; log in as {creds_data.email} with the"
                          f" password in {ls_dir / srv.CREDENTIALS_FILE}. Stop it with"
                          f" `corpus-tools ls down --data-dir {ls_dir}`.", highlight=False)
    err_console.print("\n[bold green]Demo finished.[/]")


def register(app: typer.Typer) -> None:
    @app.command("demo")
    def demo_command(
        workdir: Annotated[Path, typer.Option("--workdir", help="Scratch folder for the demo run (recreated).",
                                              file_okay=False)] = Path(".demo"),
        releases: Annotated[Path, typer.Option("--releases", help="Local release target folder.", file_okay=False)]
        = Path("releases"),
        port: Annotated[int, typer.Option("--port", help="Port for Label Studio (a free one if busy).", min=1,
                                          max=65535)] = 8080,
        keep: Annotated[bool, typer.Option("--keep", help="Leave Label Studio running and print its login.")] = False,
    ) -> None:
        """Run the whole chain on the bundled sample corpus (what `make demo` runs).

        Starts a local Label Studio, sets up the project, ingests and imports the sample articles,
        applies the sample annotations through the API, exports, validates, builds (with a
        normalised view) and publishes v1.0.0 to the local release folder, loads every config with
        datasets, maps a span of the view back to the original text, changes one annotation, builds
        and publishes v1.1.0 with the same splits, prints the diff; then a second annotator (a new
        login) labels the same articles, agreement is measured, the tasks are adjudicated in Label
        Studio and v1.2.0 is built from the ground truth; v1.2.0 goes out to CoNLL and brat, the brat
        folder comes back in as pre-annotations of a new project; and the server is stopped (unless
        --keep). The previous demo run's folders are removed first: only folders
        the demo made (they hold a .corpus-tools-demo file); anything else at --workdir or
        --releases/arabic-news-sample is refused (exit 3) and left as it is.
        """
        demo(workdir, releases, port, keep)
