"""Configuration from environment variables: one pure function, read once in __main__, passed down."""

import os
from collections.abc import Mapping
from urllib.parse import urlsplit

import msgspec

from kutamo_contracts.sealing import SealingKeys, parse_keys

# Every variable the service reads: name -> (required, meaning). The README table and the
# docker-compose check are held to this list.
VARIABLES: dict[str, tuple[bool, str]] = {
    "DATABASE_URL": (True, "PostgreSQL URL, e.g. postgresql://user@host:5432/kutamo"),
    "KAFKA_BOOTSTRAP_SERVERS": (True, "Kafka bootstrap servers, comma separated host:port"),
    "TOKEN_SEALING_KEY": (True, "base64 of 32 random bytes, shared with the provisioning worker"),
    "TOKEN_SEALING_KEY_PREVIOUS": (
        False,
        "The sealing key being retired during a rotation: still opens tokens, never seals (default none)",
    ),
    "AZURE_LOGIN_BASE_URL": (False, "Microsoft login host (default https://login.microsoftonline.com)"),
    "PUBLIC_BASE_URL": (
        False,
        "Base URL users see; login links and session issuer (default http://localhost:8000)",
    ),
    "APP_URL": (
        False,
        "Where the login page hands a signed-in person's Kutamo session, in the URL fragment "
        "(default PUBLIC_BASE_URL/app, a page that shows who is signed in)",
    ),
    "LOGIN_POPUP_TIMEOUT_SECONDS": (
        False,
        "How long the login page waits for the Microsoft window before offering help (default 60)",
    ),
    "HOST": (False, "Interface to listen on (default 127.0.0.1)"),
    "PORT": (False, "Port to listen on (default 8000)"),
    "SESSION_TTL_SECONDS": (False, "Lifetime of Kutamo session tokens (default 900)"),
    "SESSION_KEY_ROTATION_HOURS": (
        False,
        "Each process starts signing sessions with a new key this often; the next key is published one "
        "period ahead (default 24)",
    ),
    "CLOCK_SKEW_SECONDS": (False, "Allowed clock skew when checking Microsoft tokens (default 120)"),
    "GRAPH_TOKEN_TTL_SECONDS": (
        False,
        "How long a Graph token is assumed valid when the frontend does not say (default 600)",
    ),
    "LOGIN_NONCE_TTL_SECONDS": (False, "How long a login page's nonce can be used (default 600)"),
    "VERIFICATION_CODE_TTL_SECONDS": (False, "How long a verification sign-in code can be used (default 3600)"),
    "SIGNING_KEYS_TTL_SECONDS": (
        False,
        "Microsoft signing keys are refreshed in the background after this (default 21600)",
    ),
    "SIGNING_KEYS_MIN_REFRESH_SECONDS": (
        False,
        "At most one key refresh per directory in this time, even on unknown kids (default 300)",
    ),
    "KUTAMO_OPERATOR_KEY": (False, "Bootstrap operator API key (32+ characters) for a fresh deployment; unset: none"),
    "LOGIN_CODE_GRACE_DAYS": (False, "Days an old login code keeps working after a rename (default 30)"),
    "CORS_ALLOWED_ORIGINS": (False, "Comma-separated frontend origins allowed to call the API from a browser"),
    "PROVISIONING_CONSUMER_GROUP": (
        False,
        "Consumer group of the provisioning workers, for the lag on /ops (default kutamo-provisioning)",
    ),
    "PROVISIONING_BASE_URL": (False, "Provisioning worker base URL; /ops shows its Graph figures (default: not shown)"),
    "OUTBOX_RETENTION_HOURS": (
        False,
        "Hours published outbox rows are kept before the relay deletes them (default 168)",
    ),
    "RATE_LIMIT_PER_MINUTE": (
        False,
        "Requests a client address may make per minute to the public endpoints, per process (default 600)",
    ),
    "WEB_CONCURRENCY": (
        False,
        "Identity processes serving the port, replaced when one dies (default: the machine's CPU cores)",
    ),
    "DATABASE_POOL_SIZE": (False, "Most PostgreSQL connections each identity process opens (default 8)"),
    "LOG_LEVEL": (False, "DEBUG, INFO, WARNING or ERROR (default INFO)"),
}


class ConfigError(Exception):
    """The environment does not describe a runnable service; the message says what to fix."""


class Config(msgspec.Struct, frozen=True, kw_only=True):
    database_url: str
    kafka_bootstrap_servers: str
    sealing_keys: SealingKeys
    azure_login_base_url: str
    public_base_url: str
    host: str
    port: int
    session_ttl_seconds: int
    clock_skew_seconds: int
    graph_token_ttl_seconds: int
    login_nonce_ttl_seconds: int
    verification_code_ttl_seconds: int
    signing_keys_ttl_seconds: int
    signing_keys_min_refresh_seconds: int
    operator_key: str | None
    login_code_grace_days: int
    cors_allowed_origins: list[str]
    provisioning_consumer_group: str
    provisioning_base_url: str | None
    log_level: str
    outbox_retention_hours: int = 168
    session_key_rotation_hours: int = 24
    rate_limit_per_minute: int = 600
    app_url: str = "http://localhost:8000/app"
    login_popup_timeout_seconds: int = 60
    web_concurrency: int = 1
    database_pool_size: int = 8


