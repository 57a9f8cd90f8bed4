"""The package version (read by the build backend too: one place to change it)."""

__version__ = "0.1.0"
