"""Configuration from environment variables: the identity service's settings, read once in __main__.

Each variable is declared once below (name, meaning, default, range); kutamo_kit.config reads them and
the README table is held to these declarations.
"""

import os
from collections.abc import Mapping

from kutamo_kit.config import ConfigError, Int, Settings, Text, Url
from kutamo_kit.settings import ServiceConfig, Shared

__all__ = ["VARIABLES", "Config", "ConfigError", "from_env"]

SHARED = Shared(
    port=8000,
    sealing_key="base64 of 32 random bytes, shared with the provisioning worker",
    operator_key=(
        "Bootstrap operator API key (32+ characters) for a fresh deployment, sent as Authorization: Bearer; unset: none"
    ),
)
AZURE_LOGIN_BASE_URL = Url("AZURE_LOGIN_BASE_URL", "Microsoft login host", default="https://login.microsoftonline.com")
PUBLIC_BASE_URL = Url(
    "PUBLIC_BASE_URL", "Base URL users see; login links and session issuer", default="http://localhost:8000"
)
APP_URL = Url(
    "APP_URL",
    "Where the login page hands a signed-in person's Kutamo session, in the URL fragment "
    "(default PUBLIC_BASE_URL/app, a page that shows who is signed in)",
)
LOGIN_POPUP_TIMEOUT_SECONDS = Int(
    "LOGIN_POPUP_TIMEOUT_SECONDS",
    "How long the login page waits for the Microsoft window before offering help",
    default=60, low=5, high=600,
)  # fmt: skip
SESSION_TTL_SECONDS = Int("SESSION_TTL_SECONDS", "Lifetime of Kutamo session tokens", default=900, low=60, high=86400)
SESSION_KEY_ROTATION_HOURS = Int(
    "SESSION_KEY_ROTATION_HOURS",
    "Each process starts signing sessions with a new key this often; the next key is published one period ahead",
    default=24, low=1, high=24 * 30,
)  # fmt: skip
CLOCK_SKEW_SECONDS = Int(
    "CLOCK_SKEW_SECONDS", "Allowed clock skew when checking Microsoft tokens", default=120, low=0, high=600
)
GRAPH_TOKEN_TTL_SECONDS = Int(
    "GRAPH_TOKEN_TTL_SECONDS",
    "How long a Graph token is assumed valid when the frontend does not say",
    default=600, low=60, high=7200,
)  # fmt: skip
LOGIN_NONCE_TTL_SECONDS = Int(
    "LOGIN_NONCE_TTL_SECONDS", "How long a login page's nonce can be used", default=600, low=30, high=3600
)
VERIFICATION_CODE_TTL_SECONDS = Int(
    "VERIFICATION_CODE_TTL_SECONDS",
    "How long a verification sign-in code can be used",
    default=3600, low=60, high=7 * 86400,
)  # fmt: skip
SIGNING_KEYS_TTL_SECONDS = Int(
    "SIGNING_KEYS_TTL_SECONDS",
    "Microsoft signing keys are refreshed in the background after this",
    default=21600, low=60, high=86400,
)  # fmt: skip
SIGNING_KEYS_MIN_REFRESH_SECONDS = Int(
    "SIGNING_KEYS_MIN_REFRESH_SECONDS",
    "At most one key refresh per directory in this time, even on unknown kids",
    default=300, low=1, high=3600,
)  # fmt: skip
LOGIN_CODE_GRACE_DAYS = Int(
    "LOGIN_CODE_GRACE_DAYS", "Days an old login code keeps working after a rename", default=30, low=0, high=365
)
PROVISIONING_CONSUMER_GROUP = Text(
    "PROVISIONING_CONSUMER_GROUP",
    "Consumer group of the provisioning workers, for the lag on /ops",
    default="kutamo-provisioning",
)
PROVISIONING_BASE_URL = Url(
    "PROVISIONING_BASE_URL", "Provisioning worker base URL; /ops shows its Graph figures (default: not shown)"
)
OUTBOX_RETENTION_HOURS = Int(
    "OUTBOX_RETENTION_HOURS",
    "Hours published outbox rows are kept before the relay deletes them",
    default=168, low=1, high=24 * 365,
)  # fmt: skip
RATE_LIMIT_PER_MINUTE = Int(
    "RATE_LIMIT_PER_MINUTE",
    "Requests a client address may make per minute to the public endpoints, per process",
    default=600, low=1, high=1_000_000,
)  # fmt: skip
WEB_CONCURRENCY = Int(
    "WEB_CONCURRENCY",
    "Identity processes serving the port, replaced when one dies; 0: as many as the machine has CPU cores",
    default=0, low=0, high=64,
)  # fmt: skip
DATABASE_POOL_SIZE = Int(
    "DATABASE_POOL_SIZE", "Most PostgreSQL connections each identity process opens", default=8, low=2, high=100
)

