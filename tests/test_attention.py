"""Attention in float32 under a CPU's bf16 autocast (token_assorted/attention.py): the same attention, computed
exactly where it used to be rounded to bf16, and nothing changed elsewhere."""

import copy
import json

import torch
import torch.nn.functional as F
from transformers import AutoModelForCausalLM, LlamaConfig

from token_assorted.attention import LM_ATTENTION, lm_attention_name, scaled_dot_product
from token_assorted.vqvae.layers import attend


def qkv(seed: int = 0, dtype=torch.bfloat16):
    generator = torch.Generator().manual_seed(seed)
    return [torch.randn(2, 4, 24, 16, generator=generator).to(dtype) for _ in range(3)]


def test_attention_under_cpu_autocast_is_float32_attention_of_the_same_inputs():
    q, k, v = qkv()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        lifted = scaled_dot_product(q, k, v)
        in_bf16 = F.scaled_dot_product_attention(q, k, v)
    exact = F.scaled_dot_product_attention(q.float(), k.float(), v.float()).to(torch.bfloat16)
    assert lifted.dtype == torch.bfloat16 and torch.equal(lifted, exact)
    assert not torch.equal(in_bf16, exact)  # so the check above tells the two apart


def test_without_autocast_attention_is_untouched():
    q, k, v = qkv(dtype=torch.float32)
    mask = torch.rand(2, 1, 24, 24, generator=torch.Generator().manual_seed(1)) > 0.3
    expected = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
    assert torch.equal(scaled_dot_product(q, k, v, attn_mask=mask), expected)


def test_vqvae_attention_keeps_rows_with_nothing_allowed_finite_under_autocast():
    q, k, v = qkv()
    allowed = torch.ones(2, 1, 24, 24, dtype=torch.bool)
    allowed[0, :, 3] = False  # a row that may attend nowhere: even weights, not NaN
    q.requires_grad_()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = attend(q, k, v, allowed)
    out.float().sum().backward()
    assert out.dtype == torch.bfloat16 and torch.isfinite(out).all() and torch.isfinite(q.grad).all()
    assert torch.allclose(out[0, :, 3].float(), v[0].float().mean(dim=1), atol=1e-2)


def test_a_model_built_with_it_trains_like_sdpa_and_saves_without_it(tmp_path):
    config = LlamaConfig(vocab_size=40, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=4, pad_token_id=0)
    torch.manual_seed(0)
    ours = AutoModelForCausalLM.from_config(config, attn_implementation=lm_attention_name())
    stock = AutoModelForCausalLM.from_config(copy.deepcopy(config), attn_implementation="sdpa")  # not ours' config
    assert ours.config._attn_implementation == LM_ATTENTION
    stock.load_state_dict(ours.state_dict())
    ids = torch.randint(1, 40, (3, 20), generator=torch.Generator().manual_seed(2))
    mask = torch.ones_like(ids)
    # left padding, as generation has it (the learning curves generate with this attention): transformers builds no
    # mask for an attention name it has no mask function for, and the padded row attended to its padding
    mask[0, :5] = 0
    batch = {"input_ids": ids, "attention_mask": mask, "labels": ids.masked_fill(mask == 0, -100)}
    assert torch.equal(ours(**batch).logits, stock(**batch).logits)  # fp32: the very same computation
    with torch.autocast("cpu", dtype=torch.bfloat16):
        ours_loss, stock_loss = ours(**batch).loss, stock(**batch).loss
    ours_loss.backward()
    assert torch.isfinite(ours_loss) and abs(ours_loss.item() - stock_loss.item()) < 0.02
    assert all(torch.isfinite(p.grad).all() for p in ours.parameters() if p.grad is not None)

    ours.save_pretrained(tmp_path)
    assert LM_ATTENTION not in (tmp_path / "config.json").read_text()
    assert "attn" not in " ".join(json.loads((tmp_path / "config.json").read_text()))
    assert AutoModelForCausalLM.from_pretrained(tmp_path).config._attn_implementation == "sdpa"


def test_a_model_class_without_transformers_attention_functions_keeps_its_own():
    from transformers import BloomConfig, BloomForCausalLM

    from token_assorted.lm.model import with_lifted_attention

    assert not BloomForCausalLM._supports_attention_backend
    model = BloomForCausalLM(BloomConfig(vocab_size=40, hidden_size=32, n_layer=1, n_head=4))
    own = model.config._attn_implementation
    assert with_lifted_attention(model).config._attn_implementation == own != LM_ATTENTION
