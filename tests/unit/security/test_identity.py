"""Caller identities and bearer tokens: parsing, hashing, and the token store's format."""

from __future__ import annotations

import hashlib
import uuid
from pathlib import Path

import pytest

from zava.errors import AuthorizationError, ConfigurationError
from zava.security.identity import (
    IDENTITY_HEADER,
    TokenStore,
    hash_token,
    new_token,
    parse_manager_id,
)

SEATTLE = uuid.UUID("f47ac10b-58cc-4372-a567-0e02b2c3d479")
BELLEVUE = uuid.UUID("6ba7b810-9dad-11d1-80b4-00c04fd430c8")
TOKEN = "zava_seattle-token"
HASH = hashlib.sha256(TOKEN.encode()).hexdigest()


def test_a_token_is_stored_as_its_sha256() -> None:
    assert hash_token("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    assert hash_token(TOKEN) == HASH and len(HASH) == 64
    assert hash_token("Δ") == hashlib.sha256("Δ".encode()).hexdigest()


def test_new_tokens_are_long_random_and_prefixed() -> None:
    tokens = {new_token() for _ in range(50)}
    assert len(tokens) == 50
    for token in tokens:
        assert token.startswith("zava_") and len(token) >= 5 + 43
        assert token.removeprefix("zava_").replace("-", "").replace("_", "").isalnum()


def test_the_identity_header_is_the_samples() -> None:
    assert IDENTITY_HEADER == "x-rls-user-id"


@pytest.mark.parametrize("raw", [str(SEATTLE), f"  {SEATTLE}\n", str(SEATTLE).upper(),
                                 SEATTLE.hex, "{" + str(SEATTLE) + "}"])
def test_a_manager_id_is_parsed_from_text(raw: str) -> None:
    assert parse_manager_id(raw, source="the header") == SEATTLE


@pytest.mark.parametrize("raw", [None, "", "   "])
def test_a_missing_identity_names_its_source(raw: str | None) -> None:
    with pytest.raises(AuthorizationError) as refused:
        parse_manager_id(raw, source="the x-rls-user-id header")
    assert refused.value.message == "no caller identity in the x-rls-user-id header"
    assert refused.value.code == "authorization_error"


@pytest.mark.parametrize("raw", ["seattle", "f47ac10b-58cc-4372-a567", "1' OR '1'='1",
                                 str(SEATTLE) + "0"])
def test_a_malformed_identity_is_refused_without_echoing_it(raw: str) -> None:
    with pytest.raises(AuthorizationError) as refused:
        parse_manager_id(raw, source="--rls-user")
    assert refused.value.message == "the caller identity in --rls-user is not a UUID"


def test_the_store_reads_lines_comments_commas_and_colons() -> None:
    other = "A" * 64
    store = TokenStore.parse(
        f"# tokens for the demo\n{SEATTLE} {HASH}  # Seattle\n\n"
        f"{BELLEVUE}:{other}, {BELLEVUE}\t{'b' * 64}\n", source="tokens.txt")
    assert store.managers_by_hash == {HASH: SEATTLE, "a" * 64: BELLEVUE, "b" * 64: BELLEVUE}


def test_a_known_token_finds_its_manager_and_others_find_none() -> None:
    store = TokenStore.parse(f"{SEATTLE} {HASH}", source="ZAVA_TOKENS")
    assert store.manager_for(TOKEN) == SEATTLE
    assert store.manager_for(HASH) is None  # the hash itself is not a token
    assert store.manager_for("") is None and store.manager_for(TOKEN + " ") is None


@pytest.mark.parametrize(("text", "entry"), [
    (f"{SEATTLE}", 1),
    (f"{SEATTLE} {HASH} extra", 1),
    (f"{SEATTLE} {HASH[:-1]}", 1),
    (f"{SEATTLE} {HASH}\n{BELLEVUE} short", 2),
    (f"{SEATTLE} {HASH},{BELLEVUE}", 2),
    (f"{SEATTLE} {'z' * 64}", 1),  # 64 characters, not hex: it would never match
])
def test_a_malformed_entry_is_named_by_number(text: str, entry: int) -> None:
    with pytest.raises(ConfigurationError) as refused:
        TokenStore.parse(text, source="tokens.txt")
    assert refused.value.message.startswith(f"tokens.txt entry {entry} is not ")
    assert "zava token create --manager" in refused.value.message
    assert HASH not in refused.value.message


def test_an_upper_case_hash_is_the_same_hash() -> None:
    store = TokenStore.parse(f"{SEATTLE} {HASH.upper()}", source="tokens.txt")
    assert store.managers_by_hash == {HASH: SEATTLE}


def test_an_entry_with_a_bad_manager_id_is_refused() -> None:
    with pytest.raises(ConfigurationError,
                       match=r"^ZAVA_TOKENS entry 1: the manager id is not a UUID$"):
        TokenStore.parse(f"seattle {HASH}", source="ZAVA_TOKENS")


def test_the_file_and_the_inline_setting_are_merged(tmp_path: Path) -> None:
    file = tmp_path / "tokens"
    file.write_text(f"{SEATTLE} {HASH}\n")
    other = hash_token("bellevue-token")
    store = TokenStore.load(file, f"{BELLEVUE} {other}")
    assert store.manager_for(TOKEN) == SEATTLE
    assert store.manager_for("bellevue-token") == BELLEVUE


def test_the_inline_setting_wins_for_the_same_hash(tmp_path: Path) -> None:
    file = tmp_path / "tokens"
    file.write_text(f"{SEATTLE} {HASH}\n")
    assert TokenStore.load(file, f"{BELLEVUE} {HASH}").manager_for(TOKEN) == BELLEVUE


def test_no_file_and_no_inline_tokens_is_an_empty_store() -> None:
    assert TokenStore.load(None, None).managers_by_hash == {}
    assert TokenStore.load(None, "").manager_for(TOKEN) is None


def test_a_missing_token_file_is_a_configuration_error(tmp_path: Path) -> None:
    missing = tmp_path / "nope"
    with pytest.raises(ConfigurationError, match=f"cannot read the token file {missing}"):
        TokenStore.load(missing, None)


def test_a_malformed_token_file_names_the_file(tmp_path: Path) -> None:
    file = tmp_path / "tokens"
    file.write_text("garbage\n")
    with pytest.raises(ConfigurationError, match=f"^{file} entry 1 is not"):
        TokenStore.load(file, None)
