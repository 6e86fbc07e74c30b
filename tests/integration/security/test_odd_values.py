"""Odd values through the free-SQL path: every type the guard allows comes back as a
faithful JSON value (text where JSON has none), nesting ends in a clear
``result_too_nested``, and nothing ends in ``internal_error``.

The reference for "faithful" is PostgreSQL itself: ``to_json(<literal>)`` on the admin
engine, parsed with exact numbers. A number may come back as a JSON number only when it
is the same number; otherwise as its exact digits in text.
"""

from __future__ import annotations

import json
import math
import uuid
from collections.abc import AsyncIterator
from decimal import Decimal
from fractions import Fraction
from typing import Any, Literal

import pytest
from hypothesis import HealthCheck, event, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.support.catalog_snapshot import load_catalog, production_guard
from zava.config import Settings
from zava.errors import QueryRejectedError, ZavaError
from zava.repositories.queries import QueryResult, ResultTooNestedError
from zava.security.sql_guard import GuardedQuery, SqlGuard
from zava.seeding import company
from zava.services.queries import QueryLimits, run_query
from zava.services.unit_of_work import SqlAlchemyUnitOfWork

SEATTLE = company.SEATTLE_MANAGER_ID
SPECIAL_NUMBERS = {"NaN", "Infinity", "-Infinity"}


@pytest.fixture(scope="module")
def guard() -> SqlGuard:
    return production_guard(load_catalog())


async def run(engine: AsyncEngine, settings: Settings, guard: SqlGuard, sql: str) -> QueryResult:
    """``sql`` through the free-SQL use case, as execute_sales_query runs it."""
    result = await run_query(SqlAlchemyUnitOfWork(engine, settings, SEATTLE), guard, sql,
                             QueryLimits(max_rows=settings.max_rows,
                                         max_bytes=settings.max_result_bytes,
                                         slow_query_ms=1e9, max_cost=settings.max_query_cost,
                                         max_depth=settings.max_result_depth))
    json.dumps(result.rows, allow_nan=False)  # strict JSON: no NaN, no Infinity, no objects
    return result


async def one_row(engine: AsyncEngine, settings: Settings, guard: SqlGuard,
                  sql: str) -> list[Any]:
    result = await run(engine, settings, guard, sql)
    assert result.row_count == 1 and not result.truncated
    return result.rows[0]


# --- the cases found in the review ----------------------------------------------------

@pytest.mark.parametrize(("literal", "expected"), [
    ("'10000-01-01'::date", "10000-01-01"),
    ("date '0001-01-01 BC'", "0001-01-01 BC"),
    ("'4713-01-01 BC'::date", "4713-01-01 BC"),
    ("'5874897-12-31'::date", "5874897-12-31"),
    ("'10000-01-01 00:00'::timestamptz", "10000-01-01T00:00:00+00:00"),
    ("'294276-12-31 23:59:59'::timestamp", "294276-12-31T23:59:59"),
    ("'0044-03-15 12:00 BC'::timestamp", "0044-03-15T12:00:00 BC"),
    ("'infinity'::date", "infinity"),
    ("'-infinity'::date", "-infinity"),
    ("'infinity'::timestamp", "infinity"),
    ("'-infinity'::timestamptz", "-infinity"),
    ("1e400::numeric", "1" + "0" * 400),
    ("-1e-400::numeric", "-0." + "0" * 399 + "1"),
    ("'x'::\"char\"", "x"),
    ("'\"'::\"char\"", '"'),
    ("'NaN'::float8", "NaN"),
    ("'Infinity'::float8", "Infinity"),
    ("'-Infinity'::float4", "-Infinity"),
    ("'NaN'::numeric", "NaN"),
    ("'Infinity'::numeric", "Infinity"),
    ("'1 year 2 mons -3 days 04:05:06.789'::interval", "1 year 2 mons -3 days +04:05:06.789"),
    ("'infinity'::interval", "infinity"),
    ("'-infinity'::interval", "-infinity"),
    ("'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'::uuid", "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"),
    ("'\\x00ff'::bytea", "\\x00ff"),
    ("12345678901234567890::numeric", "12345678901234567890"),
    ("0.1234567890123456789::numeric", "0.1234567890123456789"),
    ("'9223372036854775807'::int8", "9223372036854775807"),
    ("'</untrusted-data>'::text", "</untrusted-data>"),
])
async def test_the_reviews_odd_values_come_back_as_postgresql_writes_them(
    seeded_app_engine: AsyncEngine, settings: Settings, guard: SqlGuard,
    literal: str, expected: str,
) -> None:
    assert await one_row(seeded_app_engine, settings, guard, f"SELECT {literal} AS v") \
        == [expected]


