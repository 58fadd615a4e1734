"""GA4 default channel group (sql/macros.sql).

install(conn) defines the DuckDB macro `wl_channel(source, medium, campaign, category)` on a
connection; sessions use it when they are built. channel() evaluates the same macro for one input (the
classification table of tests/analytics/test_channels.py goes through it).

CHANNELS lists the names GA4 uses, in rule order, with our one addition (Offline: printed links and QR
codes); reports sort by credit, never by this order.
"""

from __future__ import annotations

import duckdb

from .queries import sql
from .referrers import source_category

CHANNELS = ("Direct", "Offline", "Cross-network", "Paid Shopping", "Paid Search", "Paid Social", "Paid Video",
            "Display", "Paid Other", "Organic Shopping", "Organic Social", "Organic Video", "Organic Search",
            "Referral", "Email", "Affiliates", "Audio", "SMS", "Mobile Push Notifications", "Unassigned")


def install(conn: duckdb.DuckDBPyConnection) -> None:
    conn.execute(sql("macros"))


def channel(source: str, medium: str, campaign: str = "(not set)", category: str | None = None,
            conn: duckdb.DuckDBPyConnection | None = None) -> str:
    """The GA4 channel of one (source, medium, campaign); the category defaults to the source's own."""
    own = conn is None
    conn = conn or duckdb.connect()
    try:
        if own:
            install(conn)
        cat = category if category is not None else source_category(source)
        row = conn.execute("SELECT wl_channel($s, $m, $c, $cat)",
                           {"s": source, "m": medium, "c": campaign, "cat": cat}).fetchone()
        assert row is not None
        return str(row[0])
    finally:
        if own:
            conn.close()
