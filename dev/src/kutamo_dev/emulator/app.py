"""The emulator's composition root: one Litestar app serving login, Graph and control routes."""

from __future__ import annotations

from litestar import Litestar
from litestar.di import Provide

from kutamo_dev.emulator.authorize import authorize_handlers
from kutamo_dev.emulator.control import control_router
from kutamo_dev.emulator.discovery import discovery_handlers
from kutamo_dev.emulator.graph import graph_handlers
from kutamo_dev.emulator.registrations import registrations_router
from kutamo_dev.emulator.state import EmulatorState
from kutamo_dev.emulator.token_endpoint import token_handlers

__all__ = ["create_app"]


def create_app(public_url: str | None = None, state: EmulatorState | None = None) -> Litestar:
    """Build the app; pass `state` to share or inspect it, `public_url` when behind a proxy."""
    emulator = state if state is not None else EmulatorState(public_url=public_url)

    def provide_emulator() -> EmulatorState:
        return emulator

    app = Litestar(
        route_handlers=[
            *discovery_handlers,
            *authorize_handlers,
            *token_handlers,
            *graph_handlers,
            control_router,
            registrations_router,
        ],
        dependencies={"emulator": Provide(provide_emulator, sync_to_thread=False)},
        openapi_config=None,
    )
    app.state.emulator = emulator
    return app
