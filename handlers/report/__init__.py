"""The year report for the city council, as plain values, and the reminders before it is due."""