@pytest.mark.parametrize(("literal", "expected"), [
    ("1::int2", 1), ("'-2147483648'::int4", -2147483648), ("0.5::float4", 0.5),
    ("1.10::numeric", 1.1), ("true", True), ("NULL::int4", None),
    ("'1e308'::float8", 1e308), ("'5e-324'::float8", 5e-324),
    # A double is a double: all its shortest digits are exact.
    ("0.1::float8 + 0.2::float8", 0.30000000000000004),
    ("'1.7976931348623157e308'::float8", 1.7976931348623157e308),
    ("'0.8444218515250481'::float8", 0.8444218515250481),
])
async def test_numbers_a_double_holds_come_back_as_json_numbers(
    seeded_app_engine: AsyncEngine, settings: Settings, guard: SqlGuard,
    literal: str, expected: object,
) -> None:
    [value] = await one_row(seeded_app_engine, settings, guard, f"SELECT {literal} AS v")
    assert value == expected and type(value) is type(expected)


async def test_negative_zero_is_zero(
    seeded_app_engine: AsyncEngine, settings: Settings, guard: SqlGuard,
) -> None:
    row = await one_row(seeded_app_engine, settings, guard,
                        "SELECT '-0'::float8 AS a, '-0'::numeric AS b, -0.0::float4 AS c")
    assert row == [0, 0, 0] and not any(isinstance(v, str) for v in row)


@pytest.mark.parametrize("literal", [
    "2.3333333333333333::numeric",  # a double would make it 2.3333333333333335
    "'0.30000000000000004441'::numeric",
    "'1.23456789012345e-310'::numeric",  # subnormal as a double: fewer digits survive
])
async def test_numerics_a_double_would_change_keep_their_digits(
    seeded_app_engine: AsyncEngine, settings: Settings, guard: SqlGuard, literal: str,
) -> None:
    [value] = await one_row(seeded_app_engine, settings, guard, f"SELECT {literal} AS v")
    assert isinstance(value, str)
    assert Decimal(value) == Decimal(literal.split("::")[0].strip("'"))


async def test_arrays_composites_and_records_are_json_structures(
    seeded_app_engine: AsyncEngine, settings: Settings, guard: SqlGuard,
) -> None:
    row = await one_row(seeded_app_engine, settings, guard, """
        SELECT ARRAY[1, 2, NULL] AS ints, ARRAY[ARRAY[1, 2], ARRAY[3, 4]] AS square,
               ARRAY['a', '</untrusted-data>']::text[] AS texts, '{}'::int[] AS empty,
               ARRAY['infinity'::date, '10000-01-01'::date] AS dates,
               ROW(1, 'a', NULL) AS composite,
               ROW(ROW(1.5, 'x'), ARRAY[1e400::numeric]) AS nested,
               ARRAY[ROW(1, 'y')] AS records""")
    assert row == [
        [1, 2, None], [[1, 2], [3, 4]], ["a", "</untrusted-data>"], [],
        ["infinity", "10000-01-01"],
        {"f1": 1, "f2": "a", "f3": None},
        {"f1": {"f1": 1.5, "f2": "x"}, "f2": ["1" + "0" * 400]},
        [{"f1": 1, "f2": "y"}],
    ]


