"""Feedback items: submission and routing, handling by the working groups, recommendations."""
