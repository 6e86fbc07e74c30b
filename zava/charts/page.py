"""The chart as an HTML page for MCP Apps hosts: the server-rendered SVG inline, so the
page needs no script, no font and no request at all; its Content-Security-Policy allows
inline styles and data: images only (no script, no connection, no frame)."""

from __future__ import annotations

import html

CSP = ("default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; "
       "form-action 'none'")
_STYLE = "body{margin:0;background:#fff}svg{display:block;max-width:100%;height:auto}"


def page(title: str, svg_document: str) -> str:
    """A self-contained page showing ``svg_document`` (from ``render.svg``, whose text is
    escaped by Vega); ``title`` is escaped here."""
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<meta http-equiv=\"Content-Security-Policy\" content=\"{CSP}\">"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
            f"<title>{html.escape(title)}</title><style>{_STYLE}</style></head>"
            f"<body><main>{svg_document}</main></body></html>\n")
