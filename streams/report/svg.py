"""Inline SVG charts as text: grouped bars and lines over time, nothing to fetch.

Decisions:

- Every piece of text that comes from data (feature names, category values) goes
  through ``html.escape`` with quotes, so it can neither close a tag nor an
  attribute; the full text of a shortened label is kept in a ``<title>`` tooltip.
- The ``<svg>`` elements carry no ``xmlns``: inline in HTML they need none, and the
  page then holds no URL at all.
- Colours come from CSS classes of the page (``ref``, ``cur``, ``warn``, ``crit``...),
  so a chart has no style of its own.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from html import escape

WIDTH = 560
BAR_HEIGHT = 180
LINE_HEIGHT = 170
LABEL_CHARS = 12


def text(value: object) -> str:
    """Data as HTML text or attribute value: ``<``, ``>``, ``&`` and quotes escaped."""
    return escape(str(value), quote=True)


def number(value: float | None, digits: int = 3) -> str:
    """A statistic for people: ``-`` for none, scientific below ``10**-digits``."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "-"
    if isinstance(value, int):
        return str(value)
    if value != 0 and abs(value) < 10 ** -digits:
        return f"{value:.1e}"
    if abs(value) >= 10 ** 6:
        return f"{value:.3g}"
    return f"{value:.{digits}f}"


def _short(label: str) -> str:
    return label if len(label) <= LABEL_CHARS else label[: LABEL_CHARS - 1] + "…"


def bars(labels: Sequence[str], reference: Sequence[float],
         current: Sequence[float] | None, caption: str) -> str:
    """Shares of the reference (and the current side) per bin or category, side by side."""
    left, bottom, top = 56, 62, 10
    plot_w, plot_h = WIDTH - left - 10, BAR_HEIGHT - bottom - top
    peak = max([*reference, *(current or []), 1e-12])
    slot = plot_w / max(len(labels), 1)
    width = slot * (0.4 if current is not None else 0.7)
    parts = [f'<svg class="chart" viewBox="0 0 {WIDTH} {BAR_HEIGHT}" width="{WIDTH}" '
             f'height="{BAR_HEIGHT}" role="img" aria-label="{text(caption)}">']
    for share in (0.0, peak / 2, peak):
        y = top + plot_h - share / peak * plot_h
        parts.append(f'<line class="grid" x1="{left}" x2="{WIDTH - 10}" y1="{y:.1f}" '
                     f'y2="{y:.1f}"/><text class="axis" x="{left - 4}" y="{y + 3:.1f}" '
                     f'text-anchor="end">{share:.0%}</text>')
    sides = [("ref", reference), ("cur", current)] if current is not None else [
        ("ref", reference)]
    for i, label in enumerate(labels):
        x0 = left + i * slot + (slot - width * len(sides)) / 2
        for j, (side, shares) in enumerate(sides):
            h = shares[i] / peak * plot_h
            parts.append(f'<rect class="{side}" x="{x0 + j * width:.1f}" '
                         f'y="{top + plot_h - h:.1f}" width="{width:.1f}" height="{h:.1f}">'
                         f'<title>{text(label)}: {side} {shares[i]:.1%}</title></rect>')
        x = left + (i + 0.5) * slot
        parts.append(f'<text class="axis" x="{x:.1f}" y="{top + plot_h + 12}" '
                     f'text-anchor="end" transform="rotate(-35 {x:.1f} {top + plot_h + 12})">'
                     f'<title>{text(label)}</title>{text(_short(label))}</text>')
    parts.append("</svg>")
    return "".join(parts)


def lines(times: Sequence[str], series: Sequence[tuple[str, str, Sequence[float | None]]],
          levels: Sequence[tuple[str, str, float]], caption: str) -> str:
    """Values over time, one polyline a series (class, name, values), with level lines.

    ``times`` label the points (the first and last are written under the axis);
    a missing value breaks its line.
    """
    left, bottom, top = 48, 34, 10
    plot_w, plot_h = WIDTH - left - 110, LINE_HEIGHT - bottom - top
    values = [v for _, _, vs in series for v in vs if v is not None and math.isfinite(v)]
    values += [v for _, _, v in levels]
    low, high = min([0.0, *values]), max([1e-12, *values])
    span = high - low or 1.0
    n = max(len(times), 1)

    def xy(i: int, v: float) -> str:
        x = left + (plot_w * i / (n - 1) if n > 1 else plot_w / 2)
        return f"{x:.1f},{top + plot_h - (v - low) / span * plot_h:.1f}"

    parts = [f'<svg class="chart" viewBox="0 0 {WIDTH} {LINE_HEIGHT}" width="{WIDTH}" '
             f'height="{LINE_HEIGHT}" role="img" aria-label="{text(caption)}">']
    for v in (low, (low + high) / 2, high):
        y = top + plot_h - (v - low) / span * plot_h
        parts.append(f'<line class="grid" x1="{left}" x2="{left + plot_w}" y1="{y:.1f}" '
                     f'y2="{y:.1f}"/><text class="axis" x="{left - 4}" y="{y + 3:.1f}" '
                     f'text-anchor="end">{text(number(v, 2))}</text>')
    for css, name, value in levels:
        y = top + plot_h - (value - low) / span * plot_h
        parts.append(f'<line class="{css}" x1="{left}" x2="{left + plot_w}" y1="{y:.1f}" '
                     f'y2="{y:.1f}"/><text class="axis" x="{left + plot_w + 4}" '
                     f'y="{y + 3:.1f}">{text(name)} {text(number(value))}</text>')
    for row, (css, name, vs) in enumerate(series):
        run: list[str] = []
        for i, point in enumerate([*vs, None]):
            if point is not None and math.isfinite(point):
                run.append(xy(i, point))
                continue
            if len(run) == 1:
                cx, cy = run[0].split(",")
                parts.append(f'<circle class="{css}" cx="{cx}" cy="{cy}" r="2.5"/>')
            elif run:
                parts.append(f'<polyline class="{css}" points="{" ".join(run)}"/>')
            run = []
        parts.append(f'<text class="axis {css}-key" x="{left + plot_w + 4}" '
                     f'y="{top + 12 + 13 * row}">{text(name)}</text>')
    if times:
        base = top + plot_h + 14
        parts.append(f'<text class="axis" x="{left}" y="{base}">{text(times[0])}</text>')
        if len(times) > 1:
            parts.append(f'<text class="axis" x="{left + plot_w}" y="{base}" '
                         f'text-anchor="end">{text(times[-1])}</text>')
    parts.append("</svg>")
    return "".join(parts)


def marks(times: Sequence[str], marked: Sequence[int], caption: str) -> str:
    """A strip of the windows with ticks where something happened (detections)."""
    left, plot_w, height = 48, WIDTH - 48 - 110, 36
    n = max(len(times), 1)
    parts = [f'<svg class="chart" viewBox="0 0 {WIDTH} {height}" width="{WIDTH}" '
             f'height="{height}" role="img" aria-label="{text(caption)}">',
             f'<line class="grid" x1="{left}" x2="{left + plot_w}" y1="18" y2="18"/>']
    for i in marked:
        x = left + (plot_w * i / (n - 1) if n > 1 else plot_w / 2)
        parts.append(f'<line class="crit" x1="{x:.1f}" x2="{x:.1f}" y1="6" y2="30">'
                     f'<title>{text(times[i])}</title></line>')
    parts.append("</svg>")
    return "".join(parts)
