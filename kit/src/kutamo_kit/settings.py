"""The variables both services read in the same way, declared once (kutamo_kit.config does the reading),
and the part of the configuration every service holds (ServiceConfig)."""

from collections.abc import Mapping
from typing import Any

import msgspec

from kutamo_contracts.sealing import SealingKeys, parse_keys
from kutamo_kit.config import Choice, ConfigError, Flag, Int, OperatorKey, Origins, Setting, Text, Url

__all__ = [
    "CORS_ALLOWED_ORIGINS",
    "DATABASE_URL",
    "HOST",
    "KAFKA_BOOTSTRAP_SERVERS",
    "LOG_LEVEL",
    "MIGRATE_ON_START",
    "SealingKeySetting",
    "ServiceConfig",
    "Shared",
]

DATABASE_URL = Url(
    "DATABASE_URL",
    "PostgreSQL URL, e.g. postgresql://user@host:5432/kutamo",
    schemes=("postgresql", "postgres"),
    required=True,
    secret=True,
)
KAFKA_BOOTSTRAP_SERVERS = Text(
    "KAFKA_BOOTSTRAP_SERVERS", "Kafka bootstrap servers, comma separated host:port", required=True
)
HOST = Text("HOST", "Interface to listen on", default="127.0.0.1")
LOG_LEVEL = Choice("LOG_LEVEL", "DEBUG, INFO, WARNING or ERROR", choices=("DEBUG", "INFO", "WARNING", "ERROR"),
                   default="INFO")  # fmt: skip
MIGRATE_ON_START = Flag(
    "MIGRATE_ON_START",
    "Apply pending database migrations when the service starts, instead of refusing to start until "
    "`python -m <service> migrate` ran; for development and single-instance setups",
)
CORS_ALLOWED_ORIGINS = Origins(
    "CORS_ALLOWED_ORIGINS", "Comma-separated frontend origins allowed to call the API from a browser"
)


class SealingKeySetting(Setting[SealingKeys]):
    """TOKEN_SEALING_KEY (required) and TOKEN_SEALING_KEY_PREVIOUS (during a rotation), read together."""

    def __init__(self, meaning: str) -> None:
        super().__init__("TOKEN_SEALING_KEY", meaning, required=True)
        self.previous = Text(
            "TOKEN_SEALING_KEY_PREVIOUS",
            "The sealing key being retired during a rotation: still opens tokens, never seals (default none)",
        )

    def read(self, environ: Mapping[str, str]) -> SealingKeys:
        try:
            return parse_keys(self.raw(environ), self.previous.read(environ) or None)
        except ValueError as exc:
            raise ConfigError(str(exc)) from None


class ServiceConfig(msgspec.Struct, frozen=True, kw_only=True):
    """What every service's Config holds; a service's Config adds its own fields."""

    database_url: str
    kafka_bootstrap_servers: str
    sealing_keys: SealingKeys
    host: str
    port: int
    log_level: str
    operator_key: str | None
    cors_allowed_origins: list[str]
    migrate_on_start: bool


class Shared:
    """The settings behind ServiceConfig for one service: its port, and what its keys are for."""

    def __init__(self, *, port: int, sealing_key: str, operator_key: str) -> None:
        self.port = Int("PORT", "Port to listen on", default=port, low=1, high=65535)
        self.sealing_key = SealingKeySetting(sealing_key)
        self.operator_key = OperatorKey("KUTAMO_OPERATOR_KEY", operator_key)

    def settings(self) -> list[Setting[object]]:
        return [
            DATABASE_URL, KAFKA_BOOTSTRAP_SERVERS, self.sealing_key, self.sealing_key.previous, HOST, self.port,
            LOG_LEVEL, self.operator_key, CORS_ALLOWED_ORIGINS, MIGRATE_ON_START,
        ]  # fmt: skip

    def read(self, environ: Mapping[str, str]) -> dict[str, Any]:
        """ServiceConfig's fields, to pass to a service's Config."""
        return {
            "database_url": DATABASE_URL.read(environ),
            "kafka_bootstrap_servers": KAFKA_BOOTSTRAP_SERVERS.read(environ),
            "sealing_keys": self.sealing_key.read(environ),
            "host": HOST.read(environ),
            "port": self.port.read(environ),
            "log_level": LOG_LEVEL.read(environ),
            "operator_key": self.operator_key.read(environ),
            "cors_allowed_origins": CORS_ALLOWED_ORIGINS.read(environ),
            "migrate_on_start": MIGRATE_ON_START.read(environ),
        }
