"""Build a release folder from a validated export: gold, splits, rows of every config, shards."""
