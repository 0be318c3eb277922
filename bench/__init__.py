"""Benchmarks: `gandyn bench` (or `python -m bench`) runs them all and rewrites RESULTS.md."""
