"""Durability: the write-ahead journal of accepted requests and their fills, snapshot files under
one policy, and recovery by engine factories; what was acknowledged survives a kill -9
(``docs/durability.md``)."""
