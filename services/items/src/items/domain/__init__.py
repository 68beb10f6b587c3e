"""Items domain: the item state machine, tags and errors (pure Python)."""
