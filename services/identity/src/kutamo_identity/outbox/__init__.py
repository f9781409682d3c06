"""The transactional outbox: events written with the sign-in, published to Kafka by the relay."""
