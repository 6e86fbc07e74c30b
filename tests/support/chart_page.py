"""What a chart page holds, read with the standard library's HTML parser (unit tests read
the page as written; e2e tests read the DOM Chromium dumps)."""

from __future__ import annotations

from html.parser import HTMLParser


class PageContents(HTMLParser):
    """Tags, attributes and text of a page, and its marks (SVG elements Vega labels as
    a bar, point or line)."""

    def __init__(self, page: str) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.attributes: list[tuple[str, str]] = []
        self.text: list[str] = []
        self.marks: dict[str, int] = {}
        self.feed(page)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.attributes += [(name, value or "") for name, value in attrs]
        found = dict(attrs)
        if found.get("role") == "graphics-symbol":
            kind = found.get("aria-roledescription") or ""
            self.marks[kind] = self.marks.get(kind, 0) + 1

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)

    def handle_data(self, data: str) -> None:
        self.text.append(data)
