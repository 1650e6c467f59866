"""Events, workshops, registrations, places and documents."""
