"""Kutamo's local development stack: PostgreSQL, Kafka, the Microsoft emulator and the services, without Docker."""
