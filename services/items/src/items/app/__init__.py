"""Application layer: command and query handlers over ports."""
