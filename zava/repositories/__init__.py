"""Repositories: one class per aggregate, intention-revealing queries, typed results.

Every repository runs on the session of a unit of work, so row-level security has
already been applied to whatever it reads.
"""
