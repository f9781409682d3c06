"""The people the emulated directories hold, keyed like Microsoft keys them: (tid, oid)."""

from __future__ import annotations

import msgspec

__all__ = ["Directory", "User"]


class User(msgspec.Struct, frozen=True, kw_only=True):
    """One person in one directory, with the profile fields Graph's /me exposes."""

    tid: str
    oid: str
    display_name: str
    user_principal_name: str
    mail: str | None = None
    job_title: str | None = None
    given_name: str | None = None
    family_name: str | None = None
    photo: bool = True


class Directory:
    """In-memory store of users across all emulated directories."""

    def __init__(self) -> None:
        self._users: dict[tuple[str, str], User] = {}

    def put(self, user: User) -> None:
        """Store a user, replacing any earlier version so tests can change names and emails later."""
        self._users[(user.tid, user.oid)] = user

    def get(self, tid: str, oid: str) -> User | None:
        """The user with this directory and object id, if any."""
        return self._users.get((tid, oid))

    def users(self) -> list[User]:
        """Everyone, in every directory, sorted by display name then UPN (the account picker's order)."""
        return sorted(self._users.values(), key=lambda user: (user.display_name.casefold(), user.user_principal_name))

    def by_upn(self, upn: str, prefer_tid: str | None = None) -> User | None:
        """The user signing in as `upn` (case-insensitive); one in `prefer_tid` wins a tie across directories."""
        matches = [user for user in self.users() if user.user_principal_name.casefold() == upn.strip().casefold()]
        preferred = [user for user in matches if user.tid == prefer_tid]
        return next(iter(preferred or matches), None)

    def clear(self) -> None:
        """Forget everyone."""
        self._users.clear()
