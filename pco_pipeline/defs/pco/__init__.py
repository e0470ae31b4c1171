"""PCO in Dagster: the `pco` resource (`PCOResource`), the `pco_api` pool, the connection check job."""
