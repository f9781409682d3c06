"""Both services' log lines: one JSON object per line, the fields operators search on, correlation bound per task."""

import asyncio
import io
import json
import logging
from collections.abc import Iterator

import pytest

from kutamo_kit import logformat


@pytest.fixture
def lines() -> Iterator[io.StringIO]:
    """The root logger configured as a service configures it, writing into a buffer instead of stderr."""
    root = logging.getLogger()
    saved_handlers, saved_level = root.handlers[:], root.level
    chatty = {name: logging.getLogger(name).level for name in ("aiokafka", "uvicorn.access")}
    logformat.configure("identity", "INFO")
    buffer = io.StringIO()
    (handler,) = root.handlers
    assert isinstance(handler, logging.StreamHandler)
    handler.setStream(buffer)
    yield buffer
    root.handlers[:] = saved_handlers
    root.setLevel(saved_level)
    for name, level in chatty.items():
        logging.getLogger(name).setLevel(level)


def written(buffer: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in buffer.getvalue().splitlines()]


def test_a_line_is_one_json_object_with_the_fields_operators_search_on(lines: io.StringIO) -> None:
    logging.getLogger("kutamo_identity.signin").info("sign-in accepted", extra={"event_id": "e-1", "partition": 3})

    (line,) = written(lines)
    assert line["level"] == "info"
    assert line["service"] == "identity"
    assert line["logger"] == "kutamo_identity.signin"
    assert line["msg"] == "sign-in accepted"
    assert line["event_id"] == "e-1"
    assert line["partition"] == 3
    assert str(line["ts"]).endswith("+00:00")


def test_request_and_trace_ids_are_on_the_lines_written_inside_the_block_only(lines: io.StringIO) -> None:
    log = logging.getLogger("kutamo_identity.access")
    with logformat.bound(request_id="req-12345678", trace_id="4bf92f3577b34da6a3ce929d0e0e4736", user_id=None):
        log.info("inside")
    log.info("after")

    inside, after = written(lines)
    assert inside["request_id"] == "req-12345678"
    assert inside["trace_id"] == "4bf92f3577b34da6a3ce929d0e0e4736"
    assert "user_id" not in inside
    assert "request_id" not in after
    assert "trace_id" not in after


def test_a_field_bound_in_one_task_never_reaches_another_tasks_lines(lines: io.StringIO) -> None:
    log = logging.getLogger("kutamo_identity.signin")

    async def tenant_a() -> None:
        logformat.bind(tenant_id="tenant-a")
        await asyncio.sleep(0)
        log.info("a")

    async def unbound() -> None:
        await asyncio.sleep(0)
        log.info("b")

    async def both() -> None:
        await asyncio.gather(tenant_a(), unbound())

    asyncio.run(both())

    by_message = {line["msg"]: line for line in written(lines)}
    assert by_message["a"]["tenant_id"] == "tenant-a"
    assert "tenant_id" not in by_message["b"]


def apply_batch() -> None:
    raise ValueError("broken batch")


def test_an_exception_is_on_its_line_and_values_json_cannot_hold_are_written_as_text(lines: io.StringIO) -> None:
    try:
        apply_batch()
    except ValueError:
        logging.getLogger("kutamo_provisioning.consumer").exception(
            "batch failed", extra={"partitions": {("kutamo.identity.user-signed-in.v1", 0)}}
        )

    (line,) = written(lines)
    assert line["level"] == "error"
    assert "ValueError: broken batch" in str(line["exception"])
    assert line["partitions"] == "{('kutamo.identity.user-signed-in.v1', 0)}"


def test_chatty_libraries_are_held_to_warnings_at_info(lines: io.StringIO) -> None:
    logging.getLogger("aiokafka").info("fetching metadata")
    logging.getLogger("uvicorn.access").info("GET /health/live 200")
    logging.getLogger("aiokafka").warning("broker unreachable")

    assert [line["msg"] for line in written(lines)] == ["broker unreachable"]


def test_a_handler_summary_becomes_the_request_line_and_ends_with_the_request(lines: io.StringIO) -> None:
    log = logging.getLogger("kutamo_identity.access")

    async def request(summarise: bool) -> None:
        with logformat.bound(request_id="req-12345678"), logformat.request_line() as message:
            if summarise:  # the handler, deep inside the request
                logformat.summarise("sign-in accepted", user_id="u-1", event_id="e-1")
            log.info(message("request"), extra={"status": 201})

    async def both() -> None:
        await request(True)
        await request(False)

    asyncio.run(both())
    summarised, plain = written(lines)
    assert (summarised["msg"], summarised["user_id"], summarised["event_id"]) == ("sign-in accepted", "u-1", "e-1")
    assert summarised["status"] == 201
    assert plain["msg"] == "request"
    assert "user_id" not in plain
