"""Charts as inline SVG, drawn on the server: no JavaScript, no library, nothing to fetch.

Every text that reaches a chart (campaign names, paths) goes through markupsafe.escape, and colours
come from classes of dashboard.css (the Content-Security-Policy forbids inline styles). Each chart is a
role="img" with a title; the same numbers are always in a table beside it, for screen readers and for
copying into a slide.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

Fmt = Callable[[float], str]
Pair = Callable[[str, str], str]  # "name: value" in the page's language (French puts a space before ":")


def _pair(name: str, value: str) -> str:
    return f"{name}: {value}"
WIDTH = 640


@dataclass
class Bar:
    label: str
    value: float
    note: str = ""  # printed after the value, e.g. a share


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _open(width: float, height: float, title: str, cls: str) -> str:
    return (f'<svg class="chart {cls}" viewBox="0 0 {width:.0f} {height:.0f}" role="img" '
            f'preserveAspectRatio="xMinYMin meet" aria-label="{escape(title)}"><title>{escape(title)}</title>')


def hbars(bars: Sequence[Bar], title: str, fmt: Fmt, label_width: int = 210) -> Markup:
    """Horizontal bars, one per row, the value (and note) at the end of each bar."""
    if not bars:
        return Markup("")
    row, top = 26, 6
    height = top * 2 + row * len(bars)
    top_value = max((b.value for b in bars), default=0) or 1
    room = WIDTH - label_width - 120
    parts = [_open(WIDTH, height, title, "hbars")]
    for i, bar in enumerate(bars):
        y = top + i * row
        length = max(0.0, bar.value) / top_value * room
        label = _clip(bar.label, 30)
        parts.append(f'<text class="label" x="{label_width - 8}" y="{y + 17}" text-anchor="end">'
                     f'<title>{escape(bar.label)}</title>{escape(label)}</text>')
        parts.append(f'<rect class="bar s0" x="{label_width}" y="{y + 4}" width="{length:.1f}" height="{row - 8}" '
                     f'rx="2"/>')
        value = fmt(bar.value) + (f" ({bar.note})" if bar.note else "")
        parts.append(f'<text class="value" x="{label_width + length + 6:.1f}" y="{y + 17}">{escape(value)}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))


def daily(days: Sequence[dict[str, object]], title: str, fmt: Fmt, day_label: Callable[[object], str],
          bar_key: str = "visitors", mark_key: str = "conversions", pair: Pair = _pair) -> Markup:
    """Columns per day (visitors) with a second, darker column inside for conversions, on one scale;
    every few days labelled under the axis."""
    if not days:
        return Markup("")
    height, bottom, left, top = 220, 28, 44, 12
    plot_w, plot_h = WIDTH - left - 8, height - bottom - top
    top_value = max((float(d[bar_key] or 0) for d in days), default=0) or 1  # type: ignore[arg-type]
    step = plot_w / len(days)
    gap = min(2.0, step * 0.2)
    parts = [_open(WIDTH, height, title, "daily")]
    for frac in (0.5, 1.0):
        y = top + plot_h * (1 - frac)
        parts.append(f'<line class="grid" x1="{left}" x2="{WIDTH - 8}" y1="{y:.1f}" y2="{y:.1f}"/>'
                     f'<text class="axis" x="{left - 6}" y="{y + 4:.1f}" text-anchor="end">'
                     f'{escape(fmt(top_value * frac))}</text>')
    parts.append(f'<line class="axisline" x1="{left}" x2="{WIDTH - 8}" y1="{top + plot_h}" y2="{top + plot_h}"/>')
    every = max(1, round(len(days) / 8))
    for i, d in enumerate(days):
        x = left + i * step
        bar = float(d[bar_key] or 0)  # type: ignore[arg-type]
        mark = float(d[mark_key] or 0)  # type: ignore[arg-type]
        h = bar / top_value * plot_h
        parts.append(f'<rect class="bar s0" x="{x + gap / 2:.1f}" y="{top + plot_h - h:.1f}" '
                     f'width="{step - gap:.1f}" height="{h:.1f}">'
                     f'<title>{escape(pair(day_label(d["day"]), f"{fmt(bar)} / {fmt(mark)}"))}</title></rect>')
        if mark:
            mh = max(2.0, mark / top_value * plot_h)
            parts.append(f'<rect class="bar s1" x="{x + step * 0.25:.1f}" y="{top + plot_h - mh:.1f}" '
                         f'width="{max(1.0, step * 0.5 - gap / 2):.1f}" height="{mh:.1f}"/>')
        if i % every == 0:
            parts.append(f'<text class="axis" x="{x + step / 2:.1f}" y="{height - 8}" text-anchor="middle">'
                         f'{escape(day_label(d["day"]))}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))


def funnel(steps: Sequence[Bar], drops: Sequence[str], title: str, fmt: Fmt) -> Markup:
    """Columns per step, the count on top, the drop-off from the previous step between columns."""
    if not steps:
        return Markup("")
    height, bottom, top = 250, 46, 22
    plot_h = height - bottom - top
    slot = WIDTH / len(steps)
    col = min(110.0, slot * 0.55)
    top_value = max((s.value for s in steps), default=0) or 1
    parts = [_open(WIDTH, height, title, "funnel")]
    for i, s in enumerate(steps):
        cx = slot * i + slot / 2
        h = max(0.0, s.value) / top_value * plot_h
        y = top + plot_h - h
        parts.append(f'<rect class="bar s0" x="{cx - col / 2:.1f}" y="{y:.1f}" width="{col:.1f}" height="{h:.1f}" '
                     f'rx="2"/>')
        parts.append(f'<text class="value" x="{cx:.1f}" y="{y - 6:.1f}" text-anchor="middle">'
                     f'{escape(fmt(s.value))}{escape(f" ({s.note})" if s.note else "")}</text>')
        parts.append(f'<text class="label" x="{cx:.1f}" y="{height - 26}" text-anchor="middle">'
                     f'<title>{escape(s.label)}</title>{escape(_clip(s.label, max(8, int(slot / 7.5))))}</text>')
        if i and i - 1 < len(drops) and drops[i - 1]:
            parts.append(f'<text class="drop" x="{slot * i:.1f}" y="{height - 8}" text-anchor="middle">'
                         f'{escape(drops[i - 1])}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))


def dumbbell(labels: Sequence[str], series: Sequence[tuple[str, Sequence[float]]], title: str, fmt: Fmt,
             label_width: int = 190, pair: Pair = _pair) -> Markup:
    """One row per value, one dot per model on a shared scale, a line from the smallest to the largest
    credit: the longer the line, the more the models disagree about that value."""
    if not labels or not series:
        return Markup("")
    row, top, legend = 24, 30, 22
    height = top + row * len(labels) + legend
    top_value = max((v for _, values in series for v in values), default=0) or 1
    room = WIDTH - label_width - 50
    parts = [_open(WIDTH, height, title, "dumbbell")]
    x = label_width
    for k, (name, _) in enumerate(series):  # legend
        parts.append(f'<circle class="dot s{k % 6}" cx="{x + 6}" cy="12" r="5"/>'
                     f'<text class="axis" x="{x + 15}" y="16">{escape(_clip(name, 26))}</text>')
        x += 20 + 7 * min(len(name), 26)
    for i, label in enumerate(labels):
        y = top + i * row + row / 2
        values = [values[i] for _, values in series]
        xs = [label_width + max(0.0, v) / top_value * room for v in values]
        parts.append(f'<text class="label" x="{label_width - 10}" y="{y + 4:.1f}" text-anchor="end">'
                     f'<title>{escape(label)}</title>{escape(_clip(label, 28))}</text>')
        parts.append(f'<line class="span" x1="{min(xs):.1f}" x2="{max(xs):.1f}" y1="{y:.1f}" y2="{y:.1f}"/>')
        for k, (cx, v) in enumerate(zip(xs, values, strict=True)):
            dy = (k - (len(series) - 1) / 2) * 4  # equal credits stay visible side by side
            parts.append(f'<circle class="dot s{k % 6}" cx="{cx:.1f}" cy="{y + dy:.1f}" r="5">'
                         f'<title>{escape(pair(series[k][0], fmt(v)))}</title></circle>')
    parts.append("</svg>")
    return Markup("".join(parts))
