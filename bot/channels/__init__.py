"""Channel adapters: a platform's updates become `Incoming`, `Reply` values go back out."""
