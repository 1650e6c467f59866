"""What working groups do: commands and buttons on items, notifications, digests, /stats."""
