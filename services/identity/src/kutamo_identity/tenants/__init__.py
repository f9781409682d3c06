"""Tenants and their Azure AD connections."""
