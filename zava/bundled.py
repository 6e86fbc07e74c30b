"""Where the files that ship with Zava live: the Alembic migrations and the seed data.

The repository keeps them at its top level (``alembic/``, ``seed/``), where reviewers read
them and DBAs run ``alembic upgrade head --sql``. The wheel carries the same files inside
the package, as ``zava/migrations`` and ``zava/seed`` (pyproject.toml maps them there), so
an installed Zava migrates and seeds from anywhere. A source checkout (``pip install -e
.``) has no such folders in the package and reads the top-level ones.
"""

from __future__ import annotations

from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
CHECKOUT_DIR = PACKAGE_DIR.parent


def _locate(in_wheel: str, in_checkout: str, marker: str) -> Path:
    """The installed copy if there is one, else the checkout's (a marker file tells them
    from unrelated folders: next to an installed package, ``alembic`` is the library)."""
    for candidate in (PACKAGE_DIR / in_wheel, CHECKOUT_DIR / in_checkout):
        if (candidate / marker).is_file():
            return candidate
    return CHECKOUT_DIR / in_checkout


MIGRATIONS_DIR = _locate("migrations", "alembic", "env.py")
"""Alembic's script location: ``env.py``, ``script.py.mako``, ``versions/``."""

SEED_DIR = _locate("seed", "seed", "company/stores.csv")
"""The demo dataset definition: ``company/``, ``catalog/``, ``embeddings/``."""
