"""SQL: tables, engine and sessions, migrations, and the read-model writes."""