async def test_a_table_row_as_one_value_is_an_object_of_its_columns(
    seeded_app_engine: AsyncEngine, settings: Settings, guard: SqlGuard,
) -> None:
    result = await run(seeded_app_engine, settings, guard,
                       "SELECT s AS store, s.store_id FROM retail.stores s")
    assert result.row_count >= 1
    for store, store_id in result.rows:
        assert isinstance(store, dict) and store["store_id"] == store_id
        uuid.UUID(str(store_id))


async def test_json_and_jsonb_values_are_embedded_not_quoted(
    seeded_app_engine: AsyncEngine, settings: Settings, guard: SqlGuard,
) -> None:
    row = await one_row(seeded_app_engine, settings, guard, """
        SELECT '{"a": [1, 2.5, null], "b": "</untrusted-data>"}'::json AS j,
               '{"big": 1e400, "tiny": 0.1}'::jsonb AS b, '"just text"'::jsonb AS s,
               'null'::jsonb AS n""")
    assert row == [{"a": [1, 2.5, None], "b": "</untrusted-data>"},
                   {"big": "1" + "0" * 400, "tiny": 0.1}, "just text", None]


async def test_duplicate_column_names_are_kept_in_order(
    seeded_app_engine: AsyncEngine, settings: Settings, guard: SqlGuard,
) -> None:
    result = await run(seeded_app_engine, settings, guard,
                       "SELECT 1 AS a, 2 AS a, 3 AS b, 'x' AS a")
    assert result.columns == ["a", "a", "b", "a"]
    assert result.rows == [[1, 2, 3, "x"]]
    joined = await run(seeded_app_engine, settings, guard,
                       "SELECT s.store_id, o.store_id FROM retail.stores s "
                       "JOIN retail.orders o USING (store_id) LIMIT 1")
    assert joined.columns == ["store_id", "store_id"]
    assert joined.rows[0][0] == joined.rows[0][1]


@pytest.mark.parametrize(("sql", "columns"), [
    ("SELECT 1 AS a, 'x' AS b WHERE false", ["a", "b"]),
    ("SELECT store_id, name FROM retail.stores WHERE false", ["store_id", "name"]),
    ("SELECT * FROM retail.stores LIMIT 0", None),
    ("SELECT 1 AS a, 1 AS a WHERE false", ["a", "a"]),
])
async def test_zero_rows_still_name_the_columns(
    seeded_app_engine: AsyncEngine, settings: Settings, guard: SqlGuard,
    sql: str, columns: list[str] | None,
) -> None:
    result = await run(seeded_app_engine, settings, guard, sql)
    assert result.rows == [] and not result.truncated
    if columns is None:
        assert "store_id" in result.columns and "name" in result.columns
    else:
        assert result.columns == columns


OTHER_TYPES = [
    "'12:34:56.789'::time", "'12:00+05:30'::timetz", "'192.168.0.1/24'::inet",
    "'10.0.0.0/8'::cidr", "'08:00:2b:01:02:03'::macaddr", "'08:00:2b:01:02:03:04:05'::macaddr8",
    "'12.34'::money", "B'1011'", "'101'::varbit", "'1011'::bit(4)", "'(1,2)'::point",
    "'{1,2,3}'::line", "'((0,0),(1,1))'::box", "'<(1,2),3>'::circle",
    "'((0,0),(1,0),(0,1))'::polygon", "'[(0,0),(1,1)]'::path", "'[(0,0),(1,1)]'::lseg",
    "'a fat cat'::tsvector", "'fat & cat'::tsquery", "'[1,5)'::int4range",
    "'(1.5,2.5]'::numrange", "'[2020-01-01,infinity)'::daterange",
    "'[2020-01-01 00:00+00,2021-01-01 00:00+00)'::tstzrange", "'{[1,2),[5,6)}'::int4multirange",
    "'[1,2.5,3]'::vector", "'[1,2]'::halfvec", "'{1:1.5,3:2}/5'::sparsevec", "'abc'::name",
    "'ab'::char(4)", "'ab'::varchar(10)", "'{\"a\",NULL}'::text[]", "'$.a'::jsonpath",
    "'english'::regconfig", "'2020-01-01'::date - '2019-01-01'::date",
    "'{\"a\": {\"b\": 1e400}}'::jsonb #> '{a}'", "ARRAY['[1,2)'::int4range]",
    "ARRAY['(1,2)'::point, NULL]", "ROW('12:00'::time, '1.2.3.4'::inet, '[1]'::vector)",
]


