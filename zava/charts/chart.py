"""What a chart shows, independent of how it is drawn."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

ChartKind = Literal["line", "bars", "grouped_bars"]
"""A line for a time series, bars for a ranking, grouped bars for a comparison."""


@dataclass(frozen=True)
class Point:
    """One value: a bar, or a point of a line. ``x`` is the category or time label;
    ``series`` names the line, or the bar within its group (None for a single series)."""

    x: str
    y: float
    series: str | None = None


@dataclass(frozen=True)
class Chart:
    """A chart of one measure: its kind, its titles (the value axis with its unit), a d3
    number format for the values, and its points in drawing order (time order for a
    line, rank order for bars)."""

    kind: ChartKind
    title: str
    subtitle: str
    category_title: str
    value_title: str
    value_format: str
    points: tuple[Point, ...]
    series_title: str | None = None

    @property
    def series(self) -> tuple[str, ...]:
        """The series' names in order of first appearance (empty for a single series)."""
        return tuple(dict.fromkeys(p.series for p in self.points if p.series is not None))
