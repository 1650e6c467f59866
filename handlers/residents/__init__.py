"""What residents do: greeting and language, feedback, status, outcomes, their rights, /link."""
