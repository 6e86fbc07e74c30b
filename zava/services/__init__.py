"""Analytics use cases: business rules over a unit of work (no SQL, no MCP)."""
