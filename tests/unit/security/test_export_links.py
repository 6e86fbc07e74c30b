"""Export links: a grant signed for one caller reads back only for that caller, before
its expiry, under the key that signed it; any change to the id is refused."""

from __future__ import annotations

import re
import uuid

import pytest

from zava.errors import ExportRefusedError
from zava.security.export_links import ExportGrant, _encode, _signature, sign, verify

KEY = b"k" * 32
CALLER = uuid.UUID("11111111-1111-1111-1111-111111111111")
OTHER = uuid.UUID("22222222-2222-2222-2222-222222222222")
GRANT = ExportGrant(caller=CALLER, tool="execute_sales_query",
                    arguments={"sql": "SELECT 'é', 1 FROM retail.orders"}, expires=1_000)


def test_a_link_reads_back_for_its_caller_before_expiry() -> None:
    export_id = sign(GRANT, KEY)
    assert re.fullmatch(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{43}", export_id)
    assert verify(export_id, KEY, reader=CALLER, now=999.0) == GRANT


def test_another_manager_is_refused() -> None:
    with pytest.raises(ExportRefusedError, match="made for another manager"):
        verify(sign(GRANT, KEY), KEY, reader=OTHER, now=0.0)


def test_an_expired_link_is_refused() -> None:
    with pytest.raises(ExportRefusedError, match="has expired"):
        verify(sign(GRANT, KEY), KEY, reader=CALLER, now=1_000.0)


def _flip(text: str, at: int) -> str:
    return text[:at] + ("A" if text[at] != "A" else "B") + text[at + 1:]


@pytest.mark.parametrize("where", ["payload", "signature"])
def test_a_tampered_link_is_refused(where: str) -> None:
    export_id = sign(GRANT, KEY)
    at = 5 if where == "payload" else len(export_id) - 5
    with pytest.raises(ExportRefusedError, match="not valid"):
        verify(_flip(export_id, at), KEY, reader=CALLER, now=0.0)


def test_a_grant_rewritten_for_another_caller_is_refused() -> None:
    """Swapping in a payload naming someone else keeps the old signature: refused."""
    mine = sign(GRANT, KEY)
    theirs = sign(ExportGrant(OTHER, GRANT.tool, GRANT.arguments, GRANT.expires), b"x" * 32)
    forged = theirs.split(".")[0] + "." + mine.split(".")[1]
    with pytest.raises(ExportRefusedError, match="not valid"):
        verify(forged, KEY, reader=OTHER, now=0.0)


def test_another_key_is_refused_with_the_fleet_hint() -> None:
    with pytest.raises(ExportRefusedError, match="ZAVA_EXPORT_SECRET"):
        verify(sign(GRANT, KEY), b"another key", reader=CALLER, now=0.0)


@pytest.mark.parametrize("export_id", ["", "no-dot", ".", "%%%.%%%", "a.b.c"])
def test_garbage_is_refused(export_id: str) -> None:
    with pytest.raises(ExportRefusedError):
        verify(export_id, KEY, reader=CALLER, now=0.0)


def test_a_signed_but_unreadable_payload_is_refused() -> None:
    """Only a key holder can sign, but even then a payload that is not a grant is
    refused as unreadable rather than failing inside the server."""
    payload = _encode(b"not zlib")
    with pytest.raises(ExportRefusedError, match="unreadable"):
        verify(f"{payload}.{_signature(KEY, payload)}", KEY, reader=CALLER, now=0.0)


def test_the_longest_query_gives_a_bounded_id() -> None:
    sql = "SELECT " + ", ".join(f"{n} AS c{n}" for n in range(20_000))[:99_990]
    grant = ExportGrant(CALLER, "execute_sales_query", {"sql": sql}, 1_000)
    export_id = sign(grant, KEY)
    assert len(export_id) < 140_000
    assert verify(export_id, KEY, reader=CALLER, now=0.0).arguments["sql"] == sql