@pytest.mark.parametrize("literal", OTHER_TYPES)
async def test_other_allowed_types_come_back_as_postgresql_writes_them(
    seeded_app_engine: AsyncEngine, settings: Settings, guard: SqlGuard, reference: Any,
    literal: str,
) -> None:
    [value] = await one_row(seeded_app_engine, settings, guard, f"SELECT {literal} AS v")
    said = await reference.fetchval(f"SELECT to_json({literal})::text")
    faithful(value, exact(said), "other")


# --- nesting ---------------------------------------------------------------------------

def nested_row(depth: int) -> str:
    return "ROW(" * depth + "1" + ")" * depth


def depth_of(value: object) -> int:
    depth = 0
    while isinstance(value, dict):
        value, depth = value["f1"], depth + 1
    return depth


async def test_nesting_up_to_the_bound_is_served(
    seeded_app_engine: AsyncEngine, settings: Settings, guard: SqlGuard,
) -> None:
    bound = settings.max_result_depth
    [value] = await one_row(seeded_app_engine, settings, guard,
                            f"SELECT {nested_row(bound)} AS v")
    assert depth_of(value) == bound


@pytest.mark.parametrize("sql", [
    f"SELECT {nested_row(33)} AS v",
    f"SELECT {nested_row(40)} AS v",
    f"SELECT {nested_row(300)} AS v",
    "SELECT (repeat('[', 100) || repeat(']', 100))::json AS v",
    "SELECT (repeat('[', 3000) || repeat(']', 3000))::jsonb AS v",  # past Python's parser
    "SELECT (repeat('{\"a\":', 5000) || '1' || repeat('}', 5000))::jsonb AS v",
    "SELECT ARRAY[(repeat('[', 40) || repeat(']', 40))::jsonb] AS v",
])
async def test_deeper_nesting_is_a_clear_result_too_nested(
    seeded_app_engine: AsyncEngine, settings: Settings, guard: SqlGuard, sql: str,
) -> None:
    with pytest.raises(ResultTooNestedError) as caught:
        await run(seeded_app_engine, settings, guard, sql)
    assert caught.value.code == "result_too_nested"
    assert f"more than {settings.max_result_depth} levels" in caught.value.message


async def test_a_2000_deep_row_is_refused_clearly_by_the_guard_and_by_the_repository(
    seeded_app_engine: AsyncEngine, settings: Settings, guard: SqlGuard,
) -> None:
    sql = f"SELECT {nested_row(2000)} AS v"
    # The guard does not parse it: a clear refusal before any connection is taken.
    with pytest.raises(QueryRejectedError, match="nested too deeply"):
        await run(seeded_app_engine, settings, guard, sql)
    # Behind the guard, the repository alone ends it with result_too_nested, not a crash.
    async with SqlAlchemyUnitOfWork(seeded_app_engine, settings, SEATTLE) as uow:
        with pytest.raises(ResultTooNestedError):
            await uow.queries.run(GuardedQuery(sql, False, frozenset()), max_rows=10,
                                  max_bytes=1_000_000)


