"""Configuration from a mapping (the environment): typed settings declared once, read by one function.

A service declares each variable as a Setting (name, meaning, default, range) and builds its Config in
`from_env(environ)` by reading them. The declaration is the only place a default is written: the
README table and the docs checks read it back. Values of secret settings never appear in an error.
"""

from collections.abc import Iterable, Mapping
from typing import Generic, TypeVar
from urllib.parse import urlsplit

__all__ = [
    "Choice",
    "ConfigError",
    "Flag",
    "Int",
    "OperatorKey",
    "Origins",
    "Setting",
    "Settings",
    "Text",
    "Url",
]

T_co = TypeVar("T_co", covariant=True)


class ConfigError(Exception):
    """The environment does not describe a runnable service; the message says what to fix."""


class Setting(Generic[T_co]):
    """One environment variable: its name, what it means, and how it is read."""

    def __init__(self, name: str, meaning: str, *, required: bool = False) -> None:
        self.name = name
        self.meaning = meaning
        self.required = required

    @property
    def documented_default(self) -> str | None:
        """The default as the README shows it, or None when the setting has none of its own."""
        return None

    @property
    def description(self) -> str:
        shown = self.documented_default
        return f"{self.meaning} (default {shown})" if shown is not None else self.meaning

    def raw(self, environ: Mapping[str, str]) -> str:
        return environ.get(self.name, "").strip()

    def read(self, environ: Mapping[str, str]) -> T_co:
        raise NotImplementedError


class Text(Setting[str]):
    def __init__(self, name: str, meaning: str, *, default: str = "", required: bool = False) -> None:
        super().__init__(name, meaning, required=required)
        self.default = default

    @property
    def documented_default(self) -> str | None:
        return self.default or None

    def read(self, environ: Mapping[str, str]) -> str:
        return self.raw(environ) or self.default


class Int(Setting[int]):
    def __init__(self, name: str, meaning: str, *, default: int, low: int, high: int) -> None:
        super().__init__(name, meaning)
        self.default, self.low, self.high = default, low, high

    @property
    def documented_default(self) -> str | None:
        return str(self.default)

    def read(self, environ: Mapping[str, str]) -> int:
        raw = self.raw(environ)
        if not raw:
            return self.default
        try:
            value = int(raw)
        except ValueError:
            raise ConfigError(f"{self.name} must be a whole number, got {raw!r}") from None
        if not self.low <= value <= self.high:
            raise ConfigError(f"{self.name} must be between {self.low} and {self.high}, got {value}")
        return value


class Flag(Setting[bool]):
    _TRUE = frozenset({"1", "true", "yes", "on"})
    _FALSE = frozenset({"0", "false", "no", "off"})

    def __init__(self, name: str, meaning: str, *, default: bool = False) -> None:
        super().__init__(name, meaning)
        self.default = default

    @property
    def documented_default(self) -> str | None:
        return "true" if self.default else "false"

    def read(self, environ: Mapping[str, str]) -> bool:
        raw = self.raw(environ).lower()
        if not raw:
            return self.default
        if raw not in self._TRUE | self._FALSE:
            raise ConfigError(f"{self.name} must be true or false, got {raw!r}")
        return raw in self._TRUE


class Choice(Setting[str]):
    def __init__(self, name: str, meaning: str, *, choices: tuple[str, ...], default: str) -> None:
        super().__init__(name, meaning)
        self.choices, self.default = choices, default

    @property
    def documented_default(self) -> str | None:
        return self.default

    def read(self, environ: Mapping[str, str]) -> str:
        value = (self.raw(environ) or self.default).upper()
        if value not in self.choices:
            listed = ", ".join(self.choices[:-1]) + " or " + self.choices[-1]
            raise ConfigError(f"{self.name} must be {listed}, got {value!r}")
        return value


class Url(Setting[str]):
    """A URL with one of the allowed schemes, without its trailing slash.

    `secret=True` (a database URL carries its password) keeps the password out of the error message.
    """

    def __init__(
        self,
        name: str,
        meaning: str,
        *,
        schemes: tuple[str, ...] = ("http", "https"),
        default: str = "",
        required: bool = False,
        secret: bool = False,
    ) -> None:
        super().__init__(name, meaning, required=required)
        self.schemes, self.default, self.secret = schemes, default, secret

    @property
    def documented_default(self) -> str | None:
        return self.default or None

    def read(self, environ: Mapping[str, str], *, default: str | None = None) -> str:
        """The URL; `default` replaces the declared one where it derives from another setting."""
        value = (self.raw(environ) or (self.default if default is None else default)).rstrip("/")
        parts = urlsplit(value)
        if parts.scheme not in self.schemes or not parts.netloc:
            shown = _without_credentials(value) if self.secret else value
            raise ConfigError(f"{self.name} must be a {' or '.join(self.schemes)} URL, got {shown!r}")
        return value

    def read_optional(self, environ: Mapping[str, str]) -> str | None:
        return self.read(environ) if self.raw(environ) else None


class Origins(Setting[list[str]]):
    """Comma-separated browser origins (scheme, host and port; no path), e.g. for CORS."""

    def read(self, environ: Mapping[str, str]) -> list[str]:
        origins = [o.strip().rstrip("/") for o in self.raw(environ).split(",") if o.strip()]
        for origin in origins:
            parts = urlsplit(origin)
            if parts.scheme not in ("http", "https") or not parts.netloc or parts.path:
                raise ConfigError(f"{self.name} entries must be origins like https://app.kutamo.com, got {origin!r}")
        return origins


class OperatorKey(Setting[str | None]):
    """A shared operator secret of at least 32 characters; unset means none. Never echoed."""

    MIN_LENGTH = 32

    def read(self, environ: Mapping[str, str]) -> str | None:
        key = self.raw(environ)
        if key and len(key) < self.MIN_LENGTH:
            raise ConfigError(
                f"{self.name} must be at least {self.MIN_LENGTH} characters (e.g. openssl rand -base64 32)"
            )
        return key or None


class Settings:
    """A service's declared variables, in the order the documentation lists them."""

    def __init__(self, settings: Iterable[Setting[object]]) -> None:
        self.all = tuple(settings)

    def require(self, environ: Mapping[str, str]) -> None:
        """Refuse at once, naming every required variable that is missing."""
        missing = [s.name for s in self.all if s.required and not s.raw(environ)]
        if missing:
            raise ConfigError(f"missing required environment variable(s): {', '.join(missing)}")

    def table(self) -> dict[str, tuple[bool, str]]:
        """name -> (required, meaning with its default): what the README and docker-compose are held to."""
        return {s.name: (s.required, s.description) for s in self.all}

    def defaults(self) -> dict[str, str]:
        """name -> the default as documented, for the settings that have one."""
        return {s.name: d for s in self.all if (d := s.documented_default) is not None}


def _without_credentials(value: str) -> str:
    """Whatever stands before the last @ (user and password, however malformed) is hidden."""
    if "@" not in value:
        return value
    scheme, sep, _ = value.partition("://")
    return f"{scheme}://***@{value.rpartition('@')[2]}" if sep else f"***@{value.rpartition('@')[2]}"
