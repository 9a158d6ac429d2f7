"""Durability: the write-ahead journal of accepted requests and the engine's snapshots; what was
acknowledged survives a kill -9."""
