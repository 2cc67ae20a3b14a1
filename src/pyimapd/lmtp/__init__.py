"""LMTP delivery (RFC 2033): a sans-IO protocol machine and its asyncio listener."""
