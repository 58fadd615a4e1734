"""Charts as inline SVG, drawn on the server: no JavaScript, no library, nothing to fetch.

Every text that reaches a chart (campaign names, paths) goes through markupsafe.escape, and colours
come from classes of dashboard.css (the Content-Security-Policy forbids inline styles). Each chart is a
role="img" with a title; the same numbers are always in a table beside it, for screen readers and for
copying into a slide.
"""

from __future__ import annotations

import math
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


# One shape per model beside its colour: seven colours cannot all stay apart for every reader (colour
# blindness, a grey print), seven shapes can. Paths are centred on (0, 0), about 10 units across.
SHAPES = ("M-5,0a5,5 0 1,0 10,0a5,5 0 1,0 -10,0Z",  # circle
          "M-4.5,-4.5h9v9h-9Z",  # square
          "M0,-5.5L5.5,4.5H-5.5Z",  # triangle
          "M0,-6L6,0L0,6L-6,0Z",  # diamond
          "M0,5.5L5.5,-4.5H-5.5Z",  # triangle pointing down
          "M-1.8,-5.5h3.6v3.7h3.7v3.6h-3.7v3.7h-3.6v-3.7h-3.7v-3.6h3.7Z",  # plus
          "M0,-6L1.8,-2.2L6,-1.9L2.8,1L3.7,5.2L0,3L-3.7,5.2L-2.8,1L-6,-1.9L-1.8,-2.2Z")  # star
SERIES = len(SHAPES)


def marker(k: int, x: float, y: float, extra: str = "", inner: str = "") -> str:
    """Series k's mark (colour class m<k> and its shape) centred on (x, y)."""
    return (f'<path class="mark m{k % SERIES}" transform="translate({x:.1f} {y:.1f})" d="{SHAPES[k % SERIES]}"'
            f'{extra}>{inner}</path>')


def key(k: int) -> Markup:
    """Series k's mark alone, as a small inline SVG for an HTML legend or a table header."""
    return Markup(f'<svg class="key-mark" viewBox="-7 -7 14 14" aria-hidden="true" focusable="false">'
                  f'{marker(k, 0, 0)}</svg>')


def ticks(top: float, most: int = 5) -> list[float]:
    """Round values from 0 to at least `top` for an axis (steps of 1, 2 or 5 times a power of ten)."""
    if top <= 0:
        return [0.0, 1.0]
    raw = top / most
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
    count = math.ceil(top / step - 1e-9)
    return [round(i * step, 10) for i in range(count + 1)]


def dumbbell(labels: Sequence[str], series: Sequence[tuple[str, Sequence[float]]], title: str, fmt: Fmt,
             label_width: int = 190, pair: Pair = _pair, axis: str = "") -> Markup:
    """One row per value, one mark per model on a shared scale, a line from the smallest to the largest
    credit: the longer the line, the more the models disagree about that value. A legend (HTML, so that
    it wraps on a phone) names every model with its mark; an axis under the rows gives the scale."""
    if not labels or not series:
        return Markup("")
    n = len(series)
    spread = 3.0  # vertical step between the marks of one row: equal credits stay visible side by side
    row = max(24, int(spread * (n - 1) + 20))  # every mark stays inside its own row's band
    top, bottom = 4, 40
    height = top + row * len(labels) + bottom
    scale = ticks(max((v for _, values in series for v in values), default=0))
    top_value = scale[-1] or 1
    room = WIDTH - label_width - 24
    items = "".join(f'<li data-model="{k}">{key(k)} {escape(name)}</li>' for k, (name, _) in enumerate(series))
    parts = [f'<ul class="legend">{items}</ul>', _open(WIDTH, height, title, "dumbbell")]
    base = top + row * len(labels)
    for value in scale:
        x = label_width + value / top_value * room
        parts.append(f'<line class="grid" x1="{x:.1f}" x2="{x:.1f}" y1="{top}" y2="{base}"/>'
                     f'<text class="axis tick" x="{x:.1f}" y="{base + 14}" text-anchor="middle">'
                     f'{escape(fmt(value))}</text>')
    parts.append(f'<line class="axisline" x1="{label_width}" x2="{label_width + room}" y1="{base}" y2="{base}"/>')
    if axis:
        parts.append(f'<text class="axis name" x="{label_width + room / 2:.1f}" y="{base + 32}" '
                     f'text-anchor="middle">{escape(axis)}</text>')
    for i, label in enumerate(labels):
        y0 = top + i * row
        y = y0 + row / 2
        parts.append(f'<rect class="band{" odd" if i % 2 else ""}" data-row="{i}" x="0" y="{y0}" width="{WIDTH}" '
                     f'height="{row}"/>')
        values = [values[i] for _, values in series]
        xs = [label_width + max(0.0, v) / top_value * room for v in values]
        parts.append(f'<text class="label" x="{label_width - 10}" y="{y + 4:.1f}" text-anchor="end">'
                     f'<title>{escape(label)}</title>{escape(_clip(label, 28))}</text>')
        parts.append(f'<line class="span" x1="{min(xs):.1f}" x2="{max(xs):.1f}" y1="{y:.1f}" y2="{y:.1f}"/>')
        for k, (cx, v) in enumerate(zip(xs, values, strict=True)):
            dy = (k - (n - 1) / 2) * spread
            parts.append(marker(k, cx, y + dy, f' data-row="{i}" data-model="{k}"',
                                f'<title>{escape(pair(series[k][0], fmt(v)))}</title>'))
    parts.append("</svg>")
    return Markup("".join(parts))
