"""Benchmarks. Each measures its own baseline in the same run and prints ratios, never bare times."""
