"""Run :func:`corpus_tools.validate.driver.validate_export` in a child process for the build.

``python -m corpus_tools.validate.worker`` reads a pickled ``(path, ontology)`` from stdin and
writes a pickled ``("ok", Report)`` or ``("error", exception)`` to stdout.  A plain subprocess is
used rather than ``multiprocessing``: its spawn start method re-imports the caller's main script,
which breaks library users whose scripts have no ``if __name__ == "__main__"`` guard.
"""

from __future__ import annotations

import pickle
import sys


def main() -> None:
    path, ontology = pickle.load(sys.stdin.buffer)
    try:
        from corpus_tools.validate.driver import validate_export

        result = ("ok", validate_export(path, ontology=ontology, max_errors=None))
    except Exception as exc:  # noqa: BLE001 - handed back to the parent, which re-raises it
        result = ("error", exc)
    sys.stdout.buffer.write(pickle.dumps(result, protocol=pickle.HIGHEST_PROTOCOL))
    sys.stdout.buffer.flush()


if __name__ == "__main__":
    main()
