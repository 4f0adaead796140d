"""Chart geometry for server-rendered SVG (pure): bars, markers, axes and their labels.

Templates draw what this computes with SVG presentation attributes and CSS classes (the content
security policy forbids inline styles). Every bar carries its value as text, written for the
reader's locale with Babel, and a hidden value ("<5", or travel of such a count) gets no bar but
its marker text, so a chart reads without colour and never shows more than the tables do.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from babel.numbers import format_decimal, format_percent

Value = int | float | str | None


@dataclass(frozen=True, slots=True)
class Bar:
    label: str
    value_text: str
    x: float
    y: float
    width: float
    height: float
    label_x: float
    label_y: float
    value_x: float
    value_y: float


@dataclass(frozen=True, slots=True)
class Marker:
    value_text: str
    cx: float
    cy: float


@dataclass(frozen=True, slots=True)
class Tick:
    text: str
    x1: float
    y1: float
    x2: float
    y2: float
    text_x: float
    text_y: float


@dataclass(frozen=True, slots=True)
class Chart:
    width: float
    height: float
    bars: tuple[Bar, ...]
    markers: tuple[Marker, ...]
    ticks: tuple[Tick, ...]
    marker_path: str  # polyline through the markers, "" when there are none


def number(value: Value) -> float | None:
    """The value to draw, or None for a hidden value."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


# The page's languages as Babel locales: Norwegian writes 1 138,2 (no-break space, comma).
LOCALES = {"nn": "nn_NO", "nb": "nb_NO", "en": "en_GB"}


def _locale(language: str) -> str:
    return LOCALES.get(language, LOCALES["nn"])


def value_text(value: Value, hidden_text: str, language: str = "nn") -> str:
    """A figure as the reader's locale writes it (Babel), "<5", or the hidden marker."""
    if value is None:
        return "–"
    if isinstance(value, str):
        return value if value == "<5" else hidden_text
    if isinstance(value, float) and not value.is_integer():
        return format_decimal(value, "#,##0.0", locale=_locale(language))
    return format_decimal(value, "#,##0", locale=_locale(language))


def percent_text(share: float, language: str = "nn") -> str:
    return format_percent(share, locale=_locale(language))


# A generous average width of one character of the charts' 12 px labels (stats.css).
LABEL_CHAR_WIDTH = 7.0


def nice_ticks(maximum: float, count: int = 4) -> list[float]:
    """Round axis steps (1, 2 or 5 × a power of ten) from 0 to at least `maximum`."""
    if maximum <= 0:
        return [0.0, 1.0]
    raw = maximum / count
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
    top = step * math.ceil(maximum / step)
    return [i * step for i in range(round(top / step) + 1)]


def vertical_bars(
    items: Sequence[tuple[str, Value]],
    markers: Sequence[Value] = (),
    *,
    hidden_text: str,
    language: str = "nn",
    width: float = 720,
    height: float = 280,
) -> Chart:
    """Bars over periods, with an optional second series drawn as circles joined by a line."""
    left, right, top, bottom = 48.0, 12.0, 24.0, 56.0
    plot_w, plot_h = width - left - right, height - top - bottom
    values = [number(v) for _, v in items] + [number(v) for v in markers]
    ticks = nice_ticks(max([v for v in values if v is not None], default=0.0))
    scale = plot_h / ticks[-1]
    slot = plot_w / max(len(items), 1)
    bar_w = slot * 0.6
    bars = []
    for i, (label, value) in enumerate(items):
        x = left + i * slot + (slot - bar_w) / 2
        v = number(value) or 0.0
        h = v * scale
        y = top + plot_h - h
        bars.append(
            Bar(
                label=label,
                value_text=value_text(value, hidden_text, language),
                x=round(x, 1),
                y=round(y, 1),
                width=round(bar_w, 1),
                height=round(h, 1),
                label_x=round(x + bar_w / 2, 1),
                label_y=round(top + plot_h + 18, 1),
                value_x=round(x + bar_w / 2, 1),
                value_y=round(y - 4, 1),
            )
        )
    circles = []
    for i, value in enumerate(markers):
        marked = number(value)
        if marked is None:
            continue
        circles.append(
            Marker(
                value_text=value_text(value, hidden_text, language),
                cx=round(left + i * slot + slot / 2, 1),
                cy=round(top + plot_h - marked * scale, 1),
            )
        )
    axis = tuple(
        Tick(
            text=value_text(t, hidden_text, language),
            x1=left,
            y1=round(top + plot_h - t * scale, 1),
            x2=width - right,
            y2=round(top + plot_h - t * scale, 1),
            text_x=left - 6,
            text_y=round(top + plot_h - t * scale + 4, 1),
        )
        for t in ticks
    )
    path = " ".join(f"{m.cx},{m.cy}" for m in circles)
    return Chart(width, height, tuple(bars), tuple(circles), axis, path)


def horizontal_bars(
    items: Sequence[tuple[str, Value]],
    *,
    hidden_text: str,
    language: str = "nn",
    width: float = 720,
    row_height: float = 30,
) -> Chart:
    """One bar per category, labels on the left and the value at the end of the bar. The label
    column is as wide as the longest label needs ("Alvorlege psykiske lidingar og rusproblem"),
    up to half the chart, so no label is clipped at the chart's edge."""
    longest = max((len(label) for label, _ in items), default=0)
    left = min(max(200.0, LABEL_CHAR_WIDTH * longest + 16), width / 2)
    right, top, bottom = 70.0, 8.0, 24.0
    height = top + bottom + row_height * max(len(items), 1)
    plot_w = width - left - right
    values = [number(v) for _, v in items]
    ticks = nice_ticks(max([v for v in values if v is not None], default=0.0))
    scale = plot_w / ticks[-1]
    bars = []
    for i, (label, value) in enumerate(items):
        y = top + i * row_height + row_height * 0.2
        bar_h = row_height * 0.6
        w = (number(value) or 0.0) * scale
        bars.append(
            Bar(
                label=label,
                value_text=value_text(value, hidden_text, language),
                x=left,
                y=round(y, 1),
                width=round(w, 1),
                height=round(bar_h, 1),
                label_x=left - 8,
                label_y=round(y + bar_h / 2 + 4, 1),
                value_x=round(left + w + 6, 1),
                value_y=round(y + bar_h / 2 + 4, 1),
            )
        )
    axis = tuple(
        Tick(
            text=value_text(t, hidden_text, language),
            x1=round(left + t * scale, 1),
            y1=top,
            x2=round(left + t * scale, 1),
            y2=height - bottom,
            text_x=round(left + t * scale, 1),
            text_y=height - bottom + 16,
        )
        for t in ticks
    )
    return Chart(width, height, tuple(bars), (), axis, "")
