"""Sync domain rules, no Dagster: normalization, matching, mapping, push planning, webhook application."""
