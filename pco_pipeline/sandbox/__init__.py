"""The PCO sandbox: a faithful simulator of the Planning Center API and its webhooks. No Dagster here."""
