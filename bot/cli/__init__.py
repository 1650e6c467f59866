"""The `mitreden` command line: one module per group of subcommands."""
