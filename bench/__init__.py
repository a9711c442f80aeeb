"""Benchmarks: `python -m bench.<name>`; each prints figures and ratios against the raw library call."""
