"""Receiver settings: secrets from the environment and from code, never shown."""

from __future__ import annotations

import pytest

from pco_pipeline.webhooks.settings import (
    DEFAULT_BACKLOG, DEFAULT_READ_TIMEOUT_SECONDS, DEFAULT_KEEP_ALIVE_SECONDS, DEFAULT_MAX_BODY_BYTES,
    DEFAULT_MAX_CONCURRENCY, DEFAULT_MAX_HEADER_BYTES, ConnectionLimits, ReceiverSettings, WebhookSettingsError,
    parse_secrets,
)


def test_secrets_are_comma_separated_trimmed_and_deduplicated():
    assert parse_secrets(" a1 ,b2,, a1 ,c3 ") == ("a1", "b2", "c3")
    assert parse_secrets("") == ()


def test_environment_and_caller_secrets_combine():
    settings = ReceiverSettings.from_env({"PCO_WEBHOOK_SECRETS": "env1,env2"}, extra_secrets=["code1", "env1"])
    assert settings.secrets == ("env1", "env2", "code1")
    assert settings.max_body_bytes == DEFAULT_MAX_BODY_BYTES


def test_body_limit_is_configurable():
    assert ReceiverSettings.from_env({"PCO_WEBHOOK_MAX_BODY_BYTES": "65536"}).max_body_bytes == 65536


@pytest.mark.parametrize("value", ["lots", "0", "-5", "1e6", str(65 * 1024 * 1024)])
def test_bad_body_limit_names_the_variable(value):
    with pytest.raises(WebhookSettingsError, match="PCO_WEBHOOK_MAX_BODY_BYTES must be a whole number"):
        ReceiverSettings.from_env({"PCO_WEBHOOK_MAX_BODY_BYTES": value, "PCO_WEBHOOK_SECRETS": "s3cr3t-value"})


def test_secrets_never_appear_in_repr_or_errors():
    settings = ReceiverSettings(secrets=("s3cr3t-value",))
    assert "s3cr3t" not in repr(settings) and "s3cr3t" not in str(settings)
    with pytest.raises(WebhookSettingsError) as caught:
        ReceiverSettings.from_env({"PCO_WEBHOOK_MAX_BODY_BYTES": "x", "PCO_WEBHOOK_SECRETS": "s3cr3t-value"})
    assert "s3cr3t" not in str(caught.value)


def test_a_bare_string_is_not_taken_for_a_list_of_secrets():
    with pytest.raises(WebhookSettingsError):
        ReceiverSettings(secrets="abc")  # pyright: ignore[reportArgumentType]  # the wrong type on purpose


def test_connection_limits_have_named_defaults_and_are_read_from_the_environment():
    assert ReceiverSettings().limits == ConnectionLimits(
        read_timeout_seconds=DEFAULT_READ_TIMEOUT_SECONDS, max_header_bytes=DEFAULT_MAX_HEADER_BYTES,
        keep_alive_seconds=DEFAULT_KEEP_ALIVE_SECONDS, max_concurrency=DEFAULT_MAX_CONCURRENCY,
        backlog=DEFAULT_BACKLOG)
    settings = ReceiverSettings.from_env({
        "PCO_WEBHOOK_READ_TIMEOUT_SECONDS": "2",
        "PCO_WEBHOOK_MAX_HEADER_BYTES": "8192", "PCO_WEBHOOK_KEEP_ALIVE_SECONDS": "3",
        "PCO_WEBHOOK_MAX_CONCURRENCY": "40", "PCO_WEBHOOK_BACKLOG": "128"})
    assert settings.limits == ConnectionLimits(read_timeout_seconds=2.0, max_header_bytes=8192,
                                               keep_alive_seconds=3.0, max_concurrency=40, backlog=128)


@pytest.mark.parametrize("variable, value, expected", [
    ("PCO_WEBHOOK_READ_TIMEOUT_SECONDS", "soon", "a number of seconds from 0.1 to 300"),
    ("PCO_WEBHOOK_READ_TIMEOUT_SECONDS", "0", "a number of seconds from 0.1 to 300"),
    ("PCO_WEBHOOK_READ_TIMEOUT_SECONDS", "nan", "a number of seconds from 0.1 to 300"),
    ("PCO_WEBHOOK_MAX_HEADER_BYTES", "16k", "a whole number of bytes from 1024 to 1048576"),
    ("PCO_WEBHOOK_KEEP_ALIVE_SECONDS", "inf", "a number of seconds from 0.1 to 300"),
    ("PCO_WEBHOOK_MAX_CONCURRENCY", "-1", "a whole number of connections from 1 to 100000"),
    ("PCO_WEBHOOK_BACKLOG", "1.5", "a whole number of connections from 1 to 65535"),
])
def test_a_bad_limit_names_the_variable_and_the_accepted_range(variable, value, expected):
    with pytest.raises(WebhookSettingsError) as caught:
        ReceiverSettings.from_env({variable: value, "PCO_WEBHOOK_SECRETS": "s3cr3t-value"})
    assert str(caught.value) == f"{variable} must be {expected}, got {value!r}"


def test_a_bad_limit_given_in_code_names_the_setting():
    with pytest.raises(WebhookSettingsError, match=r"^max_concurrency \(PCO_WEBHOOK_MAX_CONCURRENCY\) must be"):
        ConnectionLimits(max_concurrency=0)
