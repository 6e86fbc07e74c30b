"""The hostile-query corpus (``tests/unit/security/attacks.txt``) and what the SQL guard
must do with each line: reject it naming a construct (``# expect: <text>``) or accept it
for row-level security to contain (``# accepted: <why>``). The file's header describes
the format; the unit tests check every line against its annotation, the integration and
end-to-end tests run the same queries against a database and a server."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

ATTACKS_FILE = Path(__file__).resolve().parents[1] / "unit" / "security" / "attacks.txt"
EXPECT = "# expect:"
ACCEPTED = "# accepted:"


@dataclass(frozen=True)
class Attack:
    """One query of the corpus and its annotation."""

    sql: str
    line: int
    """Its line number in the file (1-based)."""
    expect: str | None
    """Text the guard's rejection message must contain; None if it is accepted (or
    the annotation is missing)."""
    accepted: str | None
    """Why the guard may accept it; None if it must be rejected."""

    @property
    def annotated(self) -> bool:
        return (self.expect is None) != (self.accepted is None)

    def __str__(self) -> str:  # the parametrised test id
        return f"line {self.line}"


def parse(text: str) -> list[Attack]:
    """The queries of a corpus file, each with the annotation right above it.

    Raises ``ValueError`` for an annotation that annotates nothing: one followed by
    another annotation, a comment, a blank line or the end of the file.
    """
    attacks: list[Attack] = []
    pending: tuple[int, str, str] | None = None  # (line, kind, text)
    for number, line in enumerate(text.splitlines(), start=1):
        for kind in (EXPECT, ACCEPTED):
            if line.startswith(kind):
                if pending is not None:
                    raise ValueError(f"line {pending[0]}: annotation without a query")
                value = line.removeprefix(kind).strip()
                if not value:
                    raise ValueError(f"line {number}: empty annotation")
                pending = (number, kind, value)
                break
        else:
            if not line.strip() or line.startswith("#"):
                if pending is not None:
                    raise ValueError(f"line {pending[0]}: annotation without a query")
                continue
            annotation = pending[1] if pending else None
            attacks.append(Attack(
                sql=line, line=number,
                expect=pending[2] if pending and annotation == EXPECT else None,
                accepted=pending[2] if pending and annotation == ACCEPTED else None))
            pending = None
    if pending is not None:
        raise ValueError(f"line {pending[0]}: annotation without a query")
    return attacks


CORPUS = parse(ATTACKS_FILE.read_text())
ATTACKS = [attack.sql for attack in CORPUS]
"""The queries alone, in file order."""
ACCEPTED_ATTACKS = frozenset(attack.sql for attack in CORPUS if attack.accepted)
"""The queries the guard accepts (row-level security and the caps must contain them)."""
