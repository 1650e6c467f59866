"""The only code that speaks SQL: tables, queries, routing and what is due when."""
