"""The collector: validates, enriches and durably stores events in DuckDB (see README)."""
