"""Configuration from environment variables: the worker's settings, read once in __main__.

Each variable is declared once below (name, meaning, default, range); kutamo_kit.config reads them and
the README table is held to these declarations.
"""

from collections.abc import Mapping

from kutamo_contracts.topics import USER_LIFECYCLE, USER_PROVISIONED, USER_SIGNED_IN
from kutamo_kit.config import ConfigError, Int, Settings, Text, Url
from kutamo_kit.settings import ServiceConfig, Shared

__all__ = ["VARIABLES", "Config", "ConfigError", "from_env"]

SHARED = Shared(
    port=8001,
    sealing_key="base64 of 32 random bytes, shared with the identity service",
    operator_key=(
        "Operator key (32+ characters) for the read API, sent as Authorization: Bearer (X-Operator-Key is "
        "deprecated); unset: no operator access"
    ),
)
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
KAFKA_CONSUMER_GROUP = Text("KAFKA_CONSUMER_GROUP", "Consumer group id", default="kutamo-provisioning")
GRAPH_TIMEOUT_SECONDS = Int("GRAPH_TIMEOUT_SECONDS", "Timeout of one Graph request", default=10, low=1, high=120)
AVATAR_MAX_BYTES = Int(
    "AVATAR_MAX_BYTES", "Largest avatar accepted from Graph", default=4 * 1024 * 1024, low=1024, high=64 * 1024 * 1024
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
        *SHARED.settings(),
        IDENTITY_BASE_URL, SESSION_ISSUER, CLOCK_SKEW_SECONDS, GRAPH_BASE_URL, KAFKA_CONSUMER_GROUP,
        GRAPH_TIMEOUT_SECONDS, AVATAR_MAX_BYTES, SIGNED_IN_TOPIC, PROVISIONED_TOPIC, LIFECYCLE_TOPIC,
        BATCH_MAX_RECORDS, BATCHES_IN_FLIGHT, GRAPH_CONCURRENCY, AVATAR_URL_TTL_SECONDS,
    ]
)  # fmt: skip
# Every variable the worker reads: name -> (required, meaning). The README table and the
# docker-compose check are held to this list.
VARIABLES = SETTINGS.table()


class Config(ServiceConfig, frozen=True, kw_only=True):
    identity_base_url: str
    session_issuer: str
    clock_skew_seconds: int
    graph_base_url: str
    kafka_consumer_group: str
    graph_timeout_seconds: int
    avatar_max_bytes: int
    signed_in_topic: str
    provisioned_topic: str
    lifecycle_topic: str
    batch_max_records: int
    batches_in_flight: int
    graph_concurrency: int
    avatar_url_ttl_seconds: int


def from_env(environ: Mapping[str, str]) -> Config:
    SETTINGS.require(environ)
    identity = IDENTITY_BASE_URL.read(environ)
    return Config(
        **SHARED.read(environ),
        identity_base_url=identity,
        session_issuer=SESSION_ISSUER.read(environ, default=identity),
        clock_skew_seconds=CLOCK_SKEW_SECONDS.read(environ),
        graph_base_url=GRAPH_BASE_URL.read(environ),
        kafka_consumer_group=KAFKA_CONSUMER_GROUP.read(environ),
        graph_timeout_seconds=GRAPH_TIMEOUT_SECONDS.read(environ),
        avatar_max_bytes=AVATAR_MAX_BYTES.read(environ),
        signed_in_topic=SIGNED_IN_TOPIC.read(environ),
        provisioned_topic=PROVISIONED_TOPIC.read(environ),
        lifecycle_topic=LIFECYCLE_TOPIC.read(environ),
        batch_max_records=BATCH_MAX_RECORDS.read(environ),
        batches_in_flight=BATCHES_IN_FLIGHT.read(environ),
        graph_concurrency=GRAPH_CONCURRENCY.read(environ),
        avatar_url_ttl_seconds=AVATAR_URL_TTL_SECONDS.read(environ),
    )
