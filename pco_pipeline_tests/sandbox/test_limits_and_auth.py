"""Rate limiting per credential, personal access tokens, OAuth 2 with refresh, and scopes."""

from __future__ import annotations

import time
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from pco_sandbox.core import resolve_credentials
from pco_sandbox.ratelimit import RateLimit, RateLimiter
from pco_pipeline_tests.sandbox.conftest import make_sandbox


# --- rate limiting -------------------------------------------------------------------------------

def test_429_after_the_limit_with_retry_after_and_pcos_body():
    with make_sandbox(rate_limit="2/20s") as sandbox, sandbox.client() as client:
        first, second, third, fourth = (client.get("/people/v2/people") for _ in range(4))
        assert [r.status_code for r in (first, second, third, fourth)] == [200, 200, 429, 429]
        assert [r.headers["x-pco-api-request-rate-count"] for r in (first, second, third, fourth)] == ["1", "2", "3", "4"]
        assert first.headers["x-pco-api-request-rate-period"] == "20"
        assert third.headers["x-pco-api-request-rate-period"] == "20 seconds"
        assert third.headers["content-type"].startswith("application/json")
        assert 1 <= int(third.headers["retry-after"]) <= 20
        assert fourth.json() == {"errors": [{"code": "429", "title": "Too Many Requests",
                                             "detail": "Rate limit exceeded: 4 of 2 requests per 20 seconds"}]}
        assert sandbox.controls.counters()["rate_limited"] == 2


def test_each_credential_has_its_own_window():
    with make_sandbox(rate_limit="1/20s") as sandbox, sandbox.client() as client:
        sandbox.auth.add_personal_access_token("other-app", "other-secret")
        assert client.get("/people/v2/people").status_code == 200
        assert client.get("/people/v2/people").status_code == 429
        other = client.get("/people/v2/people", auth=("other-app", "other-secret"))
        assert other.status_code == 200 and other.headers["x-pco-api-request-rate-count"] == "1"


def test_window_resets_after_the_period():
    clock = [100.0]
    limiter = RateLimiter(RateLimit.parse("2/20s"), monotonic=lambda: clock[0])
    assert [limiter.hit("a").allowed for _ in range(3)] == [True, True, False]
    clock[0] += 19.5
    rejected = limiter.hit("a")
    assert not rejected.allowed and rejected.retry_after == 1 and rejected.count == 4
    clock[0] += 0.5
    assert limiter.hit("a").allowed and limiter.hit("a").count == 2


def test_deep_offsets_are_judged_against_75():
    with make_sandbox(rate_limit="80/20s") as sandbox, sandbox.client() as client:
        for _ in range(75):
            client.get("/people/v2/people", params={"per_page": 1})
        shallow = client.get("/people/v2/people", params={"offset": 10})
        deep = client.get("/people/v2/people", params={"offset": 30_001})
        assert shallow.status_code == 200 and shallow.headers["x-pco-api-request-rate-limit"] == "80"
        assert deep.status_code == 429 and deep.headers["x-pco-api-request-rate-limit"] == "75"


def test_off_means_no_limit_even_for_deep_offsets():
    limiter = RateLimiter(RateLimit.parse("off"))
    assert all(limiter.hit("a", offset=50_000).allowed for _ in range(200))


@pytest.mark.parametrize("text,limit,period", [("100/20s", 100, 20.0), ("100/2s", 100, 2.0), ("2/500ms", 2, 0.5),
                                               ("60/1m", 60, 60.0), ("100/20", 100, 20.0)])
def test_rate_limit_specs(text, limit, period):
    assert RateLimit.parse(text) == RateLimit(limit, period)


def test_bad_rate_limit_spec_names_the_form():
    with pytest.raises(ValueError, match="100/20s"):
        RateLimit.parse("fast")


# --- personal access tokens ----------------------------------------------------------------------

def test_missing_or_wrong_credentials_are_401(sandbox):
    with sandbox.client(authenticated=False) as client:
        missing = client.get("/people/v2/people")
        wrong = client.get("/people/v2/people", auth=("test-app", "wrong"))
    for response in (missing, wrong):
        assert response.status_code == 401
        assert response.json()["errors"][0]["status"] == "401"
        assert "wrong" not in response.text


