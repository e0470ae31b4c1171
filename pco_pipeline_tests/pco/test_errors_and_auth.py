"""Typed, actionable errors; OAuth refresh; configuration; secrets never shown."""

from __future__ import annotations

import base64
import logging
import os
import stat
import threading
import time

import pytest

from pco_pipeline.pco import (API_VERSIONS, BasicCredentials, OAuthCredentials, PCOAuthError, PCOClient,
                              PCOConfig, PCOConfigError, PCOError, PCOForbiddenError, PCONotFound,
                              PCOServerError, PCOValidationError, PCOWriteOutcomeUnknown, RetryPolicy,
                              resource_body)
from pco_pipeline.pco.errors import parse_error_body
from pco_pipeline_tests.pco.conftest import FAST_RETRIES
from pco_pipeline_tests.pco.fake_pco import BASE, FakePCO


def test_401_names_the_settings_to_check(make_fake, make_client, credential):
    fake = make_fake(people=3)
    client = make_client(fake, credentials=(credential[0], "wrong-secret"))
    with pytest.raises(PCOAuthError) as caught:
        client.get("/people/v2")
    assert caught.value.status == 401
    assert "PCO_APP_ID / PCO_SECRET" in str(caught.value)
    assert "access token expired" in str(caught.value)  # PCO's BABOON hint, translated
    assert fake.count(status=401) == 1  # a PAT is not retried


def test_403_says_which_module_and_why(make_fake, make_client):
    fake = make_fake(people=3, forbidden_modules=("groups",))
    client = make_client(fake)
    with pytest.raises(PCOForbiddenError) as caught:
        list(client.iter_records("/groups/v2/groups"))
    message = str(caught.value)
    assert "'groups' module" in message and "scope" in message and "PELICAN" in message


def test_404_and_422_carry_pco_detail(make_fake, make_client):
    fake = make_fake(people=3)
    client = make_client(fake)
    with pytest.raises(PCONotFound) as missing:
        client.get_resource("/people/v2/people/999")
    assert missing.value.detail == "Not Found: The resource you requested could not be found"
    with pytest.raises(PCOValidationError) as invalid:
        client.post("/people/v2/people", resource_body("Person", {"first_name": "A", "bogus": 1}))
    assert invalid.value.problems == [("bogus", "bogus cannot be assigned")]
    assert "bogus: bogus cannot be assigned" in str(invalid.value)
    assert invalid.value.request_id


def test_html_error_pages_are_reduced_to_their_title(make_fake, make_client):
    fake = make_fake(people=3)
    client = make_client(fake)
    with pytest.raises(PCONotFound) as caught:
        client.request("PUT", "/people/v2/people/1001")
    assert "HTML error page: The page you were looking for doesn't exist (404)" in str(caught.value)
    fake.fail_next("html502", times=9)
    with pytest.raises(PCOServerError, match="502 Bad Gateway"):
        client.get("/people/v2")


def test_error_bodies_of_every_shape_parse():
    assert parse_error_body(b"") == ()
    assert parse_error_body(b"plain words\n") [0].detail == "plain words"
    oauth = parse_error_body(b'{"error":"invalid_grant","error_description":"expired"}')[0]
    assert (oauth.title, oauth.detail) == ("invalid_grant", "expired")
    rate = parse_error_body(b'{"errors":[{"code":"429","detail":"Rate limit exceeded: 118 of 100 requests"}]}')[0]
    assert rate.code == "429" and "118 of 100" in (rate.detail or "")


def test_api_version_and_user_agent_on_every_request(make_fake, make_client):
    fake = make_fake(people=3)
    client = make_client(fake)
    client.get("/people/v2")
    list(client.iter_records("/groups/v2/groups"))
    list(client.iter_records("/webhooks/v2/webhook_subscriptions"))
    versions = {a.path: a.headers.get("x-pco-api-version") for a in fake.arrivals}
    assert versions == {"/people/v2": API_VERSIONS["people"], "/groups/v2/groups": "2023-07-10",
                        "/webhooks/v2/webhook_subscriptions": "2022-10-20"}
    assert all(a.headers["user-agent"].startswith("pco_pipeline/") for a in fake.arrivals)


