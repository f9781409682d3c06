"""The control API's app registrations: what an admin would set up in the Azure portal.

    POST /_emulator/applications              body: applications.Application; 200 with the registration
    GET  /_emulator/applications/{client_id}  the registration, or a 404 problem

The answer adds `registered_at` and `visible_at` (state clock, epoch seconds) and `propagated`
(whether sign-in finds the app yet).
"""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Response, Router, get, post
from litestar.params import FromPath, JSONBody

from kutamo_dev.emulator.applications import Application, Registration
from kutamo_dev.emulator.control import problem
from kutamo_dev.emulator.state import Emulator

__all__ = ["registrations_router"]


def _describe(registration: Registration, now: float) -> dict[str, Any]:
    body: dict[str, Any] = msgspec.to_builtins(registration.application)
    body["registered_at"] = registration.registered_at
    body["visible_at"] = registration.visible_at
    body["propagated"] = now >= registration.visible_at
    return body


@post("/", sync_to_thread=False, status_code=200)
def put_application(data: JSONBody[Application], emulator: Emulator) -> dict[str, Any]:
    """Register an application, or replace the one with the same client id (restarting propagation)."""
    now = emulator.clock()
    return _describe(emulator.applications.put(data, now), now)


@get("/{client_id:str}", sync_to_thread=False)
def get_application(client_id: FromPath[str], emulator: Emulator) -> Response[Any]:
    """One registration, visible here even while sign-in cannot find it yet."""
    registration = emulator.applications.registration(client_id)
    if registration is None:
        return problem(
            404, "application_not_found", "Application not found",
            f"No application {client_id}; register it with POST /_emulator/applications first.",
        )  # fmt: skip
    return Response(content=_describe(registration, emulator.clock()))


registrations_router = Router(path="/_emulator/applications", route_handlers=[put_application, get_application])