def test_credentials_come_from_arguments_then_environment_then_demo(monkeypatch):
    monkeypatch.delenv("PCO_APP_ID", raising=False)
    monkeypatch.delenv("PCO_SECRET", raising=False)
    assert resolve_credentials(None, None)[:2] == ("sandbox-app-id", "sandbox-secret")
    monkeypatch.setenv("PCO_APP_ID", "env-id")
    monkeypatch.setenv("PCO_SECRET", "env-secret")
    assert resolve_credentials(None, None)[:2] == ("env-id", "env-secret")
    assert resolve_credentials("arg-id", "arg-secret")[:2] == ("arg-id", "arg-secret")
    with pytest.raises(ValueError):
        resolve_credentials("only-id", None)


def test_missing_scope_is_403(sandbox, client):
    sandbox.auth.set_scopes("test-app", {"people"})
    assert client.get("/people/v2/people").status_code == 200
    response = client.get("/groups/v2/groups")
    assert response.status_code == 403 and "PELICAN" in response.json()["errors"][0]["detail"]


# --- OAuth 2 -----------------------------------------------------------------------------------

def _authorize(client, scope="people webhooks") -> str:
    response = client.get("/oauth/authorize", params={
        "client_id": "sandbox-oauth-client", "redirect_uri": "http://localhost/callback",
        "response_type": "code", "scope": scope}, follow_redirects=False)
    assert response.status_code == 302
    return parse_qs(urlsplit(response.headers["location"]).query)["code"][0]


def _token(client, **form) -> httpx.Response:
    return client.post("/oauth/token", data={"client_id": "sandbox-oauth-client",
                                            "client_secret": "sandbox-oauth-secret", **form})


def test_authorization_code_then_bearer_then_expiry_then_refresh(sandbox):
    with sandbox.client(authenticated=False) as client:
        code = _authorize(client)
        granted = _token(client, grant_type="authorization_code", code=code,
                         redirect_uri="http://localhost/callback").json()
        assert granted["token_type"] == "bearer" and granted["expires_in"] == 7200
        assert granted["scope"] == "people webhooks"
        bearer = {"Authorization": f"Bearer {granted['access_token']}"}
        ok = client.get("/people/v2/people", headers=bearer)
        assert ok.status_code == 200 and ok.headers["x-pco-api-auth-method"] == "OAuth2"
        assert client.get("/groups/v2/groups", headers=bearer).status_code == 403

        sandbox.clock.advance(7200)
        expired = client.get("/people/v2/people", headers=bearer)
        assert expired.status_code == 401 and "expired" in expired.json()["errors"][0]["detail"]

        refreshed = _token(client, grant_type="refresh_token", refresh_token=granted["refresh_token"]).json()
        assert refreshed["refresh_token"] != granted["refresh_token"]
        fresh = {"Authorization": f"Bearer {refreshed['access_token']}"}
        assert client.get("/people/v2/people", headers=fresh).status_code == 200
        # Refresh tokens rotate: the old one is spent.
        reused = _token(client, grant_type="refresh_token", refresh_token=granted["refresh_token"])
        assert reused.status_code == 400 and reused.json()["error"] == "invalid_grant"


def test_codes_are_single_use_and_clients_must_authenticate(sandbox):
    with sandbox.client(authenticated=False) as client:
        code = _authorize(client)
        assert _token(client, grant_type="authorization_code", code=code,
                      redirect_uri="http://localhost/callback").status_code == 200
        assert _token(client, grant_type="authorization_code", code=code,
                      redirect_uri="http://localhost/callback").json()["error"] == "invalid_grant"
        bad_client = client.post("/oauth/token", data={"client_id": "sandbox-oauth-client", "client_secret": "x",
                                                       "grant_type": "authorization_code", "code": _authorize(client)})
        assert bad_client.status_code == 401 and bad_client.json()["error"] == "invalid_client"


def test_revoking_every_token(sandbox):
    with sandbox.client(authenticated=False) as client:
        granted = _token(client, grant_type="authorization_code", code=_authorize(client),
                         redirect_uri="http://localhost/callback").json()
        sandbox.auth.revoke_all_tokens()
        response = client.get("/people/v2/people", headers={"Authorization": f"Bearer {granted['access_token']}"})
        assert response.status_code == 401


def test_retry_after_is_honest_over_a_short_window():
    with make_sandbox(rate_limit="1/1s") as sandbox, sandbox.client() as client:
        assert client.get("/people/v2/people").status_code == 200
        limited = client.get("/people/v2/people")
        assert limited.status_code == 429 and limited.headers["retry-after"] == "1"
        time.sleep(1.05)
        assert client.get("/people/v2/people").status_code == 200
