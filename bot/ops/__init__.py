"""Running it for years: logging and the garbage collector's tuning."""
