"""Running it for years: logging, the garbage collector's tuning, health and metrics."""
