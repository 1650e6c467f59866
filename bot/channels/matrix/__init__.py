"""Matrix through matrix-nio, with end-to-end encryption: events in, replies out."""
