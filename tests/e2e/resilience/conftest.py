"""The resilience fixtures (``tests/support/own_cluster.py``): a cluster of the module's own."""

from tests.support.own_cluster import own_cluster, own_data_dir, own_settings

__all__ = ["own_cluster", "own_data_dir", "own_settings"]
