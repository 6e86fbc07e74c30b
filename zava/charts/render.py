"""Drawing a spec in-process with vl-convert (Vega in an embedded JavaScript runtime): no
browser, no network (``allowed_base_urls=[]``: a spec may load nothing), nothing kept
between calls. CPU-bound: callers on the event loop run it in a worker thread."""

from __future__ import annotations

import vl_convert

from zava.charts.specs import Spec


def svg(spec: Spec) -> str:
    """The chart as an SVG document."""
    return str(vl_convert.vegalite_to_svg(spec, allowed_base_urls=[]))


def png(svg_document: str) -> bytes:
    """An SVG document (from ``svg``) as PNG, at its own size."""
    return bytes(vl_convert.svg_to_png(svg_document, scale=1))
