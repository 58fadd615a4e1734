"""The embeddable snippet: webleads.js, stripped of comments and whitespace and served at /s.js.

The source is written tight by hand (short names, explicit semicolons), so a small stripper is all the
minification it needs: no JavaScript toolchain and no extra dependency. The stripper knows string and
regular-expression literals and comments, and refuses what it does not handle (template literals).
"""

from __future__ import annotations

import json
from functools import lru_cache
from importlib import resources

# Gzip -9 budget of the served script, checked by tests/browser/test_snippet_build.py.
BUDGET_GZIP_BYTES = 1100

_WORD = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_$")
# After one of these, a "/" starts a regular expression; elsewhere it divides.
_REGEX_AFTER = frozenset("(,=:[!&|?{};")


class MinifyError(ValueError):
    """The source uses something the stripper does not handle."""


def _literal_end(src: str, start: int, quote: str) -> int:
    """Index just past the string or regex literal opening at start (quote is ' " or /)."""
    i, in_class = start + 1, False
    while i < len(src):
        c = src[i]
        if c == "\\":
            i += 2
            continue
        if c == "\n":
            break
        if quote == "/" and c in "[]":
            in_class = c == "["
        elif c == quote and not in_class:
            return i + 1
        i += 1
    raise MinifyError(f"unterminated literal at offset {start}")


def minify(src: str) -> str:
    """Drop comments and every whitespace run that does not separate two words (or '+ +', '- -')."""
    out: list[str] = []
    i, n = 0, len(src)
    while i < n:
        c = src[i]
        if c in "\"'":
            end = _literal_end(src, i, c)
            out.append(src[i:end])
            i = end
        elif src.startswith("//", i):
            i = src.find("\n", i) if "\n" in src[i:] else n
        elif src.startswith("/*", i):
            end = src.find("*/", i + 2)
            if end < 0:
                raise MinifyError(f"unterminated comment at offset {i}")
            i = end + 2
        elif c == "/" and (not out or out[-1][-1] in _REGEX_AFTER):
            end = _literal_end(src, i, "/")
            while end < n and src[end] in _WORD:  # flags
                end += 1
            out.append(src[i:end])
            i = end
        elif c == "`":
            raise MinifyError(f"template literal at offset {i}: use plain strings")
        elif c.isspace():
            while i < n and src[i].isspace():
                i += 1
            before = out[-1][-1] if out else ""
            after = src[i] if i < n else ""
            if (before in _WORD and after in _WORD) or (before == after and before in "+-"):
                out.append(" ")
        elif c == "}" and out and out[-1] == ";":
            out[-1] = "}"  # a statement needs no ";" before a closing brace
            i += 1
        else:
            out.append(c)
            i += 1
    return "".join(out).rstrip(";")


@lru_cache(maxsize=8)
def script(beacon_path: str = "/e", pixel_path: str = "/p.gif") -> bytes:
    """The script as served, for a collector whose beacon and pixel live at these paths."""
    source = resources.files(__name__).joinpath("webleads.js").read_text(encoding="utf-8")
    code = minify(source)
    # The pixel fallback appends the query itself, so its placeholder stands for "path?".
    for placeholder, value in (("BEACON_PATH", beacon_path), ("PIXEL_QUERY", pixel_path + "?")):
        if code.count(placeholder) != 1:
            raise MinifyError(f"{placeholder} must appear exactly once in webleads.js")
        code = code.replace(placeholder, json.dumps(value))
    return (code + "\n").encode("utf-8")
