"""Benchmarks: `python -m benchmarks.bench_<what>`."""
