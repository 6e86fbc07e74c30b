"""Debian programs some tests start for real (HAProxy, PgBouncer, Chromium). Without one
the test is skipped, naming the package; with ZAVA_REQUIRE_SYSTEM_PACKAGES=1 (CI, where
``scripts/system-packages.sh`` installs them) its absence fails the test instead."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest


def require_program(name: str, package: str | None = None) -> Path:
    """The path of program ``name`` (also looked for in /usr/sbin), or skip/fail."""
    found = shutil.which(name) or shutil.which(name, path="/usr/sbin:/sbin")
    if found is not None:
        return Path(found)
    message = (f"{name} is not installed: sudo apt-get install {package or name} "
               "(or run scripts/system-packages.sh as root)")
    if os.environ.get("ZAVA_REQUIRE_SYSTEM_PACKAGES") == "1":
        pytest.fail(message)
    pytest.skip(message)
