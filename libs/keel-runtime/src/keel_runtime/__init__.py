"""Keel shared service runtime."""
