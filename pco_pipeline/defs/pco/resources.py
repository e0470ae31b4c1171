"""The PCO API as a Dagster resource (`pco`), and the pool every PCO-calling step runs in.

    @dg.asset(pool=PCO_API_POOL)
    def pco_people(context, pco: PCOResource):
        client = pco.get_client()
        before = client.counters.snapshot()
        for page in client.iter_pages("/people/v2/people", include=["emails"]): ...
        context.add_output_metadata((client.counters.snapshot() - before).as_metadata())

Settings come from the environment through `dg.EnvVar` (shown by name, never by value, in the
UI): PCO_APP_ID / PCO_SECRET (a personal access token) or PCO_OAUTH_CLIENT_ID /
PCO_OAUTH_CLIENT_SECRET / PCO_OAUTH_REFRESH_TOKEN (+ optional PCO_OAUTH_ACCESS_TOKEN,
PCO_OAUTH_TOKEN_FILE), and PCO_API_BASE. Only the variables set when the code location loads are
bound, so an OAuth-only deployment does not fail on a missing PCO_APP_ID, and a deployment with
no credentials at all still runs `check_pco_connection`, which then says what to set.

The client is created on first use in a run and closed when the run's step ends. Its rate budget
is per credential and per process; across runs the `pco_api` pool (dagster.yaml: one slot) keeps
two runs from spending one budget twice.
"""

import os
from typing import Optional

import dagster as dg
from pydantic import Field, PrivateAttr

from pco_pipeline.pco.client import PCOClient
from pco_pipeline.pco.config import DEFAULT_BASE_URL, DEFAULT_PREFETCH, MAX_PREFETCH, PCOConfig, RetryPolicy
from pco_pipeline.pco.connection import ConnectionReport, check_client
from pco_pipeline.pco.errors import PCOConfigError

PCO_API_POOL = "pco_api"

# resource field -> environment variable
ENVIRONMENT = {
    "base_url": "PCO_API_BASE",
    "app_id": "PCO_APP_ID",
    "secret": "PCO_SECRET",
    "oauth_client_id": "PCO_OAUTH_CLIENT_ID",
    "oauth_client_secret": "PCO_OAUTH_CLIENT_SECRET",
    "oauth_refresh_token": "PCO_OAUTH_REFRESH_TOKEN",
    "oauth_access_token": "PCO_OAUTH_ACCESS_TOKEN",
    "oauth_token_file": "PCO_OAUTH_TOKEN_FILE",
}


class PCOResource(dg.ConfigurableResource):
    """Planning Center Online: a paced, retrying API client for one credential."""

    base_url: Optional[str] = Field(default=None, description=f"API root (PCO_API_BASE); empty: {DEFAULT_BASE_URL}")
    app_id: Optional[str] = Field(default=None, repr=False, description="personal access token id (PCO_APP_ID)")
    secret: Optional[str] = Field(default=None, repr=False, description="personal access token secret (PCO_SECRET)")
    oauth_client_id: Optional[str] = Field(default=None, repr=False, description="PCO_OAUTH_CLIENT_ID")
    oauth_client_secret: Optional[str] = Field(default=None, repr=False, description="PCO_OAUTH_CLIENT_SECRET")
    oauth_refresh_token: Optional[str] = Field(default=None, repr=False, description="PCO_OAUTH_REFRESH_TOKEN")
    oauth_access_token: Optional[str] = Field(default=None, repr=False, description="PCO_OAUTH_ACCESS_TOKEN")
    oauth_token_file: Optional[str] = Field(
        default=None, description="file keeping rotated OAuth tokens (PCO_OAUTH_TOKEN_FILE)")
    max_retries: int = Field(default=5, description="retries of a failed request (timeouts, resets, 5xx)")
    timeout_seconds: float = Field(default=30.0, description="per-request read timeout")
    prefetch: int = Field(default=DEFAULT_PREFETCH,
                          description=f"requests in flight when a listing's total is known (1-{MAX_PREFETCH})")

    _client: Optional[PCOClient] = PrivateAttr(default=None)

    @classmethod
    def from_environment(cls) -> "PCOResource":
        """Bind a `dg.EnvVar` for every PCO variable set now (see the module docstring)."""
        # ENVIRONMENT names text fields only; pyright checks the mapping against every field.
        return cls(**{name: dg.EnvVar(variable)  # pyright: ignore[reportArgumentType]
                      for name, variable in ENVIRONMENT.items() if os.environ.get(variable, "").strip()})

    def pco_config(self) -> PCOConfig:
        """The client configuration; PCOConfigError names what is missing."""
        environ = {variable: getattr(self, name) or "" for name, variable in ENVIRONMENT.items()}
        config = PCOConfig.from_env(environ, timeout=self.timeout_seconds, prefetch=self.prefetch,
                                    retry=RetryPolicy(max_retries=self.max_retries))
        return config.validated()

    def get_client(self) -> PCOClient:
        """This run's client (created on first use; raises PCOConfigError when misconfigured)."""
        if self._client is None:
            self._client = PCOClient(self.pco_config())
        return self._client

    def check_connection(self) -> ConnectionReport:
        """The connection report (see `pco.connection`); never raises for a misconfiguration."""
        try:
            client = self.get_client()
        except PCOConfigError as exc:
            return ConnectionReport(problem=exc.message)
        return check_client(client)

    def teardown_after_execution(self, context: dg.InitResourceContext) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None


@dg.definitions
def resources() -> dg.Definitions:
    return dg.Definitions(resources={"pco": PCOResource.from_environment()})
