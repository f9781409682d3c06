"""Kutamo provisioning: turns sign-in events into user records with name, email, title and avatar."""
