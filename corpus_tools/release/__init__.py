"""The release folder as a contract: manifest, splits, card, checks, diff."""
