"""A plausible demo year (items, events, texts) for demonstrations and benchmarks."""
