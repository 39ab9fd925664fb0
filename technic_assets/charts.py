"""Charts for the UI, where a person would rather look than read: SVG drawn here (no plotting library),
embedded in Markdown metadata as a data URI, the way Dagster shows an image in an asset's metadata.

  contributions  each top-N pick's MERIT contributions as a bar from zero, left for negative, right for
                 positive, one colour per term: what made each pick
  sector mix     how many names of each sector passed the filter, and how many made the top N
  equity         a track record's books as growth of 1 from the first entry, one line each

How the Dagster UI (1.13) shows Markdown metadata (ui-core metadata/MetadataEntry.tsx): on the asset's
page (its overview and its events) a Markdown value shorter than 1,000 characters is rendered in place;
a longer one, as every SVG image is, hides behind a "[Show Markdown]" link that opens it in a dialog
(data: images allowed by its sanitizer). So each chart comes twice: drawn in text (`sector_bars`,
`sparklines`: a Markdown table of Unicode bars, under INLINE_LIMIT, seen without a click) and as the
SVG, one click away for the detail.
"""

from __future__ import annotations

import base64
from html import escape

import numpy as np
import pandas as pd
from dagster import MetadataValue

INLINE_LIMIT = 1000  # the UI renders shorter Markdown in place, longer behind a link
BLOCKS = "▁▂▃▄▅▆▇█"
PALETTE = ["#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7", "#9c755f"]
ROW, LABEL, WIDTH = 18, 110, 560


def markdown_image(svg: str, alt: str) -> MetadataValue:
    data = base64.b64encode(svg.encode()).decode()
    return MetadataValue.md(f"![{alt}](data:image/svg+xml;base64,{data})")


def contributions_svg(top: pd.DataFrame, terms: list[str]) -> str:
    """`top` has symbol and merit_contrib_<term> for each of `terms`, in rank order."""
    values = top[[f"merit_contrib_{t}" for t in terms]].fillna(0.0).to_numpy()
    reach = max(values.clip(min=0).sum(axis=1).max(initial=0.0), (-values.clip(max=0)).sum(axis=1).max(initial=0.0))
    scale = (WIDTH - LABEL - 20) / 2 / (reach or 1.0)
    zero = LABEL + (WIDTH - LABEL) / 2
    parts = []
    for i, (symbol, row) in enumerate(zip(top["symbol"], values)):
        y = 30 + i * ROW
        parts.append(f'<text x="{LABEL - 6}" y="{y + 12}" text-anchor="end">{escape(str(symbol))}</text>')
        right = left = zero
        for k, v in enumerate(row):
            if v == 0:
                continue
            w = abs(v) * scale
            x = right if v > 0 else left - w
            right, left = (right + w, left) if v > 0 else (right, left - w)
            parts.append(f'<rect x="{x:.1f}" y="{y}" width="{w:.1f}" height="{ROW - 4}" fill="{PALETTE[k % 9]}">'
                         f'<title>{escape(str(symbol))} {terms[k]} {v:+.3f}</title></rect>')
    legend = "".join(f'<rect x="{LABEL + k * 62}" y="6" width="10" height="10" fill="{PALETTE[k % 9]}"/>'
                     f'<text x="{LABEL + 14 + k * 62}" y="15">{t}</text>' for k, t in enumerate(terms))
    height = 40 + len(top) * ROW
    axis = f'<line x1="{zero}" y1="24" x2="{zero}" y2="{height - 6}" stroke="#333"/>'
    return _svg(height, legend + axis + "".join(parts))


def sector_mix_svg(passed: pd.Series, picked: pd.Series) -> str:
    """Names per sector that passed the filter (light) and made the top N (dark), largest first."""
    order = passed.sort_values(ascending=False)
    most = float(order.max()) if len(order) else 1.0
    scale = (WIDTH - LABEL - 60) / (most or 1.0)
    parts = []
    for i, (sector, n) in enumerate(order.items()):
        y = 10 + i * ROW
        k = int(picked.get(sector, 0))
        parts.append(f'<text x="{LABEL + 40}" y="{y + 12}" text-anchor="end">{escape(str(sector))[:24]}</text>'
                     f'<rect x="{LABEL + 46}" y="{y}" width="{n * scale:.1f}" height="{ROW - 4}" fill="#c6d4e6"/>'
                     f'<rect x="{LABEL + 46}" y="{y}" width="{k * scale:.1f}" height="{ROW - 4}" fill="#4e79a7"/>'
                     f'<text x="{LABEL + 52 + n * scale:.1f}" y="{y + 12}">{k} of {int(n)}</text>')
    return _svg(20 + len(order) * ROW, "".join(parts))


