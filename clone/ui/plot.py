"""Charts as plain HTML: bars are sized boxes inside a real ``<table>``, so they wrap and reflow on a phone,
a screen reader reads the numbers, and nothing is drawn before there is data.

Every chart is a ``<figure>`` with its title as ``<figcaption>``. Counts start at 0 with whole-number ticks,
rates are percentages, ordinal answers use an ordered palette (light to dark), and means carry their 95%
interval on a row of their own, so no two marks are ever drawn on top of each other. The colours are on
white with at least 3:1 contrast for marks and 4.5:1 for text (WCAG 2.2 AA).
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence

# Marks: a dark blue and a dark orange that stay apart for the common colour-vision deficiencies.
SERIES_COLOURS = ("#1f5fa8", "#b4470b", "#2e7d32", "#6a3d9a")
# Ordered palette for ordinal scales, light to dark (a sequential blue); text on each is chosen for contrast.
_ORDINAL_LIGHT, _ORDINAL_DARK = (222, 235, 247), (8, 48, 107)


def _e(text: object) -> str:
    return html.escape(str(text))


def ordinal_palette(n: int) -> list[str]:
    """``n`` colours from light to dark blue, in order: the higher the answer, the darker the colour."""
    if n <= 1:
        return ["#4a7fc1"][:n]
    out = []
    for k in range(n):
        t = k / (n - 1)
        rgb = [round(a + (b - a) * t) for a, b in zip(_ORDINAL_LIGHT, _ORDINAL_DARK, strict=True)]
        out.append("#{:02x}{:02x}{:02x}".format(*rgb))
    return out


def _luminance(colour: str) -> float:
    channels = [int(colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    lin = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]


def text_on(colour: str) -> str:
    """Black or white, whichever reads better on ``colour``."""
    return "#000000" if _luminance(colour) > 0.179 else "#ffffff"


def count_ticks(top: float, most: int = 5) -> list[int]:
    """Whole-number ticks from 0 up to at least ``top``, at most ``most`` + 1 of them, evenly spaced."""
    top = max(1, math.ceil(top))
    steps = [s * 10**p for p in range(10) for s in (1, 2, 5)]
    step = next(s for s in steps if math.ceil(top / s) <= most)
    return list(range(0, step * math.ceil(top / step) + 1, step))


def percent(value: float) -> str:
    """A rate (0..1) as a whole percentage, or one decimal below 10%: ``0.046`` -> ``4.6%``."""
    pct = value * 100
    return f"{pct:.0f}%" if pct == 0 or pct >= 10 or pct == round(pct) else f"{pct:.1f}%"


def empty(title: str, message: str, elem: str = "") -> str:
    """A chart with nothing to show yet: its title and a sentence saying why, never an empty box."""
    return (
        f"<figure class='clone-chart clone-chart-empty' {elem}><figcaption>{_e(title)}</figcaption>"
        f"<p class='clone-chart-note'>{_e(message)}</p></figure>"
    )


def _legend(items: Sequence[tuple[str, str]]) -> str:
    keys = "".join(
        f"<li><span class='clone-key' style='background:{c}' aria-hidden='true'></span>{_e(label)}</li>"
        for label, c in items
    )
    return f"<ul class='clone-legend'>{keys}</ul>"


def _axis(ticks: Sequence[float], top: float, fmt) -> str:
    """Tick labels along the bottom of a bar column, positioned at their share of ``top``."""
    marks = "".join(f"<span class='clone-tick' style='left:{100 * t / top:.3f}%'>{_e(fmt(t))}</span>" for t in ticks)
    return f"<div class='clone-axis' aria-hidden='true'>{marks}</div>"


def _grid(ticks: Sequence[float], top: float) -> str:
    return "".join(
        f"<span class='clone-gridline' style='left:{100 * t / top:.3f}%' aria-hidden='true'></span>" for t in ticks
    )


def bars(
    title: str,
    rows: Sequence[tuple[str, Sequence[float]]],
    *,
    series: Sequence[str] = ("",),
    rate: bool = False,
    empty_message: str = "Nothing to show yet.",
    header: tuple[str, str] = ("", ""),
) -> str:
    """Horizontal bars from 0: one table row per label (labels wrap), one bar per series side by side.

    ``rows`` are (label, one value per series). Counts get whole-number ticks; ``rate`` values (0..1) are
    shown as percentages on a 0-100% axis.
    """
    if not rows or all(not any(v for v in values) for _, values in rows):
        return empty(title, empty_message)
    most = max(v for _, values in rows for v in values)
    if rate:
        ticks, top, fmt = [0, 0.5, 1.0], 1.0, percent  # three ticks: they fit beside each other on a phone
    else:
        ticks = count_ticks(most)
        top, fmt = ticks[-1], lambda v: f"{int(v)}"
    colours = SERIES_COLOURS
    body = []
    for label, values in rows:
        marks = []
        for k, (name, value) in enumerate(zip(series, values, strict=True)):
            shown = fmt(value)
            marks.append(
                f"<div class='clone-bar-row'><span class='clone-bar' style='width:{100 * value / top:.3f}%;"
                f"background:{colours[k % len(colours)]}' aria-hidden='true'></span>"
                f"<span class='clone-value'><span class='clone-visually-hidden'>{_e(name + ': ' if name else '')}"
                f"</span>{_e(shown)}</span></div>"
            )
        body.append(
            f"<tr><th scope='row'>{_e(label)}</th><td><div class='clone-track'>{_grid(ticks, top)}"
            f"{''.join(marks)}</div></td></tr>"
        )
    legend = _legend([(s, colours[k % len(colours)]) for k, s in enumerate(series)]) if len(series) > 1 else ""
    label_head, value_head = header
    return (
        f"<figure class='clone-chart clone-bars'><figcaption>{_e(title)}</figcaption>{legend}"
        f"<table><thead><tr><th scope='col'>{_e(label_head)}</th><th scope='col'>{_e(value_head)}</th></tr></thead>"
        f"<tbody>{''.join(body)}</tbody><tfoot><tr><td></td><td>{_axis(ticks, top, fmt)}</td></tr></tfoot>"
        f"</table></figure>"
    )


def columns(
    title: str,
    labels: Sequence[str],
    values: Sequence[float],
    *,
    empty_message: str = "Nothing to show yet.",
    value_name: str = "",
) -> str:
    """Vertical bars from 0 (daily counts): whole-number ticks, first, middle and last labels under the bars.

    The numbers are also in a table (visually hidden) for screen readers.
    """
    if not values or not any(values):
        return empty(title, empty_message)
    ticks = count_ticks(max(values))
    top = ticks[-1]
    cols = "".join(
        f"<span class='clone-col' title='{_e(lab)}: {int(v)}' style='height:{100 * v / top:.3f}%'></span>"
        for lab, v in zip(labels, values, strict=True)
    )
    yaxis = "".join(f"<span class='clone-ytick' style='bottom:{100 * t / top:.3f}%'>{t}</span>" for t in ticks)
    grid = "".join(f"<span class='clone-hgrid' style='bottom:{100 * t / top:.3f}%'></span>" for t in ticks)
    shown = sorted({0, len(labels) // 2, len(labels) - 1})
    xaxis = "".join(f"<span>{_e(labels[i])}</span>" for i in shown)
    rows = "".join(
        f"<tr><th scope='row'>{_e(lab)}</th><td>{int(v)}</td></tr>" for lab, v in zip(labels, values, strict=True)
    )
    return (
        f"<figure class='clone-chart clone-columns'><figcaption>{_e(title)}</figcaption>"
        f"<div class='clone-plot' aria-hidden='true'><div class='clone-yaxis'>{yaxis}</div>"
        f"<div class='clone-colarea'>{grid}{cols}</div></div>"
        f"<div class='clone-xaxis' aria-hidden='true'>{xaxis}</div>"
        f"<table class='clone-visually-hidden'><thead><tr><th scope='col'>Day</th><th scope='col'>{_e(value_name)}"
        f"</th></tr></thead><tbody>{rows}</tbody></table></figure>"
    )


def stacked(
    title: str,
    rows: Sequence[tuple[str, Sequence[int]]],
    scale: Sequence[str],
    *,
    empty_message: str = "Nothing to show yet.",
) -> str:
    """100% bars of answers per item (labels wrap), the answer values in an ordered palette, lowest first.

    ``scale`` names each answer value in order (``"1 - Strongly disagree"`` ...); ``rows`` hold the
    counts in the same order.
    """
    if not rows or not any(sum(counts) for _, counts in rows):
        return empty(title, empty_message)
    palette = ordinal_palette(len(scale))
    body = []
    for label, counts in rows:
        total = sum(counts)
        parts = []
        for name, n, colour in zip(scale, counts, palette, strict=True):
            if not n:
                continue
            parts.append(
                f"<span class='clone-seg' style='width:{100 * n / total:.3f}%;background:{colour};"
                f"color:{text_on(colour)}' title='{_e(name)}: {n}'>{n}</span>"
            )
        said = "; ".join(f"{name}: {n}" for name, n in zip(scale, counts, strict=True) if n) or "no answers"
        body.append(
            f"<tr><th scope='row'>{_e(label)}</th><td>"
            f"<div class='clone-stack' aria-hidden='true'>{''.join(parts)}</div>"
            f"<span class='clone-visually-hidden'>{_e(said)} (of {total})</span></td></tr>"
        )
    return (
        f"<figure class='clone-chart clone-stacked'><figcaption>{_e(title)}</figcaption>"
        f"{_legend(list(zip(scale, palette, strict=True)))}"
        f"<table><thead><tr><th scope='col'>Item</th><th scope='col'>Answers</th></tr></thead>"
        f"<tbody>{''.join(body)}</tbody></table></figure>"
    )


def intervals(
    title: str,
    groups: Sequence[tuple[str, Sequence[tuple[str, float, float, float, int]]]],
    low: float,
    high: float,
    *,
    empty_message: str = "Nothing to show yet.",
) -> str:
    """Means with 95% intervals, one row each (never on top of one another), on the scale ``low``..``high``.

    ``groups`` are (heading, rows of (label, mean, interval low, interval high, n)); a NaN bound means too
    few people for an interval (the mean alone is drawn).
    """
    rows = [r for _, rs in groups for r in rs if not math.isnan(r[1])]
    if not rows:
        return empty(title, empty_message)
    span = high - low
    ticks = list(range(int(low), int(high) + 1))

    def at(v: float) -> float:
        return 100 * (min(max(v, low), high) - low) / span

    body = []
    for heading, rs in groups:
        body.append(f"<tr class='clone-group'><th scope='rowgroup' colspan='2'>{_e(heading)}</th></tr>")
        for k, (label, mean, lo, hi, n) in enumerate(rs):
            colour = SERIES_COLOURS[k % 2]
            if math.isnan(mean):
                body.append(f"<tr><th scope='row'>{_e(label)}</th><td>no finished participants</td></tr>")
                continue
            has_ci = not (math.isnan(lo) or math.isnan(hi))
            whisker = (
                f"<span class='clone-ci' style='left:{at(lo):.3f}%;width:{at(hi) - at(lo):.3f}%;"
                f"background:{colour}'></span>"
                if has_ci
                else ""
            )
            said = f"{mean:.2f} (95% CI {lo:.2f} to {hi:.2f}), n = {n}" if has_ci else f"{mean:.2f}, n = {n}"
            body.append(
                f"<tr><th scope='row'>{_e(label)}</th><td><div class='clone-track' aria-hidden='true'>"
                f"{whisker}<span class='clone-dot' style='left:{at(mean):.3f}%;"
                f"background:{colour}'></span></div><span class='clone-value'>{_e(said)}</span></td></tr>"
            )
    axis = "".join(f"<span class='clone-tick' style='left:{100 * (t - low) / span:.3f}%'>{t}</span>" for t in ticks)
    return (
        f"<figure class='clone-chart clone-intervals'><figcaption>{_e(title)}</figcaption>"
        f"<table><thead><tr><th scope='col'>Group</th><th scope='col'>Mean (95% interval)</th></tr></thead>"
        f"<tbody>{''.join(body)}</tbody><tfoot><tr><td></td><td><div class='clone-axis' aria-hidden='true'>{axis}"
        f"</div></td></tr></tfoot></table></figure>"
    )
