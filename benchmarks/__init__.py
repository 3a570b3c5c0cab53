"""Benchmarks of the analysis at scale: a synthetic corpus generator and a timing harness (issue 9)."""