def test_credentials_are_never_sent_to_another_host(make_fake, make_client):
    client = make_client(make_fake(people=1))
    with pytest.raises(ValueError, match="refusing"):
        client.get("https://evil.example/people/v2")


# ---------------------------------------------------------------- configuration

def test_config_from_env_defaults_and_missing_pieces():
    config = PCOConfig.from_env({"PCO_APP_ID": "a", "PCO_SECRET": "s"})
    assert config.base_url == "https://api.planningcenteronline.com" and config.auth_method == "basic"
    assert PCOConfig.from_env({"PCO_API_BASE": "http://127.0.0.1:9/", "PCO_APP_ID": "a",
                               "PCO_SECRET": "s"}).base_url == "http://127.0.0.1:9"
    with pytest.raises(PCOConfigError, match="^PCO_SECRET is not set"):
        PCOConfig.from_env({"PCO_APP_ID": "a"})
    with pytest.raises(PCOConfigError, match="PCO_OAUTH_CLIENT_SECRET, PCO_OAUTH_REFRESH_TOKEN not set"):
        PCOConfig.from_env({"PCO_OAUTH_CLIENT_ID": "c"})
    with pytest.raises(PCOConfigError, match="set PCO_APP_ID and PCO_SECRET"):
        PCOClient.from_env({})
    with pytest.raises(PCOConfigError, match="PCO_API_BASE must be an http"):
        PCOClient.from_env({"PCO_API_BASE": "ftp://x", "PCO_APP_ID": "a", "PCO_SECRET": "s"})


# ---------------------------------------------------------------- OAuth

@pytest.fixture
def oauth_fake():
    fake = FakePCO(people=120, emails_per_person=0, limit=50, credentials={})
    fake.add_oauth_client("client-1", "client-secret-XYZ", "rt-initial")
    return fake


def _oauth_client(fake, tmp_path=None, **oauth):
    credentials = OAuthCredentials(client_id="client-1", client_secret="client-secret-XYZ",
                                   refresh_token=oauth.pop("refresh_token", "rt-initial"),
                                   token_file=str(tmp_path / "tokens.json") if tmp_path else None, **oauth)
    return PCOClient(PCOConfig(base_url=BASE, oauth=credentials, retry=FAST_RETRIES), transport=fake.transport())


def test_oauth_refreshes_before_expiry(oauth_fake, tmp_path):
    soon = oauth_fake.issue_access_token(lifetime=3600)
    client = _oauth_client(oauth_fake, tmp_path, access_token=soon, expires_at=time.time() + 60)
    client.get("/people/v2")
    assert oauth_fake.token_requests == 1  # 60 s left is inside the refresh margin
    used = [a.headers["authorization"] for a in oauth_fake.arrivals if a.path == "/people/v2"]
    assert used and used[0] != f"Bearer {soon}"
    client.get("/people/v2")
    assert oauth_fake.token_requests == 1
    assert client.oauth_scopes == ("people", "groups")


def test_oauth_token_still_valid_is_used_without_refreshing(oauth_fake):
    token = oauth_fake.issue_access_token()
    client = _oauth_client(oauth_fake, access_token=token, expires_at=time.time() + 7000)
    client.get("/people/v2")
    assert oauth_fake.token_requests == 0


def test_oauth_refreshes_once_on_401_and_rotates_the_stored_refresh_token(oauth_fake, tmp_path):
    token = oauth_fake.issue_access_token()
    client = _oauth_client(oauth_fake, tmp_path, access_token=token, expires_at=time.time() + 7000)
    oauth_fake.revoke_access_tokens()  # PCO revoked it early
    records = list(client.iter_records("/people/v2/people"))
    assert len(records) == 120 and oauth_fake.token_requests == 1
    token_file = tmp_path / "tokens.json"
    assert stat.S_IMODE(os.stat(token_file).st_mode) == 0o600
    assert "rt-initial" not in token_file.read_text()  # rotated; the old one is dead at PCO
    # a new process starts from the file, not from the stale environment value
    restarted = _oauth_client(oauth_fake, tmp_path)
    oauth_fake.revoke_access_tokens()
    restarted.get("/people/v2")
    assert oauth_fake.token_requests == 2


