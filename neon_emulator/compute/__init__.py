"""Compute: what runs behind a branch (nothing, or real PostgreSQL 15)."""
