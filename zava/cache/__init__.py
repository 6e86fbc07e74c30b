"""Caches for results that are safe to share: in memory, or in Redis for HTTP replicas."""
