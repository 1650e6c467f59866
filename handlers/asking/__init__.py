"""The city asks back: the survey after each event, polls, and their results for the people
who answered and the people who decide."""
