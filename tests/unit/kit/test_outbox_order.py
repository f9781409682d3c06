"""Which waiting outbox rows may leave now: settled ones, never ahead of the same user's earlier row."""

from kutamo_kit.outbox.order import leaving
from kutamo_kit.outbox.table import Pending


def _row(row_id: int, key: str, *, settled: bool = True) -> Pending:
    return Pending(row_id, settled, "topic", key.encode(), b"", [])


def _ids(rows: list[Pending]) -> list[int]:
    return [r.id for r in rows]


def test_settled_rows_leave_in_id_order() -> None:
    head = [_row(1, "ana"), _row(2, "ben"), _row(3, "ana")]

    assert _ids(leaving(head)) == [1, 2, 3]


def test_a_row_whose_transaction_may_still_be_running_waits() -> None:
    head = [_row(1, "ana"), _row(2, "ben", settled=False), _row(3, "cem")]

    assert _ids(leaving(head)) == [1, 3]


def test_a_users_later_row_waits_while_their_earlier_row_is_not_settled() -> None:
    head = [_row(1, "ana", settled=False), _row(2, "ben"), _row(3, "ana"), _row(4, "ana")]

    assert _ids(leaving(head)) == [2], "ana's later rows must not overtake her first one"


def test_a_users_earlier_settled_row_leaves_even_when_a_later_one_waits() -> None:
    head = [_row(1, "ana"), _row(2, "ana", settled=False), _row(3, "ana")]

    assert _ids(leaving(head)) == [1]
