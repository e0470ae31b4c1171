"""Receiver settings: secrets from the environment and from code, never shown."""

from __future__ import annotations

import pytest

from pco_pipeline.webhooks.settings import (
    DEFAULT_MAX_BODY_BYTES, ReceiverSettings, WebhookSettingsError, parse_secrets,
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
        ReceiverSettings(secrets="abc")