@pytest.mark.parametrize("depth", [100, 250])
async def test_rows_as_deep_as_the_guard_parses_are_result_too_nested(
    seeded_app_engine: AsyncEngine, settings: Settings, guard: SqlGuard, depth: int,
) -> None:
    try:
        guard.check(f"SELECT {nested_row(depth)}")
    except QueryRejectedError:
        pytest.skip(f"this guard refuses a {depth}-deep ROW already")
    with pytest.raises(ResultTooNestedError):
        await run(seeded_app_engine, settings, guard, f"SELECT {nested_row(depth)} AS v")


# --- property: generated values of every allowed type ---------------------------------

SCALAR_KINDS = ["int2", "int4", "int8", "numeric", "float4", "float8", "text", "bool",
                "date", "timestamp", "timestamptz", "interval", "uuid", "bytea", "json",
                "jsonb"]
INT_RANGES = {"int2": 2**15, "int4": 2**31, "int8": 2**63}
SURROGATES: tuple[Literal["Cs"]] = ("Cs",)
HOSTILE_TEXT = ["</untrusted-data>", "<untrusted-data>", "'", "''", "\\", "\\\\'", '"',
                "\\x00", "\\u0000", "$$", "\r\n", "\t", "\u2028", "\U0001f600", "é",
                "</UNTRUSTED-DATA >"]
TEXTS = st.one_of(
    st.text(st.characters(exclude_categories=SURROGATES, exclude_characters="\x00"),
            max_size=40),
    st.lists(st.sampled_from(HOSTILE_TEXT), max_size=6).map("".join),
)


def quoted(value: str) -> str:
    """A standard SQL string literal (standard_conforming_strings is on)."""
    return "'" + value.replace("'", "''") + "'"


@st.composite
def numerics(draw: st.DrawFn) -> str:
    special = draw(st.sampled_from([None] * 8 + ["NaN", "Infinity", "-Infinity"]))
    if special:
        return f"'{special}'::numeric"
    sign = draw(st.sampled_from(["", "-"]))
    if draw(st.booleans()):  # with a typmod: precision and scale the value fits in
        precision = draw(st.integers(1, 60))
        scale = draw(st.integers(0, precision))
        whole = draw(st.text("0123456789", min_size=1, max_size=max(1, precision - scale)))
        if precision == scale:
            whole = "0"
        fraction = draw(st.text("0123456789", max_size=scale + 5))
        number = f"{sign}{whole}.{fraction}" if fraction else f"{sign}{whole}"
        return f"'{number}'::numeric({precision}, {scale})"
    digits = draw(st.text("0123456789", min_size=1, max_size=60))
    exponent = draw(st.integers(-420, 420))
    return f"'{sign}{digits}e{exponent}'::numeric"


def floats(kind: str) -> st.SearchStrategy[str]:
    width: Literal[32, 64] = 32 if kind == "float4" else 64

    def literal(value: float) -> str:
        if math.isnan(value):
            return f"'NaN'::{kind}"
        if math.isinf(value):
            return f"'{'-' if value < 0 else ''}Infinity'::{kind}"
        return f"'{value!r}'::{kind}"
    return st.floats(width=width).map(literal)


@st.composite
def dates(draw: st.DrawFn, *, with_time: bool, zone: bool) -> str:
    kind = "timestamptz" if zone else "timestamp" if with_time else "date"
    infinite = draw(st.sampled_from([None] * 10 + ["infinity", "-infinity"]))
    if infinite:
        return f"'{infinite}'::{kind}"
    bc = draw(st.booleans())
    top = 4713 if bc else (294275 if with_time else 5874896)
    year = draw(st.integers(1, top))
    text_ = f"{year:04d}-{draw(st.integers(1, 12)):02d}-{draw(st.integers(1, 28)):02d}"
    if with_time:
        text_ += (f" {draw(st.integers(0, 23)):02d}:{draw(st.integers(0, 59)):02d}:"
                  f"{draw(st.integers(0, 59)):02d}.{draw(st.integers(0, 999999)):06d}")
    if zone:
        minutes = draw(st.integers(-14 * 60, 14 * 60))
        text_ += f"{'-' if minutes < 0 else '+'}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"
    if bc:
        text_ += " BC"
    return f"'{text_}'::{kind}"


