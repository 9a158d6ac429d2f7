"""The node: the long-running processes around the engine (the L1 queue feed, the oracle feeder,
the batcher, the prover pool) and their supervisor."""
