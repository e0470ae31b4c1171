"""Real time in Dagster: the `apply_webhooks` job and `apply_webhooks_sensor` on `webhook_inbox`."""
