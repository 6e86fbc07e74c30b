"""Security: the SQL guard, caller identity and the guarded query executor."""
