"""The dataset sizes: how many customers and orders each one has."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Size:
    """One dataset size; orders are generated in chunks of ``chunk_orders``."""

    name: str
    customers: int
    orders: int
    chunk_orders: int = 50_000


SIZES = {
    "tiny": Size("tiny", customers=400, orders=2_000, chunk_orders=2_000),
    "workshop": Size("workshop", customers=50_000, orders=200_000),
    "large": Size("large", customers=400_000, orders=2_400_000, chunk_orders=100_000),
}
DEFAULT_SIZE = "workshop"
DEFAULT_SEED = 20_260_101

STORE_WEIGHTS = {
    "Seattle": 0.22, "Online": 0.20, "Bellevue": 0.13, "Tacoma": 0.12, "Spokane": 0.10,
    "Everett": 0.09, "Redmond": 0.08, "Kirkland": 0.06,
}
"""Share of customers and orders per store: Seattle and Online largest, Kirkland smallest."""
