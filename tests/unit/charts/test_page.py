"""The ui:// page: the SVG inline, a strict CSP, no script, no URL, and database text
(store names are untrusted) shown as text, never markup."""

from __future__ import annotations

from tests.support import chart_data as results
from tests.support.chart_page import PageContents
from zava.charts import page, render, shapes, specs
from zava.charts.draw import draw

HOSTILE = ['<script>alert("x")</script>', "A & B \"quoted\" 'single'",
           "</svg><img src=https://evil.example/x onerror=alert(1)>",
           '"><a href="javascript:alert(1)">go</a>', "{{datum.x}} ${x}"]


def hostile_page() -> str:
    report = results.performance(*(results.store(name, 100.0 + i)
                                   for i, name in enumerate(HOSTILE)))
    drawing = draw(shapes.store_performance(report), with_page=True)
    assert drawing.page is not None
    return drawing.page


def test_hostile_store_names_stay_text() -> None:
    contents = PageContents(hostile_page())
    labels = " ".join(value for name, value in contents.attributes if name == "aria-label")
    for name in HOSTILE:
        assert name in labels  # each bar's label, in full (the axis may shorten it)
    assert HOSTILE[0] in "".join(contents.text)
    assert "script" not in contents.tags and "img" not in contents.tags
    assert "a" not in contents.tags and "foreignobject" not in contents.tags
    assert contents.marks["bar"] == len(HOSTILE)


def test_the_page_has_no_script_no_handler_and_no_url() -> None:
    contents = PageContents(hostile_page())
    assert not [n for n, _ in contents.attributes if n.startswith("on")]
    assert not [n for n, _ in contents.attributes
                if n in ("src", "href", "xlink:href", "srcset", "action", "data")]
    # Only a namespace names a URL; labels are text (they may quote a hostile name).
    assert not [v for n, v in contents.attributes if ("http" in v or "url(" in v)
                and n not in ("xmlns", "xmlns:xlink", "aria-label")]


def test_the_page_declares_a_strict_policy() -> None:
    html = page.page("Revenue", "<svg></svg>")
    assert f'<meta http-equiv="Content-Security-Policy" content="{page.CSP}">' in html
    assert "default-src 'none'" in page.CSP and "script-src" not in page.CSP


def test_the_title_is_escaped() -> None:
    assert "<title>&lt;b&gt; &amp; co</title>" in page.page("<b> & co", "<svg></svg>")


def test_a_spec_loads_nothing() -> None:
    spec = specs.spec(shapes.sales_trend(results.trend(["Seattle"])))
    assert "url" not in spec["data"] and len(spec["data"]["values"]) == 24
    assert spec["width"] == specs.WIDTH and spec["height"] == specs.HEIGHT
    assert '<svg' in render.svg(spec)
