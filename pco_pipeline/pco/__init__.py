"""The PCO API client: auth, pacing from rate headers, retries, pagination, JSON:API → records.

No Dagster here; `defs/pco/resources.py` wraps it as a resource. Start at `client.py`.
"""

from pco_pipeline.pco.client import PCOClient, PCOResponse, resource_body
from pco_pipeline.pco.config import API_VERSIONS, BasicCredentials, OAuthCredentials, PCOConfig, RetryPolicy
from pco_pipeline.pco.counters import CounterSnapshot
from pco_pipeline.pco.errors import (PCOAuthError, PCOBadRequest, PCOConfigError, PCOConflictError,
                                     PCOConnectionError, PCOError, PCOForbiddenError, PCOHTTPError,
                                     PCONotFound, PCOQueryError, PCORateLimited, PCOServerError,
                                     PCOValidationError, PCOWriteOutcomeUnknown)
from pco_pipeline.pco.jsonapi import RecordError, Resource
from pco_pipeline.pco.pagination import Page
from pco_pipeline.pco.ratelimit import RateLimitStatus

__all__ = [
    "API_VERSIONS", "BasicCredentials", "CounterSnapshot", "OAuthCredentials", "PCOAuthError", "PCOBadRequest",
    "PCOClient", "PCOConfig", "PCOConfigError", "PCOConflictError", "PCOConnectionError", "PCOError",
    "PCOForbiddenError", "PCOHTTPError", "PCONotFound", "PCOQueryError", "PCORateLimited", "PCOResponse",
    "PCOServerError", "PCOValidationError", "PCOWriteOutcomeUnknown", "Page", "RateLimitStatus", "RecordError",
    "Resource", "RetryPolicy", "resource_body",
]
