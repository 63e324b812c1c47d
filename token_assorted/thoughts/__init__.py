"""Methods that feed the LM something other than text tokens: pause tokens, Coconut's continuous thoughts and
SoftCoT's soft thoughts; their batches, losses, and how evaluation prompts them."""
