"""One exception tree for failures to run.

Problems found *in data* are never exceptions: they are :class:`corpus_tools.report.Problem`
records.  Exceptions mean the toolkit could not do its job (missing file, server down, bad
ontology, refused publish).  Foreign errors are converted where the foreign call is made,
with ``raise ... from exc``; the CLI maps every :class:`CorpusToolsError` to one
``Error: ...`` line on stderr and exit code 3.

::

    CorpusToolsError
    ├── OntologyError          the ontology file is missing, unreadable or invalid
    ├── SchemaError            a bundled JSON Schema is missing or invalid
    ├── InputError             an input file cannot be read or parsed at all
    ├── OutputError            an output file or folder (or the working stores in TMPDIR) cannot be written
    ├── LabelStudioError       talking to Label Studio failed
    │   ├── ConnectionFailed   no server at the URL
    │   ├── AuthenticationFailed   the API key was refused
    │   ├── ProjectNotFound    no project with that title or id
    │   └── ConfigChangeRefused    an ontology change would orphan annotations
    ├── ServerSetupError       the local Label Studio could not be installed or started
    ├── InvalidDataError       a stage refused data that failed validation (carries the Report)
    ├── BuildError             a build could not run to its end (a worker process died)
    ├── ReleaseError           a release folder is missing, malformed or failed its checks
    └── PublishError           publishing failed
        ├── VersionExists      the version is already published
        ├── VersionNotIncreasing   the version is not above the latest one
        ├── StaleParent        someone published meanwhile
        ├── VerificationFailed the published files differ from the manifest (carries the Report)
        └── PublishUnverified  the version IS published (tagged), but reading it back to check it failed
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from corpus_tools.report import Report


class CorpusToolsError(Exception):
    """Base of every failure to run."""


class OntologyError(CorpusToolsError):
    """The ontology is missing or invalid; ``report`` lists each located problem."""

    def __init__(self, message: str, report: Report | None = None) -> None:
        super().__init__(message)
        self.report = report


class SchemaError(CorpusToolsError):
    """A bundled JSON Schema is missing or invalid."""


class InputError(CorpusToolsError):
    """An input cannot be read at all (missing file, unreadable directory)."""


class OutputError(CorpusToolsError):
    """An output file or folder cannot be written (permissions, full disk)."""


class LabelStudioError(CorpusToolsError):
    """Talking to Label Studio failed."""


class ConnectionFailed(LabelStudioError):
    """No Label Studio answered at the URL."""


class AuthenticationFailed(LabelStudioError):
    """Label Studio refused the API key."""


class ProjectNotFound(LabelStudioError):
    """No project with that title or id."""


class ConfigChangeRefused(LabelStudioError):
    """An ontology change would orphan existing annotations."""


class ServerSetupError(CorpusToolsError):
    """The local Label Studio could not be installed, started or stopped."""


class InvalidDataError(CorpusToolsError):
    """A stage refused input that failed validation; ``report`` says why."""

    def __init__(self, message: str, report: Report | None = None) -> None:
        super().__init__(message)
        self.report = report


class BuildError(CorpusToolsError):
    """A build could not run to its end (for instance, a worker process was killed); nothing was written."""


class ReleaseError(CorpusToolsError):
    """A release folder is missing, malformed or failed its checks."""

    def __init__(self, message: str, report: Report | None = None) -> None:
        super().__init__(message)
        self.report = report


class PublishError(CorpusToolsError):
    """Publishing a release failed."""


class VersionExists(PublishError):
    """The version is already published; published versions never change."""


class VersionNotIncreasing(PublishError):
    """The version is not above the latest published one."""


class StaleParent(PublishError):
    """The target moved since the publish started (someone published meanwhile)."""


class VerificationFailed(PublishError):
    """The files read back from the target differ from the release manifest; ``report`` says which."""

    def __init__(self, message: str, report: Report | None = None) -> None:
        super().__init__(message)
        self.report = report


class PublishUnverified(PublishError):
    """The version IS published (the Hub tag exists), but reading it back to check it failed; the message says what
    could not be verified and how to check.  ``report`` lists differing files when they were read."""

    def __init__(self, message: str, report: Report | None = None) -> None:
        super().__init__(message)
        self.report = report