def test_concurrent_401s_refresh_only_once(oauth_fake):
    token = oauth_fake.issue_access_token()
    client = _oauth_client(oauth_fake, access_token=token, expires_at=time.time() + 7000)
    oauth_fake.revoke_access_tokens()
    errors = []

    def call():
        try:
            client.get("/people/v2")
        except PCOError as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=call) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and oauth_fake.token_requests == 1


def test_a_dead_refresh_token_says_to_reconnect(oauth_fake):
    client = _oauth_client(oauth_fake, refresh_token="rt-revoked")
    with pytest.raises(PCOAuthError) as caught:
        client.get("/people/v2")
    assert "PCO_OAUTH_REFRESH_TOKEN" in str(caught.value) and "invalid_grant" in str(caught.value)


def test_401_after_a_refresh_is_final(oauth_fake):
    client = _oauth_client(oauth_fake)
    oauth_fake.fail_next("401", times=2)
    with pytest.raises(PCOAuthError, match="even after a refresh"):
        client.get("/people/v2")
    assert oauth_fake.token_requests == 2  # the first (no token yet) and the one after the 401


# ---------------------------------------------------------------- secrets

def test_secrets_never_appear_in_errors_logs_or_reprs(make_fake, credential, caplog, tmp_path):
    app_id, secret = credential
    basic_blob = base64.b64encode(f"{app_id}:{secret}".encode()).decode()
    fake = make_fake(people=3, forbidden_modules=("groups",))
    texts: list[str] = []
    caplog.set_level(logging.DEBUG)

    def collect(exc: BaseException | None) -> None:
        while exc is not None:
            texts.extend([str(exc), repr(exc)])
            exc = exc.__cause__ or exc.__context__

    config = PCOConfig(base_url=BASE, basic=BasicCredentials(app_id, secret),
                       retry=RetryPolicy(max_retries=1, backoff_base=0.001))
    client = PCOClient(config, transport=fake.transport())
    texts += [repr(config), str(config), repr(client), repr(config.basic), repr(client._auth)]
    wrong = PCOClient(config.with_overrides(basic=BasicCredentials(app_id, secret + "-wrong")),
                      transport=fake.transport())
    for action, failure in [
        (lambda: wrong.get("/people/v2"), None),
        (lambda: list(client.iter_records("/groups/v2/groups")), None),
        (lambda: client.post("/people/v2/people", resource_body("Person", {"bogus": secret})), None),
        (lambda: client.post("/people/v2/people", resource_body("Person", {"first_name": "x"})), "timeout"),
        (lambda: client.get("/people/v2"), "500"),
        (lambda: client.get("/people/v2"), "connect"),
        (lambda: PCOConfig.from_env({"PCO_APP_ID": app_id}), None),
    ]:
        if failure:
            fake.fail_next(failure, times=3)
        with pytest.raises((PCOError, PCOWriteOutcomeUnknown)) as caught:
            action()
        collect(caught.value)
    oauth_fake = FakePCO(people=1, credentials={})
    oauth_fake.add_oauth_client("client-1", "client-secret-XYZ", "rt-initial")
    oauth = _oauth_client(oauth_fake, tmp_path, refresh_token="rt-wrong")
    texts += [repr(oauth), repr(oauth.config), repr(oauth._auth)]
    with pytest.raises(PCOAuthError) as caught:
        oauth.get("/people/v2")
    collect(caught.value)
    texts += [r.getMessage() for r in caplog.records]
    blob = "\n".join(texts)
    assert "422" in blob and "401" in blob  # the errors were really collected
    for leaked in (secret, basic_blob, "client-secret-XYZ", "rt-wrong"):
        assert leaked not in blob
    # the 422 echoes the *attribute name*, never a value (the secret was sent as a value)
