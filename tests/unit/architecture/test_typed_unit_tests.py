"""The unit tests are type-checked like the package (``mypy zava tests/unit`` in
``make test``): a fake that drifts from the interface it stands for must fail there, so
no unit test may silence the checker."""

from __future__ import annotations

from pathlib import Path

UNIT = Path(__file__).resolve().parents[1]
MARKER = "type: " + "ignore"  # split, so this file does not match itself


def test_no_unit_test_silences_the_type_checker() -> None:
    found = [f"{path.relative_to(UNIT)}:{number}"
             for path in sorted(UNIT.rglob("*.py"))
             for number, line in enumerate(path.read_text().splitlines(), start=1)
             if MARKER in line]
    assert not found, f"remove the {MARKER} comments (fix the types instead): {found}"
