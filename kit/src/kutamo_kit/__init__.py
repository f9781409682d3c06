"""Plumbing both Kutamo services use in the same form (ARCHITECTURE.md: "a small runtime kit").

It holds no business rule and imports neither service: configuration parsing, errors and their
problem+json mapping, migrations, seams, logging, health wiring and the outbox relay.
"""
