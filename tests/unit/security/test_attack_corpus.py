"""The public hostile-query corpus (``attacks.txt`` beside this file) against the SQL
guard: every line the guard must refuse is refused with the code ``query_rejected`` and a
message naming the construct its annotation names (a function, a table, a statement
kind), so a line refused for a typo fails. The lines it accepts are those annotated
``accepted``: row-level security contains them (tests/integration/security)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.attacks import ACCEPTED_ATTACKS, ATTACKS_FILE, CORPUS, Attack, parse
from zava.errors import QueryRejectedError
from zava.security.sql_guard import SqlGuard

TESTS = Path(__file__).resolve().parents[2]
REJECTED = [attack for attack in CORPUS if not attack.accepted]
ACCEPTED = [attack for attack in CORPUS if attack.accepted]


def rejection(guard: SqlGuard, sql: str) -> QueryRejectedError:
    with pytest.raises(QueryRejectedError) as caught:
        guard.check(sql)
    return caught.value


def test_the_corpus_lives_in_the_repository_and_every_query_is_annotated() -> None:
    assert ATTACKS_FILE.is_relative_to(TESTS) and ATTACKS_FILE.is_file()
    assert len(CORPUS) >= 60
    assert [a.line for a in CORPUS if not a.annotated] == []
    assert len({a.sql for a in CORPUS}) == len(CORPUS)  # no line twice


def test_only_three_harmless_selects_are_accepted() -> None:
    assert {
        "SELECT * FROM retail.customers WHERE store_id <> (SELECT store_id FROM retail.stores "
        "WHERE name ILIKE '%seattle%' LIMIT 1)",
        "SELECT count(*) FROM retail.order_items a CROSS JOIN retail.order_items b",
        "SELECT * FROM generate_series(1, 100000000)",
    } == ACCEPTED_ATTACKS


@pytest.mark.parametrize("attack", REJECTED, ids=str)
def test_rejected_line_names_what_is_refused(guard: SqlGuard, attack: Attack) -> None:
    assert attack.expect, "annotate the line with '# expect: <text>'"
    error = rejection(guard, attack.sql)
    assert error.code == "query_rejected"
    assert attack.expect in error.message, f"line {attack.line}: {error.message}"


@pytest.mark.parametrize("attack", ACCEPTED, ids=str)
def test_accepted_line_is_passed_on_unchanged(guard: SqlGuard, attack: Attack) -> None:
    assert guard.check(attack.sql).sql == attack.sql


@pytest.mark.parametrize("attack", REJECTED, ids=str)
def test_a_misspelt_line_would_not_pass_for_its_expected_rejection(
        guard: SqlGuard, attack: Attack) -> None:
    """What the annotations buy: the same line with its first keyword misspelt is refused
    as a syntax error, and that does not satisfy the annotation."""
    keyword, _, rest = attack.sql.partition(" ")
    misspelt = keyword[:-1] + " " + rest
    error = rejection(guard, misspelt)
    assert "syntax error" in error.message
    assert attack.expect is not None and attack.expect not in error.message


def test_the_annotations_must_each_annotate_one_query() -> None:
    corpus = parse("# a comment\n# expect: function x\nSELECT x()\n\n"
                   "# accepted: harmless\nSELECT 1\nSELECT 2\n")
    assert [(a.sql, a.line, a.expect, a.accepted, a.annotated) for a in corpus] == [
        ("SELECT x()", 3, "function x", None, True),
        ("SELECT 1", 6, None, "harmless", True),
        ("SELECT 2", 7, None, None, False),
    ]
    for broken in ("# expect: a\n# expect: b\nSELECT 1\n", "# expect: a\n\nSELECT 1\n",
                   "# expect: a\n# note\nSELECT 1\n", "SELECT 1\n# accepted: why\n",
                   "# expect:\nSELECT 1\n"):
        with pytest.raises(ValueError, match="annotation"):
            parse(broken)
