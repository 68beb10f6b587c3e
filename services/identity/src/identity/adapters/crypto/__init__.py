"""Crypto adapters: argon2id password hashing and EdDSA (Ed25519) access tokens."""
