"""The services refuse to start on a missing or malformed setting, and say which one."""

import base64
import os

import pytest

from kutamo_identity.config import ConfigError
from kutamo_identity.config import from_env as identity_config
from kutamo_provisioning.config import ConfigError as WorkerConfigError
from kutamo_provisioning.config import from_env as worker_config

GOOD = {
    "DATABASE_URL": "postgresql://kutamo@127.0.0.1:5432/kutamo",
    "KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:9092",
    "TOKEN_SEALING_KEY": base64.b64encode(os.urandom(32)).decode(),
    "IDENTITY_BASE_URL": "http://127.0.0.1:8000",
}


def test_defaults_match_the_documented_local_setup() -> None:
    config = identity_config(GOOD)
    assert (config.port, config.azure_login_base_url) == (8000, "https://login.microsoftonline.com")
    worker = worker_config(GOOD)
    assert (worker.port, worker.graph_base_url) == (8001, "https://graph.microsoft.com")


def test_missing_variables_are_all_named_at_once() -> None:
    with pytest.raises(ConfigError, match="DATABASE_URL, KAFKA_BOOTSTRAP_SERVERS, TOKEN_SEALING_KEY"):
        identity_config({})
    with pytest.raises(WorkerConfigError, match="IDENTITY_BASE_URL"):
        worker_config({k: v for k, v in GOOD.items() if k != "IDENTITY_BASE_URL"})


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("DATABASE_URL", "mysql://x/y", "DATABASE_URL must be a postgresql or postgres URL"),
        ("PORT", "eighty", "PORT must be a whole number"),
        ("PORT", "70000", "PORT must be between 1 and 65535"),
        ("TOKEN_SEALING_KEY", "c2hvcnQ=", "must decode to 32 bytes"),
        (
            "AZURE_LOGIN_BASE_URL",
            "login.microsoftonline.com",
            "AZURE_LOGIN_BASE_URL must be a http or https URL",
        ),
        ("LOG_LEVEL", "chatty", "LOG_LEVEL must be"),
    ],
)
def test_a_malformed_value_is_refused_with_what_to_fix(name: str, value: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        identity_config({**GOOD, name: value})


def test_the_sealing_key_never_appears_in_the_error() -> None:
    secret = base64.b64encode(b"x" * 31).decode()
    with pytest.raises(ConfigError) as caught:
        identity_config({**GOOD, "TOKEN_SEALING_KEY": secret})
    assert secret not in str(caught.value)


@pytest.mark.parametrize(
    "url",
    [
        "mysql://kutamo:hunter2-secret@db:5432/kutamo",
        "postgresql//kutamo:hunter2-secret@db:5432/kutamo",
        "kutamo:hunter2-secret@db",
    ],
)
def test_a_malformed_database_url_is_refused_without_its_password(url: str) -> None:
    for parse, error in ((identity_config, ConfigError), (worker_config, WorkerConfigError)):
        with pytest.raises(error, match="DATABASE_URL must be a postgresql or postgres URL") as caught:
            parse({**GOOD, "DATABASE_URL": url})
        assert "hunter2-secret" not in str(caught.value)
        assert "@db" in str(caught.value), "the host part still helps to find the mistake"


def test_a_short_operator_key_is_refused_without_echoing_it() -> None:
    with pytest.raises(ConfigError, match="at least 32 characters") as caught:
        identity_config({**GOOD, "KUTAMO_OPERATOR_KEY": "short-but-secret"})
    assert "short-but-secret" not in str(caught.value)


def test_services_do_not_migrate_at_start_unless_told_to() -> None:
    assert identity_config(GOOD).migrate_on_start is False
    assert worker_config({**GOOD, "MIGRATE_ON_START": "true"}).migrate_on_start is True
    with pytest.raises(WorkerConfigError, match="MIGRATE_ON_START must be true or false"):
        worker_config({**GOOD, "MIGRATE_ON_START": "sometimes"})
