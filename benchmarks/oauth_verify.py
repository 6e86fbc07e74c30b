"""What OAuth verification costs per request, against the static-token path, in one run.

    python -m benchmarks.oauth_verify [--calls 2000]

Every request of the OAuth mode goes through ``OAuthGate`` and then the SDK's token hook:
two ``verify`` calls, the first of which does the work for a token not seen before. The
paths timed (p50 and p95 in microseconds; the issuer's keys already cached, fetched once
from an in-memory issuer so no network is involved; the manager mapping answered from a
dictionary, so the one database lookup per new token is not included):

- ``static token``: the SHA-256 lookup of ``ZAVA_TOKEN_FILE`` tokens (``HashedTokenVerifier``);
- ``oauth, token seen before``: what every request after a token's first costs (gate +
  hook, both cache hits);
- ``oauth, new RS256 token`` / ``new ES256 token``: a first request: header, key lookup,
  signature, claims (PyJWT), then the hook's cache hit.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import jwt
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

from zava.security.identity import TokenStore, hash_token
from zava.security.oauth import OAuthConfig, OAuthVerifier
from zava.server.identity import HashedTokenVerifier
from zava.server.oauth import OAuthAccessTokens

ISSUER = "https://idp.bench.test"
AUDIENCE = "http://127.0.0.1:8000/mcp"
MANAGER = uuid.UUID("f47ac10b-58cc-4372-a567-0e02b2c3d479")


def _issuer(keys: list[dict[str, Any]]) -> httpx.AsyncClient:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("openid-configuration"):
            return httpx.Response(200, json={"issuer": ISSUER, "jwks_uri": f"{ISSUER}/jwks"})
        return httpx.Response(200, json={"keys": keys})

    return httpx.AsyncClient(transport=httpx.MockTransport(handler))


async def _resolve(issuer: str, subject: str) -> uuid.UUID | None:
    return MANAGER


def _percentiles(samples_ns: list[int]) -> tuple[float, float]:
    ordered = sorted(samples_ns)
    p95 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]
    return statistics.median(ordered) / 1000, p95 / 1000


async def _time(calls: list[Callable[[], Awaitable[object]]]) -> tuple[float, float]:
    samples = []
    for call in calls:
        started = time.perf_counter_ns()
        await call()
        samples.append(time.perf_counter_ns() - started)
    return _percentiles(samples)


async def main(calls: int) -> None:
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ec_key = ec.generate_private_key(ec.SECP256R1())
    keys = [{**json.loads(RSAAlgorithm.to_jwk(rsa_key.public_key())), "kid": "r1",
             "alg": "RS256", "use": "sig"},
            {**json.loads(ECAlgorithm.to_jwk(ec_key.public_key())), "kid": "e1",
             "alg": "ES256", "use": "sig"}]
    client = _issuer(keys)
    verifier = OAuthVerifier(OAuthConfig(issuer=ISSUER, audience=AUDIENCE), _resolve,
                             client=client)
    hook = OAuthAccessTokens(verifier)
    now = int(time.time())

    def mint(key: Any, kid: str, alg: str, n: int) -> str:
        return jwt.encode({"iss": ISSUER, "aud": AUDIENCE, "sub": f"user-{n}", "iat": now,
                           "exp": now + 3600, "scope": "zava:read"}, key, algorithm=alg,
                          headers={"kid": kid})

    assert await verifier.jwks.prefetch()

    async def request(token: str) -> None:  # what one HTTP request does
        await verifier.verify(token)
        assert await hook.verify_token(token) is not None

    static_token = "zava_bench_token"
    static = HashedTokenVerifier(TokenStore({hash_token(static_token): MANAGER}))
    seen = mint(rsa_key, "r1", "RS256", -1)
    await request(seen)
    rs = [mint(rsa_key, "r1", "RS256", n) for n in range(calls)]
    es = [mint(ec_key, "e1", "ES256", n) for n in range(calls)]
    for warm in range(50):  # warm-up: imports, key objects, caches of the interpreter
        await static.verify_token(static_token)
        await request(seen)
        await request(mint(rsa_key, "r1", "RS256", 10_000_000 + warm))

    rows = [
        ("static token (ZAVA_TOKEN_FILE)",
         await _time([lambda: static.verify_token(static_token)] * calls)),
        ("oauth, token seen before", await _time([lambda: request(seen)] * calls)),
        ("oauth, new RS256 token", await _time([lambda t=t: request(t) for t in rs])),  # type: ignore[misc]
        ("oauth, new ES256 token", await _time([lambda t=t: request(t) for t in es])),  # type: ignore[misc]
    ]
    base = rows[0][1][0]
    print(f"{calls} calls per path; the issuer's keys cached (JWKS fetched "
          f"{verifier.jwks.fetches} time); mapping from memory (the database lookup of a "
          "new token is not included)")
    print(f"{'path':34} {'p50 us':>9} {'p95 us':>9} {'added at p50':>14}")
    for name, (p50, p95) in rows:
        print(f"{name:34} {p50:9.1f} {p95:9.1f} {p50 - base:11.1f} us")
    await verifier.aclose()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=2000)
    asyncio.run(main(parser.parse_args().calls))
