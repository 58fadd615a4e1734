"""webleads-tracker: self-hosted lead attribution (snippet, collector, analytics)."""

__version__ = "0.1.0"