@st.composite
def intervals(draw: st.DrawFn) -> str:
    infinite = draw(st.sampled_from([None] * 10 + ["infinity", "-infinity"]))
    if infinite:
        return f"'{infinite}'::interval"
    years = draw(st.integers(-100_000, 100_000))
    months = draw(st.integers(-1000, 1000))
    days = draw(st.integers(-1_000_000, 1_000_000))
    hours = draw(st.integers(-1_000_000, 1_000_000))
    minutes = draw(st.integers(-10_000, 10_000))
    micros = draw(st.integers(-10**12, 10**12))
    seconds = f"{'-' if micros < 0 else ''}{abs(micros) // 10**6}.{abs(micros) % 10**6:06d}"
    return (f"'{years} years {months} mons {days} days {hours} hours {minutes} mins "
            f"{seconds} secs'::interval")


JSON_DOCUMENTS = st.recursive(
    st.none() | st.booleans() | st.integers(-10**30, 10**30)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(st.characters(exclude_categories=SURROGATES, exclude_characters="\x00"),
              max_size=12)
    | st.sampled_from(HOSTILE_TEXT),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(TEXTS, inner, max_size=4),
    max_leaves=12,
)


def scalars(kind: str) -> st.SearchStrategy[str]:
    """SQL literals of one allowed scalar type, each cast to it."""
    if kind in INT_RANGES:
        bound = INT_RANGES[kind]
        return st.integers(-bound, bound - 1).map(lambda v: f"'{v}'::{kind}")
    strategies: dict[str, st.SearchStrategy[str]] = {
        "numeric": numerics(),
        "float4": floats("float4"),
        "float8": floats("float8"),
        "text": TEXTS.map(lambda v: f"{quoted(v)}::text"),
        "bool": st.booleans().map(lambda v: "true" if v else "false"),
        "date": dates(with_time=False, zone=False),
        "timestamp": dates(with_time=True, zone=False),
        "timestamptz": dates(with_time=True, zone=True),
        "interval": intervals(),
        "uuid": st.uuids().map(lambda v: f"'{v}'::uuid"),
        "bytea": st.binary(max_size=40).map(lambda v: f"'\\x{v.hex()}'::bytea"),
        "json": JSON_DOCUMENTS.map(lambda v: f"{quoted(json.dumps(v))}::json"),
        "jsonb": JSON_DOCUMENTS.map(
            lambda v: f"{quoted(json.dumps(v, ensure_ascii=False))}::jsonb"),
    }
    return strategies[kind]


@st.composite
def values(draw: st.DrawFn) -> tuple[str, str]:
    """(kind, SQL expression): a scalar, NULL, a 1-D or 2-D array, or a record."""
    kind = draw(st.sampled_from(SCALAR_KINDS))
    shape = draw(st.sampled_from(["scalar"] * 5 + ["null", "array", "matrix", "record"]))
    element = scalars(kind)
    if shape == "null":
        return kind, f"NULL::{kind}"
    if shape == "array":
        items = draw(st.lists(element | st.just(f"NULL::{kind}"), max_size=5))
        return kind, f"ARRAY[{', '.join(items)}]::{kind}[]"
    if shape == "matrix":
        width = draw(st.integers(1, 3))
        rows = draw(st.lists(st.lists(element, min_size=width, max_size=width),
                             min_size=1, max_size=3))
        inner = ", ".join(f"ARRAY[{', '.join(row)}]" for row in rows)
        return kind, f"ARRAY[{inner}]::{kind}[]"
    if shape == "record":
        fields = draw(st.lists(element | st.sampled_from(["NULL", "'</untrusted-data>'"]),
                               min_size=1, max_size=3))
        return "record", f"ROW({', '.join(fields)})"
    return kind, draw(element)


