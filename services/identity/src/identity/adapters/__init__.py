"""Identity adapters: Redis login throttle, password hashing and token signing, the clock."""
