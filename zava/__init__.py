"""Zava: a multi-tenant retail analytics MCP server on PostgreSQL with row-level security."""

__version__ = "0.1.0"
