"""Conversation and rules: channel-neutral, no I/O beyond the store, time from a clock."""
