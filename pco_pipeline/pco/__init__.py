"""The PCO API client: auth, pacing from rate headers, retries, pagination, JSON:API → records.

No Dagster here; `defs/pco/resources.py` wraps it as a resource.
"""
