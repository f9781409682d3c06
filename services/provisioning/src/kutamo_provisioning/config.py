"""Configuration from environment variables: the worker's settings, read once in __main__.

Each variable is declared once below (name, meaning, default, range); kutamo_kit.config reads them and
the README table is held to these declarations.
"""

from collections.abc import Mapping

import msgspec

from kutamo_contracts.sealing import SealingKeys
from kutamo_contracts.topics import USER_LIFECYCLE, USER_PROVISIONED, USER_SIGNED_IN
from kutamo_kit.config import ConfigError, Int, OperatorKey, Settings, Text, Url
from kutamo_kit.settings import (
    CORS_ALLOWED_ORIGINS,
    DATABASE_URL,
    HOST,
    KAFKA_BOOTSTRAP_SERVERS,
    LOG_LEVEL,
    MIGRATE_ON_START,
    SealingKeySetting,
)

__all__ = ["VARIABLES", "Config", "ConfigError", "from_env"]

SEALING_KEY = SealingKeySetting("base64 of 32 random bytes, shared with the identity service")
IDENTITY_BASE_URL = Url(
    "IDENTITY_BASE_URL", "Identity service base URL; its /.well-known/jwks.json verifies session tokens", required=True
)
SESSION_ISSUER = Url(
    "SESSION_ISSUER",
    "`iss` of Kutamo session tokens: the identity service's PUBLIC_BASE_URL (default IDENTITY_BASE_URL)",
)
CLOCK_SKEW_SECONDS = Int(
    "CLOCK_SKEW_SECONDS", "Allowed clock skew when checking Kutamo session tokens", default=120, low=0, high=600
)
GRAPH_BASE_URL = Url("GRAPH_BASE_URL", "Microsoft Graph host", default="https://graph.microsoft.com")
PORT = Int("PORT", "Port to listen on", default=8001, low=1, high=65535)
KAFKA_CONSUMER_GROUP = Text("KAFKA_CONSUMER_GROUP", "Consumer group id", default="kutamo-provisioning")
GRAPH_TIMEOUT_SECONDS = Int("GRAPH_TIMEOUT_SECONDS", "Timeout of one Graph request", default=10, low=1, high=120)
AVATAR_MAX_BYTES = Int(
    "AVATAR_MAX_BYTES", "Largest avatar accepted from Graph", default=4 * 1024 * 1024, low=1024, high=64 * 1024 * 1024
)
OPERATOR_KEY = OperatorKey(
    "KUTAMO_OPERATOR_KEY",
    "Operator key (32+ characters) for the read API, sent as Authorization: Bearer (X-Operator-Key is "
    "deprecated); unset: no operator access",
)
SIGNED_IN_TOPIC = Text("KAFKA_SIGNED_IN_TOPIC", "Topic of user-signed-in events", default=USER_SIGNED_IN.name)
PROVISIONED_TOPIC = Text(
    "KAFKA_PROVISIONED_TOPIC", "Topic the worker announces users on", default=USER_PROVISIONED.name
)
LIFECYCLE_TOPIC = Text(
    "KAFKA_LIFECYCLE_TOPIC",
    "Topic of the directory's user lifecycle events, applied with the sign-ins",
    default=USER_LIFECYCLE.name,
)
BATCH_MAX_RECORDS = Int(
    "BATCH_MAX_RECORDS", "Most records applied in one database transaction", default=1000, low=1, high=10000
)
BATCHES_IN_FLIGHT = Int(
    "BATCHES_IN_FLIGHT", "Batches applied at once, each on its own partitions", default=2, low=1, high=16
)
GRAPH_CONCURRENCY = Int(
    "GRAPH_CONCURRENCY", "Most Graph reads in flight at once per worker process", default=16, low=1, high=512
)
AVATAR_URL_TTL_SECONDS = Int(
    "AVATAR_URL_TTL_SECONDS",
    "How long a signed avatar URL works, at least (at most twice that)",
    default=3600, low=60, high=7 * 86400,
)  # fmt: skip

SETTINGS = Settings(
    [
        DATABASE_URL, KAFKA_BOOTSTRAP_SERVERS, SEALING_KEY, SEALING_KEY.previous, IDENTITY_BASE_URL,
        SESSION_ISSUER, CLOCK_SKEW_SECONDS, GRAPH_BASE_URL, HOST, PORT, KAFKA_CONSUMER_GROUP,
        GRAPH_TIMEOUT_SECONDS, AVATAR_MAX_BYTES, LOG_LEVEL, OPERATOR_KEY, SIGNED_IN_TOPIC, PROVISIONED_TOPIC,
        LIFECYCLE_TOPIC, BATCH_MAX_RECORDS, BATCHES_IN_FLIGHT, GRAPH_CONCURRENCY, AVATAR_URL_TTL_SECONDS,
        CORS_ALLOWED_ORIGINS, MIGRATE_ON_START,
    ]
)  # fmt: skip
# Every variable the worker reads: name -> (required, meaning). The README table and the
# docker-compose check are held to this list.
VARIABLES = SETTINGS.table()


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
    operator_key: str | None
    signed_in_topic: str
    provisioned_topic: str
    lifecycle_topic: str
    batch_max_records: int
    batches_in_flight: int
    graph_concurrency: int
    cors_allowed_origins: list[str]
    avatar_url_ttl_seconds: int
    migrate_on_start: bool


def from_env(environ: Mapping[str, str]) -> Config:
    SETTINGS.require(environ)
    identity = IDENTITY_BASE_URL.read(environ)
    return Config(
        database_url=DATABASE_URL.read(environ),
        kafka_bootstrap_servers=KAFKA_BOOTSTRAP_SERVERS.read(environ),
        sealing_keys=SEALING_KEY.read(environ),
        identity_base_url=identity,
        session_issuer=SESSION_ISSUER.read(environ, default=identity),
        clock_skew_seconds=CLOCK_SKEW_SECONDS.read(environ),
        graph_base_url=GRAPH_BASE_URL.read(environ),
        host=HOST.read(environ),
        port=PORT.read(environ),
        kafka_consumer_group=KAFKA_CONSUMER_GROUP.read(environ),
        graph_timeout_seconds=GRAPH_TIMEOUT_SECONDS.read(environ),
        avatar_max_bytes=AVATAR_MAX_BYTES.read(environ),
        log_level=LOG_LEVEL.read(environ),
        operator_key=OPERATOR_KEY.read(environ),
        signed_in_topic=SIGNED_IN_TOPIC.read(environ),
        provisioned_topic=PROVISIONED_TOPIC.read(environ),
        lifecycle_topic=LIFECYCLE_TOPIC.read(environ),
        batch_max_records=BATCH_MAX_RECORDS.read(environ),
        batches_in_flight=BATCHES_IN_FLIGHT.read(environ),
        graph_concurrency=GRAPH_CONCURRENCY.read(environ),
        cors_allowed_origins=CORS_ALLOWED_ORIGINS.read(environ),
        avatar_url_ttl_seconds=AVATAR_URL_TTL_SECONDS.read(environ),
        migrate_on_start=MIGRATE_ON_START.read(environ),
    )
