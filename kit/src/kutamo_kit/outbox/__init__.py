"""The transactional outbox's relay, shared by both services: rows written in a service's own
transactions leave for Kafka in commit order, each key's in order, out of the request loop."""
