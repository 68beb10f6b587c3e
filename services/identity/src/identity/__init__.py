"""Keel identity service: organizations, users, sessions, API keys and signing keys."""
