"""Benchmarks: each bench_*.py is a script that prints its figures (`make bench` runs them all)."""
