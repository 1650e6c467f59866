"""Test support shared by tests/ and bench/: the fake Bot API server, a throw-away
PostgreSQL and Synapse, clocks and the example configuration."""