SETTINGS = Settings(
    [
        *SHARED.settings(),
        AZURE_LOGIN_BASE_URL, PUBLIC_BASE_URL, APP_URL, LOGIN_POPUP_TIMEOUT_SECONDS, SESSION_TTL_SECONDS,
        SESSION_KEY_ROTATION_HOURS, CLOCK_SKEW_SECONDS, GRAPH_TOKEN_TTL_SECONDS, LOGIN_NONCE_TTL_SECONDS,
        VERIFICATION_CODE_TTL_SECONDS, SIGNING_KEYS_TTL_SECONDS, SIGNING_KEYS_MIN_REFRESH_SECONDS,
        LOGIN_CODE_GRACE_DAYS, PROVISIONING_CONSUMER_GROUP, PROVISIONING_BASE_URL, OUTBOX_RETENTION_HOURS,
        RATE_LIMIT_PER_MINUTE, WEB_CONCURRENCY, DATABASE_POOL_SIZE,
    ]
)  # fmt: skip
# Every variable the service reads: name -> (required, meaning). The README table and the
# docker-compose check are held to this list.
VARIABLES = SETTINGS.table()


class Config(ServiceConfig, frozen=True, kw_only=True):
    azure_login_base_url: str
    public_base_url: str
    app_url: str
    login_popup_timeout_seconds: int
    session_ttl_seconds: int
    session_key_rotation_hours: int
    clock_skew_seconds: int
    graph_token_ttl_seconds: int
    login_nonce_ttl_seconds: int
    verification_code_ttl_seconds: int
    signing_keys_ttl_seconds: int
    signing_keys_min_refresh_seconds: int
    login_code_grace_days: int
    provisioning_consumer_group: str
    provisioning_base_url: str | None
    outbox_retention_hours: int
    rate_limit_per_minute: int
    web_concurrency: int
    """0: one process per CPU core (see `processes`)."""
    database_pool_size: int

    @property
    def processes(self) -> int:
        """How many identity processes serve the port."""
        return self.web_concurrency or os.cpu_count() or 1


def from_env(environ: Mapping[str, str]) -> Config:
    SETTINGS.require(environ)
    public_base_url = PUBLIC_BASE_URL.read(environ)
    return Config(
        **SHARED.read(environ),
        azure_login_base_url=AZURE_LOGIN_BASE_URL.read(environ),
        public_base_url=public_base_url,
        app_url=APP_URL.read(environ, default=public_base_url + "/app"),
        login_popup_timeout_seconds=LOGIN_POPUP_TIMEOUT_SECONDS.read(environ),
        session_ttl_seconds=SESSION_TTL_SECONDS.read(environ),
        session_key_rotation_hours=SESSION_KEY_ROTATION_HOURS.read(environ),
        clock_skew_seconds=CLOCK_SKEW_SECONDS.read(environ),
        graph_token_ttl_seconds=GRAPH_TOKEN_TTL_SECONDS.read(environ),
        login_nonce_ttl_seconds=LOGIN_NONCE_TTL_SECONDS.read(environ),
        verification_code_ttl_seconds=VERIFICATION_CODE_TTL_SECONDS.read(environ),
        signing_keys_ttl_seconds=SIGNING_KEYS_TTL_SECONDS.read(environ),
        signing_keys_min_refresh_seconds=SIGNING_KEYS_MIN_REFRESH_SECONDS.read(environ),
        login_code_grace_days=LOGIN_CODE_GRACE_DAYS.read(environ),
        provisioning_consumer_group=PROVISIONING_CONSUMER_GROUP.read(environ),
        provisioning_base_url=PROVISIONING_BASE_URL.read_optional(environ),
        outbox_retention_hours=OUTBOX_RETENTION_HOURS.read(environ),
        rate_limit_per_minute=RATE_LIMIT_PER_MINUTE.read(environ),
        web_concurrency=WEB_CONCURRENCY.read(environ),
        database_pool_size=DATABASE_POOL_SIZE.read(environ),
    )
