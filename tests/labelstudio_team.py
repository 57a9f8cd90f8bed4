"""Pytest plugin: a team of annotator logins on the session's Label Studio, each with its own client.

Loaded from ``tests/conftest.py`` through ``pytest_plugins``.  Use the ``ls_team`` fixture (or call
:func:`make_team` with the ``ls_server`` fixture) in any test marked ``labelstudio``::

    @pytest.mark.labelstudio
    def test_two_annotators_disagree(ls_server, ls_project, ls_team):
        project = ls_project()
        task_ids = ls_server.client().import_tasks(project.id, [{"data": {"text": "..."}}])
        alice, bob = ls_team(2)
        alice.client.create_annotation(task_ids[0], [...])     # completed_by == alice.id
        bob.sdk().annotations.create(id=task_ids[0], result=[...])  # the raw SDK, as bob

Each :class:`Annotator` is a real login made with the toolkit's own
:func:`~corpus_tools.labelstudio.team.add_users` (Label Studio's invitation link): ``email``, ``id``,
``password`` (to log in, e.g. in a browser test), ``api_key`` (the user's own legacy token, from
:func:`~corpus_tools.labelstudio.team.user_api_key`), ``client`` (a connected
:class:`~corpus_tools.labelstudio.client.LabelStudioClient` acting as the user) and ``sdk()`` (a
``label_studio_sdk.LabelStudio`` acting as the user).  Members of the admin's organisation see every
project of it, so no per-project step is needed.  E-mails are unique within the session
(``annotator-<n>@example.org`` unless a ``prefix`` is given), so tests never share a login by accident.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

import pytest

_numbers = itertools.count(1)


@dataclass
class Annotator:
    """One annotator login on the test server and a client acting as them."""

    email: str
    id: int
    password: str = field(repr=False)
    api_key: str = field(repr=False)
    url: str
    client: object = field(repr=False)  # LabelStudioClient, connected with the user's own key

    def sdk(self):
        """A raw ``label_studio_sdk.LabelStudio`` acting as this annotator."""
        from label_studio_sdk import LabelStudio

        return LabelStudio(base_url=self.url, api_key=self.api_key)


def make_team(ls_server, n: int, *, prefix: str = "annotator") -> list[Annotator]:
    """``n`` new annotator logins on ``ls_server`` (unique e-mails), each with a client acting as them."""
    from corpus_tools.labelstudio.client import Connection, LabelStudioClient
    from corpus_tools.labelstudio.team import add_users, user_api_key

    emails = [f"{prefix}-{next(_numbers)}@example.org" for _ in range(n)]
    team = []
    for user in add_users(ls_server.client(), emails):
        assert user.created and user.password, f"{user.email} existed already"
        key = user_api_key(ls_server.url, user.email, user.password)
        client = LabelStudioClient.connect(Connection(ls_server.url, key, f"annotator {user.email}"))
        team.append(Annotator(user.email, user.id, user.password, key, ls_server.url, client))
    return team


@pytest.fixture
def ls_team(ls_server):
    """A factory ``ls_team(n, prefix="annotator") -> list[Annotator]`` of new logins on the session server."""

    def make(n: int, *, prefix: str = "annotator") -> list[Annotator]:
        return make_team(ls_server, n, prefix=prefix)

    return make
