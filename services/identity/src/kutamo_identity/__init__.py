"""Kutamo Identity: Azure AD connections, Microsoft token validation, Kutamo sessions, the outbox."""
