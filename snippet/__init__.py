"""The embeddable snippet: webleads.js, served minified at /s.js."""

from __future__ import annotations

from functools import lru_cache
from importlib import resources


@lru_cache(maxsize=1)
def script() -> bytes:
    """The script as served (placeholder until the snippet lands: it only sends a pageview)."""
    return resources.files(__name__).joinpath("webleads.js").read_bytes()
