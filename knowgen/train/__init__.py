"""Training: the loop (`loop.train`), its steps, state, EMA and checkpoints."""