def _url(environ: Mapping[str, str], name: str, default: str, schemes: tuple[str, ...]) -> str:
    value = environ.get(name, default).strip().rstrip("/")
    parts = urlsplit(value)
    if parts.scheme not in schemes or not parts.netloc:
        raise ConfigError(f"{name} must be a {' or '.join(schemes)} URL, got {value!r}")
    return value


def _int(environ: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    raw = environ.get(name, str(default))
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a whole number, got {raw!r}") from None
    if not low <= value <= high:
        raise ConfigError(f"{name} must be between {low} and {high}, got {value}")
    return value


def _operator_key(environ: Mapping[str, str]) -> str | None:
    key = environ.get("KUTAMO_OPERATOR_KEY", "").strip()
    if key and len(key) < 32:
        raise ConfigError("KUTAMO_OPERATOR_KEY must be at least 32 characters (e.g. openssl rand -base64 32)")
    return key or None


def _origins(environ: Mapping[str, str]) -> list[str]:
    origins = [o.strip().rstrip("/") for o in environ.get("CORS_ALLOWED_ORIGINS", "").split(",") if o.strip()]
    for origin in origins:
        parts = urlsplit(origin)
        if parts.scheme not in ("http", "https") or not parts.netloc or parts.path:
            raise ConfigError(
                f"CORS_ALLOWED_ORIGINS entries must be origins like https://app.kutamo.com, got {origin!r}"
            )
    return origins


def from_env(environ: Mapping[str, str]) -> Config:
    missing = [name for name, (required, _) in VARIABLES.items() if required and not environ.get(name)]
    if missing:
        raise ConfigError(f"missing required environment variable(s): {', '.join(missing)}")
    try:
        sealing_keys = parse_keys(environ["TOKEN_SEALING_KEY"], environ.get("TOKEN_SEALING_KEY_PREVIOUS"))
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    public_base_url = _url(environ, "PUBLIC_BASE_URL", "http://localhost:8000", ("http", "https"))
    level = environ.get("LOG_LEVEL", "INFO").upper()
    if level not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
        raise ConfigError(f"LOG_LEVEL must be DEBUG, INFO, WARNING or ERROR, got {level!r}")
    return Config(
        database_url=_url(environ, "DATABASE_URL", "", ("postgresql", "postgres")),
        kafka_bootstrap_servers=environ["KAFKA_BOOTSTRAP_SERVERS"].strip(),
        sealing_keys=sealing_keys,
        azure_login_base_url=_url(
            environ, "AZURE_LOGIN_BASE_URL", "https://login.microsoftonline.com", ("http", "https")
        ),
        public_base_url=public_base_url,
        app_url=_url(environ, "APP_URL", public_base_url + "/app", ("http", "https")),
        login_popup_timeout_seconds=_int(environ, "LOGIN_POPUP_TIMEOUT_SECONDS", 60, 5, 600),
        host=environ.get("HOST", "127.0.0.1"),
        port=_int(environ, "PORT", 8000, 1, 65535),
        session_ttl_seconds=_int(environ, "SESSION_TTL_SECONDS", 900, 60, 86400),
        session_key_rotation_hours=_int(environ, "SESSION_KEY_ROTATION_HOURS", 24, 1, 24 * 30),
        clock_skew_seconds=_int(environ, "CLOCK_SKEW_SECONDS", 120, 0, 600),
        graph_token_ttl_seconds=_int(environ, "GRAPH_TOKEN_TTL_SECONDS", 600, 60, 7200),
        login_nonce_ttl_seconds=_int(environ, "LOGIN_NONCE_TTL_SECONDS", 600, 30, 3600),
        verification_code_ttl_seconds=_int(environ, "VERIFICATION_CODE_TTL_SECONDS", 3600, 60, 7 * 86400),
        signing_keys_ttl_seconds=_int(environ, "SIGNING_KEYS_TTL_SECONDS", 21600, 60, 86400),
        signing_keys_min_refresh_seconds=_int(environ, "SIGNING_KEYS_MIN_REFRESH_SECONDS", 300, 1, 3600),
        operator_key=_operator_key(environ),
        login_code_grace_days=_int(environ, "LOGIN_CODE_GRACE_DAYS", 30, 0, 365),
        cors_allowed_origins=_origins(environ),
        provisioning_consumer_group=environ.get("PROVISIONING_CONSUMER_GROUP", "kutamo-provisioning"),
        provisioning_base_url=(
            _url(environ, "PROVISIONING_BASE_URL", "", ("http", "https"))
            if environ.get("PROVISIONING_BASE_URL")
            else None
        ),
        log_level=level,
        outbox_retention_hours=_int(environ, "OUTBOX_RETENTION_HOURS", 168, 1, 24 * 365),
        rate_limit_per_minute=_int(environ, "RATE_LIMIT_PER_MINUTE", 600, 1, 1_000_000),
        web_concurrency=_int(environ, "WEB_CONCURRENCY", os.cpu_count() or 1, 1, 64),
        database_pool_size=_int(environ, "DATABASE_POOL_SIZE", 8, 2, 100),
    )
