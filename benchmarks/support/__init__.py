"""Shared machinery of the benchmarks (servers, seeding, load generator, baseline apps, reporting).

Nothing here is a benchmark itself: `benchmarks/run_all.py` runs only the top-level `benchmarks/*.py`.
"""
