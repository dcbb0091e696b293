"""Identity: DIDs, keys, signatures, devices, authentication."""
