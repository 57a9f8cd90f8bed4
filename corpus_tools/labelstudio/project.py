"""A Label Studio project kept in step with the ontology.

:func:`setup_project` creates the project with the labeling config generated from the ontology
(and short annotator instructions from its glossary), or updates it when the ontology changed.
A change that removes a label still used by an annotation or a prediction is refused with
:class:`~corpus_tools.errors.ConfigChangeRefused` naming the labels, because Label Studio would
keep those results but could no longer show or edit them.
"""

from __future__ import annotations

import tempfile
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from corpus_tools.artefacts import (
    ontology_to_instructions,  # the project instructions annotators see
    ontology_to_labelstudio_config,
)
from corpus_tools.errors import ConfigChangeRefused, LabelStudioError
from corpus_tools.labelstudio.client import LabelStudioClient, ProjectInfo
from corpus_tools.ontology import Ontology
from corpus_tools.strictjson import LoneSurrogateEscape, StrictReader, TooDeep

SetupAction = Literal["created", "updated", "unchanged"]
MIN_TITLE, MAX_TITLE = 3, 50  # Label Studio's limits


def config_labels(label_config: str) -> set[str]:
    """Every ``Label`` and ``Relation`` value of a labeling config."""
    try:
        root = ET.fromstring(label_config)
    except ET.ParseError:
        return set()
    return {el.get("value", "") for el in root.iter() if el.tag in ("Label", "Relation") and el.get("value")}


def labels_in_use(client: LabelStudioClient, project_id: int) -> dict[str, int]:
    """How many annotation/prediction results use each label (from a full snapshot export, streamed)."""
    import ijson

    from corpus_tools.labelstudio.checks import labels_used

    counts: dict[str, int] = {}
    with tempfile.TemporaryDirectory(prefix="corpus-tools-labels-") as tmp:
        path = Path(tmp) / "export.json"
        client.export_snapshot(project_id, path)
        try:
            with open(path, "rb") as fh:  # a project's tasks can hold any JSON its importer sent: depth-limited
                for task in ijson.items(StrictReader(fh), "item"):
                    for kind in ("annotations", "predictions"):
                        for record in task.get(kind) or []:
                            if isinstance(record, dict):
                                for label in labels_used(record.get("result") or []):
                                    counts[label] = counts.get(label, 0) + 1
        except (ijson.JSONError, TooDeep, LoneSurrogateEscape, UnicodeDecodeError) as exc:
            raise LabelStudioError(f"cannot read the export of project {project_id}: {exc}") from exc
    return counts


@dataclass(frozen=True)
class SetupResult:
    project: ProjectInfo
    action: SetupAction
    added_labels: tuple[str, ...] = ()
    removed_labels: tuple[str, ...] = ()


def _same(a: str, b: str) -> bool:
    return a.strip() == b.strip()


def setup_project(client: LabelStudioClient, title: str, ontology: Ontology, *, project_id: int | None = None,
                  ) -> SetupResult:
    """Create the project titled ``title`` (or with id ``project_id``), or bring it up to date.

    The title is stripped of the spaces around it, as Label Studio stores it, so that a second run finds the
    project the first one made."""
    title = title.strip()
    if not MIN_TITLE <= len(title) <= MAX_TITLE:
        raise LabelStudioError(f"project title {title!r} has {len(title)} characters; Label Studio needs"
                               f" {MIN_TITLE} to {MAX_TITLE}")
    config = ontology_to_labelstudio_config(ontology)
    instructions = ontology_to_instructions(ontology)
    if project_id is not None:
        existing = [client.get_project(project_id)]
    else:
        existing = client.find_projects(title)
    if not existing:
        project = client.create_project(title, config, expert_instruction=instructions)
        return SetupResult(project, "created", tuple(sorted(config_labels(config))))
    if len(existing) > 1:
        ids = ", ".join(str(p.id) for p in existing)
        raise LabelStudioError(f"{len(existing)} projects are titled {title!r} (ids {ids}); pass --project-id")
    project = existing[0]
    if _same(project.label_config, config) and _same(project.expert_instruction, instructions):
        return SetupResult(project, "unchanged")
    old, new = config_labels(project.label_config), config_labels(config)
    added, removed = tuple(sorted(new - old)), tuple(sorted(old - new))
    if removed and project.task_number:
        used = labels_in_use(client, project.id)
        orphaned = {label: used[label] for label in removed if used.get(label)}
        if orphaned:
            listing = ", ".join(f"{label} ({n} results)" for label, n in sorted(orphaned.items()))
            raise ConfigChangeRefused(
                f"the new ontology removes labels still used in project {project.id}: {listing}; relabel or delete"
                " those annotations and predictions first, or keep the labels in the ontology"
            )
    updated = client.update_project(
        project.id,
        label_config=None if _same(project.label_config, config) else config,
        expert_instruction=instructions,
    )
    return SetupResult(updated, "updated", added, removed)
