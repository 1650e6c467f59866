"""Events: invitations, registration, documents and reminders, and their administration."""
