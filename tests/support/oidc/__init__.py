"""A real OpenID provider for the OAuth tests: ``provider.mjs`` (npm ``oidc-provider``,
pinned by ``package.json`` and ``package-lock.json``) run with Node on 127.0.0.1.

``install()`` runs ``npm ci`` once into a cache folder keyed by the lock file (it returns
why not when Node or npm is missing or the registry cannot be reached, and the tests skip
with that reason). ``OidcProvider`` starts it with signing keys the tests hold, so they can
also mint tokens the provider would never issue (expired, another audience, ...) with the
provider's own key, and rotate its keys by restarting it on the same port.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import socket
import subprocess
import time
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

HERE = Path(__file__).parent
FILES = ("package.json", "package-lock.json", "provider.mjs")


def cache_dir() -> Path:
    """Where ``npm ci`` installs, keyed by the pinned versions."""
    digest = hashlib.sha256((HERE / "package-lock.json").read_bytes()).hexdigest()[:12]
    root = Path(os.environ.get("ZAVA_TEST_NPM_CACHE")
                or Path.home() / ".cache" / "zava" / "test-oidc-provider")
    return root / digest


def install() -> tuple[Path | None, str]:
    """(the folder to run the provider from, "") or (None, why it cannot run)."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        return None, "Node.js and npm are needed for the OpenID provider (oidc-provider)"
    target = cache_dir()
    target.mkdir(parents=True, exist_ok=True)
    for name in FILES:
        shutil.copyfile(HERE / name, target / name)
    if (target / "node_modules" / "oidc-provider" / "package.json").exists():
        return target, ""
    try:
        result = subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=target,
                                capture_output=True, text=True, timeout=300, check=False)
    except subprocess.TimeoutExpired:
        return None, "npm ci of oidc-provider timed out (is the npm registry reachable?)"
    if result.returncode != 0:
        tail = " ".join((result.stderr or result.stdout).strip().splitlines()[-3:])
        return None, f"npm ci of oidc-provider failed (npm registry unreachable?): {tail}"
    return target, ""


def new_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def private_jwk(key: rsa.RSAPrivateKey, kid: str) -> dict[str, Any]:
    jwk: dict[str, Any] = json.loads(RSAAlgorithm.to_jwk(key))
    return {**jwk, "kid": kid, "alg": "RS256", "use": "sig"}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class OidcProvider:
    """``provider.mjs`` as a subprocess; ``start(keys)`` (the first key signs), ``stop()``."""

    def __init__(self, folder: Path, log: Path) -> None:
        self.folder = folder
        self.log = log
        self.port = free_port()
        self.issuer = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, keys: list[tuple[rsa.RSAPrivateKey, str]]) -> None:
        jwks = {"keys": [private_jwk(key, kid) for key, kid in keys]}
        env = {**os.environ, "OIDC_PORT": str(self.port), "OIDC_JWKS": json.dumps(jwks)}
        with self.log.open("a") as log:
            self.process = subprocess.Popen(["node", "provider.mjs"], cwd=self.folder, env=env,
                                            stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"the OpenID provider exited: {self.log.read_text()}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return
            except OSError:
                time.sleep(0.1)
        raise AssertionError(f"the OpenID provider did not start: {self.log.read_text()}")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        self.process = None