def equity_svg(daily: pd.DataFrame, books: tuple[str, ...], height: int = 220) -> str:
    """Each of `books` (columns of `daily`, values from 1 at the first entry's close) as a line over the
    sessions, on one axis, with the first and last dates and the value range marked."""
    values = daily[list(books)].to_numpy(dtype=float)
    low, high = float(np.nanmin(values)), float(np.nanmax(values))
    span = (high - low) or 1.0
    left, right, top, bottom = 50, WIDTH + 60, 24, height - 22
    n = len(daily)
    x = left + (right - left) * np.arange(n) / max(n - 1, 1)
    parts = [f'<line x1="{left}" y1="{bottom}" x2="{right}" y2="{bottom}" stroke="#999"/>',
             f'<text x="{left - 4}" y="{top + 4}" text-anchor="end">{high:.2f}</text>',
             f'<text x="{left - 4}" y="{bottom}" text-anchor="end">{low:.2f}</text>',
             f'<text x="{left}" y="{height - 6}">{daily.index[0]:%Y-%m-%d}</text>',
             f'<text x="{right}" y="{height - 6}" text-anchor="end">{daily.index[-1]:%Y-%m-%d}</text>']
    for k, name in enumerate(books):
        y = bottom - (bottom - top) * (values[:, k] - low) / span
        points = " ".join(f"{a:.1f},{b:.1f}" for a, b in zip(x, y) if np.isfinite(b))
        parts.append(f'<polyline points="{points}" fill="none" stroke="{PALETTE[k % 9]}" stroke-width="1.5">'
                     f'<title>{escape(name)}: {values[-1, k]:.3f}</title></polyline>'
                     f'<rect x="{left + k * 110}" y="6" width="10" height="10" fill="{PALETTE[k % 9]}"/>'
                     f'<text x="{left + 14 + k * 110}" y="15">{escape(name)} {values[-1, k] - 1:+.1%}</text>')
    return _svg(height, "".join(parts))


def _svg(height: int, body: str) -> str:
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH + 80}" height="{height}" '
            f'font-family="sans-serif" font-size="11">{body}</svg>')


def inline_markdown(lines: list[str], header: int = 2) -> MetadataValue:
    """A Markdown table (its `header` lines, then rows) cut to fit INLINE_LIMIT, so the UI shows it in place."""
    keep, text = len(lines), "\n".join(lines)
    while len(text) >= INLINE_LIMIT and keep > header + 1:
        keep -= 1
        text = "\n".join(lines[:keep] + [f"| ... {len(lines) - keep} more | | |"])
    return MetadataValue.md(text)


def sector_bars(passed: pd.Series, picked: pd.Series, width: int = 20) -> MetadataValue:
    """The sector mix in text: per sector, largest first, a bar as long as the names that passed (on the
    largest sector's scale), its dark part the names in the top N."""
    order = passed.sort_values(ascending=False)
    most = float(order.max()) if len(order) and order.max() > 0 else 1.0
    lines = ["| sector | top N of passed | |", "|---|---:|---|"]
    for sector, n in order.items():
        k = int(picked.get(sector, 0))
        full = max(1, round(n / most * width)) if n else 0
        dark = min(full, max(1, round(k / most * width)) if k else 0)  # a pick is never an empty bar
        name = str(sector).replace("|", "/")[:24]
        lines.append(f"| {name} | {k} of {int(n)} | {'█' * dark}{'░' * (full - dark)} |")
    return inline_markdown(lines)


def sparklines(daily: pd.DataFrame, books: tuple[str, ...], width: int = 32) -> MetadataValue:
    """A track record in text: each book's growth of 1 as a line of block characters (one scale for all
    books, `width` points evenly spaced over the sessions) with its first and last dates and its growth."""
    values = daily[list(books)].to_numpy(dtype=float)
    picks = np.unique(np.linspace(0, len(daily) - 1, min(width, len(daily))).round().astype(int))
    low, high = float(np.nanmin(values)), float(np.nanmax(values))
    span = (high - low) or 1.0
    lines = [f"| book | {daily.index[0]:%Y-%m-%d} to {daily.index[-1]:%Y-%m-%d} ({low:.2f} to {high:.2f}) | growth |",
             "|---|---|---:|"]
    for k, name in enumerate(books):
        points = values[picks, k]
        line = "".join(" " if not np.isfinite(v) else BLOCKS[int(round((v - low) / span * (len(BLOCKS) - 1)))]
                       for v in points)
        last = values[np.isfinite(values[:, k]), k]
        growth = f"{last[-1] - 1:+.1%}" if len(last) else ""
        lines.append(f"| {name} | `{line}` | {growth} |")
    return inline_markdown(lines)
