"""Database layer: where the church database is, its schema, and bulk write helpers. No Dagster here."""
