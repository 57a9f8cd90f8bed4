"""The full JSON export of a project, streamed to disk, and its summary.

Label Studio's quick export drops unannotated tasks and lists predictions by id only, and it
builds the whole answer in one request.  :func:`export_project` uses a snapshot export instead
(all tasks, every annotator, full prediction objects, relations), streams the bytes to a
temporary file next to the target and renames it once :func:`summarize_export` has counted tasks,
annotations and predictions in it with a streaming parser (so client memory does not grow with the
project, and an answer that is not an export never replaces the target).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

from corpus_tools.errors import InputError
from corpus_tools.labelstudio.client import LabelStudioClient
from corpus_tools.strictjson import LoneSurrogateEscape, StrictReader, TooDeep


@dataclass
class ExportSummary:
    path: str
    project_id: int
    tasks: int = 0
    unannotated_tasks: int = 0
    annotations: int = 0
    cancelled_annotations: int = 0
    predictions: int = 0
    relations: int = 0
    annotators: int = 0
    bytes: int = 0
    seconds: float = 0.0

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


def summarize_export(path: Path, project_id: int = 0) -> ExportSummary:
    """Counts over a Label Studio JSON export, read as a stream."""
    import ijson

    summary = ExportSummary(path=str(path), project_id=project_id)
    annotators: set[object] = set()
    try:
        with open(path, "rb") as fh:
            for task in ijson.items(StrictReader(fh), "item", use_float=True):
                summary.tasks += 1
                annotations = task.get("annotations") or []
                summary.unannotated_tasks += not annotations
                for ann in annotations:
                    summary.annotations += 1
                    summary.cancelled_annotations += bool(ann.get("was_cancelled"))
                    who = ann.get("completed_by")
                    annotators.add(who.get("email") or who.get("id") if isinstance(who, dict) else who)
                    summary.relations += sum(1 for r in ann.get("result") or [] if r.get("type") == "relation")
                summary.predictions += len(task.get("predictions") or [])
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror or exc}") from exc
    except (ijson.JSONError, TooDeep, LoneSurrogateEscape, UnicodeDecodeError) as exc:
        raise InputError(f"{path} is not a Label Studio JSON export ({exc})") from exc
    summary.annotators = len(annotators)
    summary.bytes = path.stat().st_size
    return summary


def export_project(client: LabelStudioClient, project_id: int, out: Path, *, timeout: float = 3600) -> ExportSummary:
    """Write the project's full JSON export to ``out`` atomically and summarise it.

    The download is summarised before it replaces ``out``: an answer that is not a JSON export raises
    :class:`InputError` and leaves ``out`` as it was."""
    summaries: list[ExportSummary] = []

    def check(downloaded: Path) -> None:
        try:
            summaries.append(summarize_export(downloaded, project_id))
        except InputError as exc:
            raise InputError(f"{out} was not written: {exc}".replace(str(downloaded), "the download")) from exc

    result = client.export_snapshot(project_id, out, timeout=timeout, check=check)
    (summary,) = summaries
    summary.path = str(out)
    summary.seconds = round(result.seconds, 3)
    return summary
