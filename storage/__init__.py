"""SQLite storage through sqlite-utils: schema, migrations and queries per table family."""
