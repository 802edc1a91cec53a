"""Control-plane machinery: operations, limits, rate limits, faults, ids, clock."""
