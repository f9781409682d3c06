"""Time and ids go through these seams so tests can control them."""

import uuid
from collections.abc import Callable
from datetime import UTC, datetime

Clock = Callable[[], datetime]
IdFactory = Callable[[], uuid.UUID]


def system_clock() -> datetime:
    return datetime.now(UTC)


def random_id() -> uuid.UUID:
    return uuid.uuid4()
