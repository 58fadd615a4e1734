"""The dashboard's Excel downloads: the rows and columns of a CSV download written by the analytics'
xlsx writer, with headers, parameters and channel names in the page's language (the page shows
« Recherche naturelle », so does its file); every other value is the CSV's, typed. The CSV keeps GA4's
names for programs.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from starlette.responses import Response

from webleads.analytics import headers, reports, xlsx

from .filters import Filters
from .i18n import Text
from .render import secure

XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def column_headers(t: Text, columns: Sequence[str] = ()) -> dict[str, str]:
    """The analytics' header words, with the dashboard's own names of dimensions and models."""
    found = dict(headers.headers(t.lang))
    for name in reports.DIMENSIONS:
        found[name] = t.dim(name).name
    for column in columns:
        if column in reports.MODELS:
            found[column] = t.model(column)
    return found


def parameters(t: Text, f: Filters, kind: str, by: str | None = None) -> list[tuple[str, Any]]:
    """The parameters sheet of a download: the period, site, time zone, and what the report was asked
    (`by`: the dimension, when the report does not take the page's own, as ROI)."""
    options: dict[str, Any] = {"from_day": f.start.isoformat(), "to_day": f.end.isoformat(), "tz": f.tz,
                               "site": f.site}
    dimension = by or f.by
    if kind in ("attribution", "roi"):
        options.update(model=t.model(f.model), by=dimension)
    elif kind == "comparison":
        options.update(model=", ".join(t.model(m) for m in f.compare), by=dimension)
    elif kind == "funnel":
        options.update(steps=[t.step(s) for s in f.steps], window=t.window(f.window))
    rows = xlsx.parameters(t.lang, **options)
    words = headers.words(t.lang)
    if words["by"] in dict(rows):  # the dimension in the page's words
        rows = [(k, t.dim(dimension).name if k == words["by"] else v) for k, v in rows]
    return rows


CHANNEL_COLUMNS = ("channel", "first_channel", "last_channel")


def in_words(t: Text, rows: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The rows with their channels (and paths of channels) named as the page names them."""
    out = []
    for row in rows:
        shown = dict(row)
        for column in CHANNEL_COLUMNS:
            if isinstance(shown.get(column), str):
                shown[column] = t.channel(shown[column])
        if isinstance(shown.get("path"), str):
            shown["path"] = t.path(shown["path"])
        out.append(shown)
    return out


def table(t: Text, f: Filters, rows: Sequence[Mapping[str, Any]], columns: Sequence[str], name: str,
          by: str | None = None) -> bytes:
    kind = name.split("-")[1] if name.count("-") else name
    sheet = xlsx.Sheet(kind, in_words(t, rows), columns, column_headers(t, columns))
    return xlsx.to_xlsx([sheet], parameters(t, f, kind, by), t.lang)


def response(body: bytes, name: str) -> Response:
    return secure(Response(body, media_type=XLSX_TYPE,
                           headers={"Content-Disposition": f'attachment; filename="{name}.xlsx"'}))
