"""Tallies tests assert on: Graph calls by endpoint and status, discovery and key fetches by tenant."""

from __future__ import annotations

from collections import Counter, defaultdict

__all__ = ["Tally"]


class Tally:
    """Counts of (group, label) pairs, e.g. ("me", "429") or ("<tenant>", "keys")."""

    def __init__(self) -> None:
        self._counts: defaultdict[str, Counter[str]] = defaultdict(Counter)

    def record(self, group: str, label: str) -> None:
        """Count one occurrence."""
        self._counts[group][label] += 1

    def snapshot(self) -> dict[str, dict[str, int]]:
        """A plain copy, safe to serialise while new calls keep arriving."""
        return {group: dict(labels) for group, labels in self._counts.items()}

    def clear(self) -> None:
        """Start counting from zero."""
        self._counts.clear()
