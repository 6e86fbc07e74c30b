"""Provisioning: the database Zava runs on (embedded or external), its migrations, roles,
seed data, vector index and re-embedding, and the checks that say whether it can serve."""
