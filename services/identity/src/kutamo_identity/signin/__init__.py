"""The sign-in path: login configuration, Microsoft token validation, identity linking."""
