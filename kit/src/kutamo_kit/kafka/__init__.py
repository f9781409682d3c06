"""Kafka plumbing both services share: client options with a capped reconnect backoff, and one calm,
honest account of an outage (connectivity.py)."""
