"""The CSV chunk writer of exports: the header once, values as the SQL tool returns them,
quoting that survives any text, formulas defused, and the byte cap."""

from __future__ import annotations

import csv
import io

import pytest

from zava.errors import ResultTooLargeError
from zava.repositories.json_values import JsonValue
from zava.services.exports import CsvChunks, cell

ROWS: list[list[JsonValue]] = [
    ["Seattle, WA", 3, 2.5, None, True],
    ['say "hi"\nthen leave', -1, 1e300, "", False],
    [{"a": [1, "é"]}, 12345678901234567890, "-12.5", "=HYPERLINK(1)", "@SUM(A1)"],
]


def _parse(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text, newline="")))


def test_the_header_comes_once_and_chunks_join_into_one_file() -> None:
    writer = CsvChunks(max_bytes=10_000)
    text = writer.write(["a", "b"], [[1, 2]]) + writer.write(["a", "b"], [[3, 4]])
    assert _parse(text) == [["a", "b"], ["1", "2"], ["3", "4"]]
    assert text.endswith("\r\n")


def test_an_empty_result_is_its_header() -> None:
    assert _parse(CsvChunks(max_bytes=1_000).write(["x"], [])) == [["x"]]


def test_values_read_back_as_the_sql_tool_returns_them() -> None:
    text = CsvChunks(max_bytes=10_000).write(["c1", "c2", "c3", "c4", "c5"], ROWS)
    assert _parse(text)[1:] == [
        ["Seattle, WA", "3", "2.5", "", "true"],
        ['say "hi"\nthen leave', "-1", "1e+300", "", "false"],
        ['{"a": [1, "é"]}', "12345678901234567890", "-12.5", "'=HYPERLINK(1)", "'@SUM(A1)"],
    ]


@pytest.mark.parametrize(("value", "written"), [
    ("+1", "+1"), ("-0.5e3", "-0.5e3"), ("-", "'-"), ("+cmd|' /C calc'!A0", "'+cmd|' /C calc'!A0"),
    ("\tx", "'\tx"), ("a=b", "a=b"),
])
def test_formulas_are_defused_but_numbers_kept(value: str, written: str) -> None:
    assert cell(value) == written


def test_the_byte_cap_stops_the_export() -> None:
    writer = CsvChunks(max_bytes=1_000)
    writer.write(["v"], [["x" * 400]])
    with pytest.raises(ResultTooLargeError, match="ZAVA_EXPORT_MAX_BYTES"):
        writer.write(["v"], [["x" * 700]])
