"""Configuration from environment variables: one pure function, read once in __main__, passed down."""

from collections.abc import Mapping
from urllib.parse import urlsplit

import msgspec

from kutamo_contracts.sealing import SealingKeys, parse_keys
from kutamo_contracts.topics import USER_LIFECYCLE, USER_PROVISIONED, USER_SIGNED_IN

# Every variable the worker reads: name -> (required, meaning). The README table and the
# docker-compose check are held to this list.
VARIABLES: dict[str, tuple[bool, str]] = {
    "DATABASE_URL": (True, "PostgreSQL URL, e.g. postgresql://user@host:5432/kutamo"),
    "KAFKA_BOOTSTRAP_SERVERS": (True, "Kafka bootstrap servers, comma separated host:port"),
    "TOKEN_SEALING_KEY": (True, "base64 of 32 random bytes, shared with the identity service"),
    "TOKEN_SEALING_KEY_PREVIOUS": (
        False,
        "The sealing key being retired during a rotation: still opens tokens, never seals (default none)",
    ),
    "IDENTITY_BASE_URL": (
        True,
        "Identity service base URL; its /.well-known/jwks.json verifies session tokens",
    ),
    "SESSION_ISSUER": (
        False,
        "`iss` of Kutamo session tokens: the identity service's PUBLIC_BASE_URL (default IDENTITY_BASE_URL)",
    ),
    "CLOCK_SKEW_SECONDS": (False, "Allowed clock skew when checking Kutamo session tokens (default 120)"),
    "GRAPH_BASE_URL": (False, "Microsoft Graph host (default https://graph.microsoft.com)"),
    "HOST": (False, "Interface to listen on (default 127.0.0.1)"),
    "PORT": (False, "Port to listen on (default 8001)"),
    "KAFKA_CONSUMER_GROUP": (False, "Consumer group id (default kutamo-provisioning)"),
    "GRAPH_TIMEOUT_SECONDS": (False, "Timeout of one Graph request (default 10)"),
    "AVATAR_MAX_BYTES": (False, "Largest avatar accepted from Graph (default 4194304)"),
    "LOG_LEVEL": (False, "DEBUG, INFO, WARNING or ERROR (default INFO)"),
    "KUTAMO_OPERATOR_KEY": (
        False,
        "Operator key (32+ characters) for the read API's X-Operator-Key header; unset: no operator access",
    ),
    "KAFKA_SIGNED_IN_TOPIC": (False, "Topic of user-signed-in events (default kutamo.identity.user-signed-in.v1)"),
    "KAFKA_PROVISIONED_TOPIC": (
        False,
        "Topic the worker announces users on (default kutamo.provisioning.user-provisioned.v1)",
    ),
    "KAFKA_LIFECYCLE_TOPIC": (
        False,
        "Topic of the directory's user lifecycle events, applied with the sign-ins (default "
        "kutamo.identity.user-lifecycle.v1)",
    ),
    "BATCH_MAX_RECORDS": (False, "Most records applied in one database transaction (default 1000)"),
    "BATCHES_IN_FLIGHT": (False, "Batches applied at once, each on its own partitions (default 2)"),
    "GRAPH_CONCURRENCY": (False, "Most Graph reads in flight at once per worker process (default 16)"),
    "AVATAR_URL_TTL_SECONDS": (
        False,
        "How long a signed avatar URL works, at least (at most twice that; default 3600)",
    ),
    "CORS_ALLOWED_ORIGINS": (
        False,
        "Comma-separated origins of the Kutamo app allowed to read users and avatars from a browser",
    ),
}


class ConfigError(Exception):
    """The environment does not describe a runnable worker; the message says what to fix."""


class Config(msgspec.Struct, frozen=True, kw_only=True):
    database_url: str
    kafka_bootstrap_servers: str
    sealing_keys: SealingKeys
    identity_base_url: str
    session_issuer: str
    clock_skew_seconds: int
    graph_base_url: str
    host: str
    port: int
    kafka_consumer_group: str
    graph_timeout_seconds: int
    avatar_max_bytes: int
    log_level: str
    operator_key: str | None = None
    signed_in_topic: str = USER_SIGNED_IN.name
    provisioned_topic: str = USER_PROVISIONED.name
    lifecycle_topic: str = USER_LIFECYCLE.name
    batch_max_records: int = 1000
    batches_in_flight: int = 2
    graph_concurrency: int = 16
    cors_allowed_origins: list[str] = msgspec.field(default_factory=list)
    avatar_url_ttl_seconds: int = 3600


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


