"""Identity application layer: command/query handlers over ports."""
