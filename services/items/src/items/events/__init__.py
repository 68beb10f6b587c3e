"""Event adapters: the domain event codec and the enrichment worker subscriptions."""
