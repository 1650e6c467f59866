"""Telegram through python-telegram-bot: updates in, replies and proactive sends out."""
