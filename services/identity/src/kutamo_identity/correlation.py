"""Every request gets a request id and a W3C trace context, bound to its log lines and handed on.

`X-Request-Id` is taken from the caller when it looks like one (so a frontend's or gateway's id
carries through) and returned on the response; `traceparent` continues the caller's trace or starts
one, and travels with the sign-in event into Kafka. One access log line per request: "request", or what the
handler summarised (`logformat.summarise`: "sign-in accepted" with the user and event ids), never two.
"""

import logging
import os
import re
import time
from typing import Any

from litestar.middleware import ASGIMiddleware
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from kutamo_contracts import tracing
from kutamo_kit.logformat import bound, request_line

log = logging.getLogger("kutamo_identity.access")
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{8,128}$")


def traceparent_of(scope: Scope | Any) -> str | None:
    """The traceparent this request's own span carries (set by the middleware)."""
    value = scope.get("state", {}).get("traceparent")
    return str(value) if value else None


class CorrelationMiddleware(ASGIMiddleware):
    scopes = ("http",)  # type: ignore[assignment]

    async def handle(self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp) -> None:
        incoming, caller_trace = "", None
        for name, value in scope["headers"]:  # the raw list, once: a Headers object costs more than the lookups
            if name == b"x-request-id" and not incoming:
                incoming = value.decode("latin-1")
            elif name == b"traceparent" and caller_trace is None:
                caller_trace = value.decode("latin-1")
        request_id = incoming if _REQUEST_ID.match(incoming) else os.urandom(16).hex()  # as random as uuid4().hex
        traceparent = tracing.continue_or_start(caller_trace)
        request_id_header = (b"x-request-id", request_id.encode())
        scope.setdefault("state", {})["traceparent"] = traceparent
        status = 500
        started = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*(h for h in message.get("headers", ()) if h[0].lower() != b"x-request-id"),
                                      request_id_header]  # fmt: skip
            await send(message)

        with bound(request_id=request_id, trace_id=tracing.trace_id(traceparent)), request_line() as message:
            try:
                await next_app(scope, receive, send_with_id)
            finally:
                log.info(
                    message("request"),
                    extra={
                        "method": scope.get("method"),
                        "path": scope.get("path"),
                        "status": status,
                        "duration_ms": round((time.perf_counter() - started) * 1000, 1),
                    },
                )
