"""The off-chain state layer: state, engine, margin, batch builder, chain, CLI."""