def from_env(environ: Mapping[str, str]) -> Config:
    missing = [name for name, (required, _) in VARIABLES.items() if required and not environ.get(name)]
    if missing:
        raise ConfigError(f"missing required environment variable(s): {', '.join(missing)}")
    try:
        sealing_keys = parse_keys(environ["TOKEN_SEALING_KEY"], environ.get("TOKEN_SEALING_KEY_PREVIOUS"))
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    identity = _url(environ, "IDENTITY_BASE_URL", "", ("http", "https"))
    level = environ.get("LOG_LEVEL", "INFO").upper()
    if level not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
        raise ConfigError(f"LOG_LEVEL must be DEBUG, INFO, WARNING or ERROR, got {level!r}")
    return Config(
        database_url=_url(environ, "DATABASE_URL", "", ("postgresql", "postgres")),
        kafka_bootstrap_servers=environ["KAFKA_BOOTSTRAP_SERVERS"].strip(),
        sealing_keys=sealing_keys,
        identity_base_url=identity,
        session_issuer=_url(environ, "SESSION_ISSUER", identity, ("http", "https")),
        clock_skew_seconds=_int(environ, "CLOCK_SKEW_SECONDS", 120, 0, 600),
        graph_base_url=_url(environ, "GRAPH_BASE_URL", "https://graph.microsoft.com", ("http", "https")),
        host=environ.get("HOST", "127.0.0.1"),
        port=_int(environ, "PORT", 8001, 1, 65535),
        kafka_consumer_group=environ.get("KAFKA_CONSUMER_GROUP", "kutamo-provisioning"),
        graph_timeout_seconds=_int(environ, "GRAPH_TIMEOUT_SECONDS", 10, 1, 120),
        avatar_max_bytes=_int(environ, "AVATAR_MAX_BYTES", 4 * 1024 * 1024, 1024, 64 * 1024 * 1024),
        log_level=level,
        operator_key=_operator_key(environ),
        signed_in_topic=environ.get("KAFKA_SIGNED_IN_TOPIC", USER_SIGNED_IN.name).strip() or USER_SIGNED_IN.name,
        provisioned_topic=environ.get("KAFKA_PROVISIONED_TOPIC", "").strip() or USER_PROVISIONED.name,
        lifecycle_topic=environ.get("KAFKA_LIFECYCLE_TOPIC", "").strip() or USER_LIFECYCLE.name,
        batch_max_records=_int(environ, "BATCH_MAX_RECORDS", 1000, 1, 10000),
        batches_in_flight=_int(environ, "BATCHES_IN_FLIGHT", 2, 1, 16),
        graph_concurrency=_int(environ, "GRAPH_CONCURRENCY", 16, 1, 512),
        cors_allowed_origins=_origins(environ),
        avatar_url_ttl_seconds=_int(environ, "AVATAR_URL_TTL_SECONDS", 3600, 60, 7 * 86400),
    )


def _origins(environ: Mapping[str, str]) -> list[str]:
    origins = [o.strip().rstrip("/") for o in environ.get("CORS_ALLOWED_ORIGINS", "").split(",") if o.strip()]
    for origin in origins:
        parts = urlsplit(origin)
        if parts.scheme not in ("http", "https") or not parts.netloc or parts.path:
            raise ConfigError(
                f"CORS_ALLOWED_ORIGINS entries must be origins like https://app.kutamo.com, got {origin!r}"
            )
    return origins


def _operator_key(environ: Mapping[str, str]) -> str | None:
    key = environ.get("KUTAMO_OPERATOR_KEY", "").strip()
    if not key:
        return None
    if len(key) < 32:
        raise ConfigError("KUTAMO_OPERATOR_KEY must be at least 32 characters (e.g. openssl rand -hex 32)")
    return key