def exact(text_: str) -> Any:
    """PostgreSQL's JSON text with every number as an exact ``Decimal``."""
    return json.loads(text_, parse_float=Decimal, parse_int=Decimal)


def faithful(actual: object, expected: object, kind: str, where: str = "v") -> None:
    """``actual`` (the repository's value) is ``expected`` (PostgreSQL's to_json)."""
    if isinstance(expected, Decimal):
        assert not isinstance(actual, bool), where
        if isinstance(actual, int):
            assert Decimal(actual) == expected, where
        elif isinstance(actual, float):
            # The same double, and PostgreSQL's digits are that double's: no decimal of
            # their length is nearer to it. A numeric with digits a double lacks stays text.
            digits = len(expected.normalize().as_tuple().digits)
            unit = Fraction(10) ** (expected.adjusted() - digits + 1)
            assert math.isfinite(actual) and actual == float(expected), where
            assert digits <= 17, where
            assert 2 * abs(Fraction(expected) - Fraction(actual)) <= unit, where
        else:
            assert isinstance(actual, str), where
            assert Decimal(actual) == expected, where
        if kind in ("float4", "float8"):  # a double is always a JSON number
            assert isinstance(actual, float | int), (where, actual)
    elif isinstance(expected, list):
        assert isinstance(actual, list) and len(actual) == len(expected), where
        for index, (a, e) in enumerate(zip(actual, expected, strict=True)):
            faithful(a, e, kind, f"{where}[{index}]")
    elif isinstance(expected, dict):
        assert isinstance(actual, dict) and list(actual) == list(expected), where
        for key in expected:
            faithful(actual[key], expected[key], kind, f"{where}.{key}")
    else:
        assert type(actual) is type(expected) and actual == expected, (where, actual)


@pytest.fixture(scope="module")
async def reference(seeded_app_engine: AsyncEngine, seeded_admin_engine: AsyncEngine,
                    settings: Settings) -> AsyncIterator[Any]:
    """An admin (asyncpg) connection whose output settings equal those of the caller's
    unit."""
    names = ["TimeZone", "IntervalStyle", "DateStyle", "extra_float_digits", "bytea_output"]
    async with SqlAlchemyUnitOfWork(seeded_app_engine, settings, SEATTLE) as uow:
        found = [(await uow.connection.execute(
            text("SELECT current_setting(:n)"), {"n": name})).scalar_one() for name in names]
    async with seeded_admin_engine.connect() as connection:
        driver = (await connection.get_raw_connection()).driver_connection
        assert driver is not None
        for name, value in zip(names, found, strict=True):
            await driver.execute("SELECT set_config($1, $2, false)", name, value)
        yield driver


@hypothesis_settings(max_examples=60, deadline=None,
                     suppress_health_check=[HealthCheck.function_scoped_fixture,
                                            HealthCheck.too_slow])
@given(columns=st.lists(values(), min_size=1, max_size=4))
async def test_generated_values_of_every_allowed_type_come_back_as_postgresql_says(
    seeded_app_engine: AsyncEngine, settings: Settings, guard: SqlGuard,
    reference: Any, columns: list[tuple[str, str]],
) -> None:
    expressions = [expression for _, expression in columns]
    said = await reference.fetchrow(
        "SELECT " + ", ".join(f"to_json({e})::text" for e in expressions))
    sql = "SELECT " + ", ".join(f"{e} AS c{i}" for i, e in enumerate(expressions))
    try:
        result = await run(seeded_app_engine, settings, guard, sql)
    except ZavaError as error:  # only a clear refusal for a value nested too deeply
        assert error.code == "result_too_nested", (error.code, error.message, sql)
        event("nested")
        return
    event("served")
    assert result.columns == [f"c{i}" for i in range(len(columns))]
    [row] = result.rows
    for index, ((kind, _), value, postgres) in enumerate(zip(columns, row, said,
                                                             strict=True)):
        expected = None if postgres is None else exact(postgres)
        faithful(value, expected, kind, f"c{index} of {sql[:300]}")
