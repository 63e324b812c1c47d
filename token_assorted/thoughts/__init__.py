"""Methods that feed the LM something other than text tokens: pause tokens, Coconut's continuous thoughts and
SoftCoT's soft thoughts; their batches, losses, and how evaluation prompts them."""

from .coconut import CoconutCollator, CoconutIds, add_coconut_tokens, coconut_example, coconut_loss
from .module import CoconutModule, SoftCoTModule
from .prompting import TEXT, THOUGHTS_FILE, Prompting, read_thoughts, write_thoughts
from .softcot import SoftCoTCollator, softcot_example, softcot_loss

__all__ = [
    "TEXT", "THOUGHTS_FILE", "CoconutCollator", "CoconutIds", "CoconutModule", "Prompting", "SoftCoTCollator",
    "SoftCoTModule", "add_coconut_tokens", "coconut_example", "coconut_loss", "read_thoughts",
    "softcot_example", "softcot_loss", "write_thoughts",
]
