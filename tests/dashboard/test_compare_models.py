"""The model comparison with all seven models, in real Chromium on a laptop and on a phone: a legend
naming every model, seven colours and seven shapes, each mark on its own row, an axis, and a table whose
cells hold their text without cutting a word (the table scrolls sideways in its region when it must)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from webleads.analytics import reports
from webleads.dashboard import i18n

from .conftest import Dash, Tab

pytestmark = pytest.mark.browser

DEVICES = {"laptop": {"viewport": {"width": 1280, "height": 900}},
           "phone": {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True}}

# Everything the browser laid out, measured in one go.
MEASURE = """() => {
  const box = el => el.getBoundingClientRect();
  const svg = document.querySelector('#compare svg.dumbbell');
  const marks = [...svg.querySelectorAll('path.mark[data-row]')].map(m => {
    const b = box(m);
    return {row: m.dataset.row, model: m.dataset.model, y: b.top + b.height / 2, fill: getComputedStyle(m).fill};
  });
  const bands = Object.fromEntries([...svg.querySelectorAll('rect.band')].map(r => [r.dataset.row,
    [box(r).top, box(r).bottom]]));
  const cells = [...document.querySelectorAll('#comparison th, #comparison td')];
  const overflowing = cells.filter(c => c.scrollWidth > c.clientWidth + 1).map(c => c.innerText);
  // A word cut across two lines has two client rectangles (a line may end after a hyphen: demi-|vie).
  const cut = [];
  for (const cell of document.querySelectorAll('#comparison thead th, #comparison tbody th')) {
    const walker = document.createTreeWalker(cell, NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      for (const match of node.data.matchAll(/[^\\s-]+/g)) {
        const range = document.createRange();
        range.setStart(node, match.index);
        range.setEnd(node, match.index + match[0].length);
        if (range.getClientRects().length > 1) cut.push(match[0]);
      }
    }
  }
  const wrap = document.querySelector('#comparison').closest('.table-wrap');
  return {
    legend: [...document.querySelectorAll('#compare ul.legend li')].map(li => li.innerText.trim()),
    legendFills: [...document.querySelectorAll('#compare ul.legend path.mark')].map(m => getComputedStyle(m).fill),
    marks, bands, overflowing, cut,
    ticks: [...svg.querySelectorAll('text.tick')].map(t => t.textContent),
    axis: svg.querySelector('text.axis.name')?.textContent,
    wrap: {scroll: wrap.scrollWidth, client: wrap.clientWidth, overflow: getComputedStyle(wrap).overflowX},
    page: {scroll: document.documentElement.scrollWidth, client: document.documentElement.clientWidth},
  };
}"""


@pytest.mark.parametrize("device", DEVICES)
def test_seven_models_side_by_side(device: str, dash: Dash, new_tab: Callable[..., Tab],
                                   signed_in_state: dict[str, Any], shot: Callable[..., Any]) -> None:
    tab = new_tab(storage_state=signed_in_state, **DEVICES[device])
    query = "&".join(f"{k}={v}" for k, v in dash.everything.items())
    tab.open(f"/dashboard/attribution?{query}&by=channel&compared=1"
             + "".join(f"&compare={m}" for m in reports.MODELS))
    tab.page.locator("#compare").scroll_into_view_if_needed()
    shot(tab.page, f"compare-seven-{device}")
    seen = tab.page.evaluate(MEASURE)

    names = [i18n.Text("fr").model(m) for m in reports.MODELS]
    assert seen["legend"] == names
    assert len(set(seen["legendFills"])) == 7
    fills = {m["model"]: set() for m in seen["marks"]}
    for m in seen["marks"]:
        fills[m["model"]].add(m["fill"])
    assert len(fills) == 7 and all(len(f) == 1 for f in fills.values())  # one colour per model...
    assert len({f for fs in fills.values() for f in fs}) == 7  # ...and no colour used twice
    rows = {m["row"] for m in seen["marks"]}
    assert len(rows) >= 5
    outside = [m for m in seen["marks"] if not seen["bands"][m["row"]][0] < m["y"] < seen["bands"][m["row"]][1]]
    assert not outside, outside
    assert len(seen["ticks"]) >= 3 and seen["ticks"][0] == "0"
    assert seen["axis"] == "Conversions attribuées"

    headers = tab.page.eval_on_selector_all("#comparison thead th[data-column]", "hs => hs.map(h => h.dataset.column)")
    assert headers == list(reports.MODELS)  # Markov included
    assert not seen["overflowing"], seen["overflowing"]
    assert not seen["cut"], seen["cut"]
    # The page itself never scrolls sideways; the table may, inside its own region.
    assert seen["page"]["scroll"] <= seen["page"]["client"]
    if seen["wrap"]["scroll"] > seen["wrap"]["client"]:
        assert seen["wrap"]["overflow"] == "auto"
