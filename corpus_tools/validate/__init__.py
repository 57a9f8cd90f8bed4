"""Validate Label Studio exports and document JSONL: the streaming driver over the core rules."""
