"""Benchmarks: each top-level module with a `main()` measures one thing beside a raw baseline (see run_all)."""
