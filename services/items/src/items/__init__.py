"""Keel items service: saved links and notes, background enrichment, the library and tags."""
