"""A local stand-in for Microsoft's login (Entra ID) and Graph endpoints, for tests and the demo."""

from kutamo_dev.emulator.app import create_app

__all__ = ["create_app"]
