"""Label Studio: pure task/result conversion (tasks.py, export.py) and a thin SDK adapter."""
