"""Event adapters: codec (domain event <-> keel.billing.v1 message) and subscribers."""
