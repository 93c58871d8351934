"""SQL storage: tables, migrations and the repository functions (the only SQL)."""
