"""Benchmarks that print figures and their ratio to the targets and platform limits."""
