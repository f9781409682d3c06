"""The variables both services read in the same way, declared once (kutamo_kit.config does the reading)."""

from collections.abc import Mapping

from kutamo_contracts.sealing import SealingKeys, parse_keys
from kutamo_kit.config import Choice, ConfigError, Flag, Origins, Setting, Text, Url

__all__ = [
    "CORS_ALLOWED_ORIGINS",
    "DATABASE_URL",
    "HOST",
    "KAFKA_BOOTSTRAP_SERVERS",
    "LOG_LEVEL",
    "MIGRATE_ON_START",
    "SealingKeySetting",
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
