"""State: records, get-or-404 lookups and persistence to the data dir."""
