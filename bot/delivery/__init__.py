"""What the bot sends on its own: the outbox loop, the platforms' rate limits, the scheduler."""
