"""The fault matrix (issue 14, `make chaos`): every fleet operation under every fault
profile of the emulator and under a seeded `kill -9` of the process driving the engine;
after each case the operation is rerun until it converges, then the fleet is audited.

`python -m neon_tenants.chaos --profile short|full --seed N` runs it and writes
docs/RELIABILITY.md. Imports the emulator's test harness: a development tool, not part of
the platform backend's API.
"""
