"""Who is calling: a fixed manager (stdio), a bearer token, or (development only) a header.

Bearer tokens are stored hashed (SHA-256), each mapped to a manager id, in a file
(``ZAVA_TOKEN_FILE``: one ``<manager id> <sha256 hex>`` per line, ``#`` comments) or in
``ZAVA_TOKENS`` (the same pairs separated by commas). ``zava token create`` makes one.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from zava.errors import AuthorizationError, ConfigurationError

IDENTITY_HEADER = "x-rls-user-id"
"""The Zava sample's header, accepted only with --trust-identity-header."""


def hash_token(token: str) -> str:
    """The stored form of a bearer token."""
    return hashlib.sha256(token.encode()).hexdigest()


def new_token() -> str:
    """A fresh random bearer token (256 bits)."""
    return "zava_" + secrets.token_urlsafe(32)


def parse_manager_id(raw: str | None, *, source: str) -> uuid.UUID:
    """A manager id from text, or ``AuthorizationError`` naming where it came from."""
    if raw is None or not raw.strip():
        raise AuthorizationError(f"no caller identity in {source}")
    try:
        return uuid.UUID(raw.strip())
    except ValueError as exc:
        raise AuthorizationError(f"the caller identity in {source} is not a UUID") from exc


_SHA256_HEX = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True)
class TokenStore:
    """Hashed bearer tokens and the manager each one acts for."""

    managers_by_hash: Mapping[str, uuid.UUID]

    @classmethod
    def parse(cls, text: str, *, source: str) -> TokenStore:
        """Read ``<manager id> <sha256>`` pairs (lines or comma-separated)."""
        entries: dict[str, uuid.UUID] = {}
        for number, line in enumerate(text.replace(",", "\n").splitlines(), start=1):
            line = line.split("#", 1)[0].strip()
            if not line:
                continue
            parts = line.replace(":", " ").split()
            if len(parts) != 2 or not _SHA256_HEX.fullmatch(parts[1].lower()):
                raise ConfigurationError(
                    f"{source} entry {number} is not '<manager id> <sha256 of the token>'; "
                    "create entries with `zava token create --manager <id>`"
                )
            try:
                entries[parts[1].lower()] = uuid.UUID(parts[0])
            except ValueError as exc:
                raise ConfigurationError(
                    f"{source} entry {number}: the manager id is not a UUID") from exc
        return cls(entries)

    @classmethod
    def load(cls, file: Path | None, inline: str | None) -> TokenStore:
        """Tokens from the file and the inline setting together."""
        store: dict[str, uuid.UUID] = {}
        if file is not None:
            try:
                store.update(cls.parse(file.read_text(), source=str(file)).managers_by_hash)
            except OSError as exc:
                raise ConfigurationError(f"cannot read the token file {file}: {exc}") from exc
        if inline:
            store.update(cls.parse(inline, source="ZAVA_TOKENS").managers_by_hash)
        return cls(store)

    def manager_for(self, token: str) -> uuid.UUID | None:
        """The manager a presented token acts for, or None for an unknown token."""
        return self.managers_by_hash.get(hash_token(token))
