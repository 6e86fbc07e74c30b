"""Export links: self-contained, signed grants to re-run one tool call in full.

An export id carries what to run and for whom: the caller's manager id, the tool, its
arguments and an expiry, as compressed JSON, followed by an HMAC-SHA256 of those bytes
under the server's export key (``ZAVA_EXPORT_SECRET``). Any worker holding the key can
serve the link; none keeps state about it. The id is URL-safe base64 in two parts,
``<payload>.<signature>``; its length grows with the arguments (an SQL text of 100,000
characters gives at most about 135,000 characters).

Verifying checks the signature (in constant time), then the expiry, then that the reader
is the caller the link was made for: a link is never a capability another manager can
use. The grant only says what to re-run; the rows still come from the reader's own
read-only unit of work under row-level security.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import uuid
import zlib
from dataclasses import dataclass
from typing import Any

from zava.errors import ExportRefusedError

VERSION = 1
_MAX_PAYLOAD = 1_000_000
"""Decompressed bytes a payload may expand to (a forged one cannot exhaust memory)."""


@dataclass(frozen=True)
class ExportGrant:
    """One tool call to re-run in full for ``caller`` until ``expires`` (Unix seconds)."""

    caller: uuid.UUID
    tool: str
    arguments: dict[str, Any]
    expires: int


def _encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _signature(key: bytes, payload: str) -> str:
    return _encode(hmac.new(key, payload.encode(), hashlib.sha256).digest())


def sign(grant: ExportGrant, key: bytes) -> str:
    """The export id of ``grant``: ``<payload>.<signature>``, URL-safe base64."""
    document = {"v": VERSION, "c": str(grant.caller), "t": grant.tool,
                "a": grant.arguments, "e": grant.expires}
    payload = _encode(zlib.compress(json.dumps(document, separators=(",", ":")).encode(), 9))
    return f"{payload}.{_signature(key, payload)}"


def _refused(reason: str) -> ExportRefusedError:
    return ExportRefusedError(f"this export link {reason}; run the tool again for a fresh "
                              "link (links are for their caller only, for a limited time)")


def verify(export_id: str, key: bytes, *, reader: uuid.UUID, now: float) -> ExportGrant:
    """The grant in ``export_id`` if its signature holds, it has not expired and
    ``reader`` is its caller; ``ExportRefusedError`` naming which check failed."""
    payload, dot, signature = export_id.partition(".")
    if not dot or not hmac.compare_digest(signature.encode(),
                                          _signature(key, payload).encode()):
        raise _refused("is not valid (damaged, or signed with another key: a fleet needs one "
                       "ZAVA_EXPORT_SECRET)")
    try:
        inflate = zlib.decompressobj()
        raw = inflate.decompress(_decode(payload), _MAX_PAYLOAD)
        document = json.loads(raw)
        grant = ExportGrant(caller=uuid.UUID(document["c"]), tool=str(document["t"]),
                            arguments=dict(document["a"]), expires=int(document["e"]))
        if document["v"] != VERSION or inflate.unconsumed_tail:
            raise ValueError("unknown version or oversized payload")
    except (binascii.Error, zlib.error, ValueError, KeyError, TypeError) as exc:
        raise _refused("is not valid (unreadable)") from exc
    if now >= grant.expires:
        raise _refused("has expired")
    if grant.caller != reader:
        raise ExportRefusedError(
            "this export link was made for another manager and cannot be read with your "
            "identity; run the tool yourself to export your own rows")
    return grant
