"""The ``corpus-tools`` command: a thin Typer layer over the library functions."""
