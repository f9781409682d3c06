"""Kutamo session tokens and the keys that sign them."""
