"""Building the causal LM, the batches it trains on, and the LightningModule that trains it."""
