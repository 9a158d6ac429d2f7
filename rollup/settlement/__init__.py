"""Settlement: a closed batch becomes a circuit witness (``batch``) and a proven batch reaches
the rollup contract in order, exactly once (``relayer``, over the durable ``store``)."""
