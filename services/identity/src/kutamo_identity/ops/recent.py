"""The last minutes of sign-in outcomes and Microsoft errors in this process, for the pipeline page.

Successful sign-ins are also counted from the database (every instance's); refusals and Microsoft
errors are known only to the instance that answered, so with several instances each page shows its
own share of those (the Prometheus metrics have the totals).
"""

import time
from collections import Counter, deque

WINDOW_SECONDS = 15 * 60
_MAX_ENTRIES = 200_000


class RecentOutcomes:
    def __init__(self) -> None:
        self._events: deque[tuple[float, str, str]] = deque(maxlen=_MAX_ENTRIES)

    def add(self, tenant_id: str, outcome: str) -> None:
        self._events.append((time.monotonic(), tenant_id, outcome))

    def counts(self, seconds: float = WINDOW_SECONDS) -> Counter[tuple[str, str]]:
        """(tenant_id, outcome) -> count within the last `seconds`."""
        horizon = time.monotonic() - seconds
        while self._events and self._events[0][0] < horizon - WINDOW_SECONDS:
            self._events.popleft()
        return Counter((tenant, outcome) for at, tenant, outcome in self._events if at >= horizon)
