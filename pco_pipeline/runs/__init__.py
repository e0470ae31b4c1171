"""Dagster runs launched from the command line: launching them in-process on the persistent
instance (`launch`), the process a run lives in (`process`), waiting for a pool outside Dagster
(`pool_wait`), and ending dead runs or cancelling one (`control`)."""
