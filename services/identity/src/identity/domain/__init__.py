"""Identity domain: pure model, policies, events and errors (imports nothing of ours)."""
