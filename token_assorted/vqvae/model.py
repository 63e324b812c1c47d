"""The VQ-VAE that turns a reasoning trace into discrete latent codes and back (Token Assorted, §3.1).

    g      prompt encoder: the prompt's token states, shared by f_enc and f_dec as cross-attention memory
    f_enc  reads the trace chunk by chunk: chunk j's tokens see the prompt, chunks 0..j and nothing later
           (vqvae.encoder_context: prompt; trace: chunks 0..j alone; chunk: chunk j alone);
           each group of r token states is averaged into one vector, so a chunk of L tokens gives L/r vectors
    VQ     snaps each vector to one of K codes (quantizer.py)
    f_dec  writes the trace back, chunk by chunk, as a causal transformer over
           [codes of chunk 0, tokens of chunk 0, codes of chunk 1, tokens of chunk 1, ...]
           cross-attending to the prompt's token states; each token is written from the vocabulary or copied
           by pointing at a token of the prompt, a learned gate weighing the two

Both sides are causal over chunks, so chunk j's codes only need to say what is new in chunk j given the
prompt and the text before it: the codes an LM would emit left to right. The decoder reads the prompt's
token states rather than one pooled vector because the traces copy names and rules out of the prompt
word for word, and a single vector cannot hold a 200-token list of facts. (The solution S is not read:
no code may depend on text that comes after it, and codes are only ever made for C.)
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..config import ENCODER_CONTEXTS, VQVAEConfig, check_choice
from ..data.padding import padded
from ..errors import ConfigError, DataError
from .chunks import IGNORE, Batch
from .layers import Block, KVCache
from .quantizer import make_quantizer

CONFIG_FILE, WEIGHTS_FILE = "config.json", "model.safetensors"
TOKEN, CODE = 0, 1  # what an input position holds, as a learned embedding


@dataclass
class Output:
    loss: Tensor
    recon_loss: Tensor
    commit_loss: Tensor
    log_probs: Tensor  # (B, n*L, vocab): f_dec's prediction of each trace position, teacher-forced
    codes: Tensor  # (B, n*L/r, levels)


def codes_per_chunk(v) -> int:
    """The codes a chunk of L tokens becomes under VQ-VAE settings `v` (cfg.vqvae, or a VQVAE's config): L/r,
    times the residual stages for RVQ (VQ and FSQ give one code per vector)."""
    stages = v["rvq_quantizers"] if v["quantizer"] == "rvq" else 1
    return v["chunk_size"] // v["compression"] * stages


DEFAULTS = VQVAEConfig()  # the one source of the VQ-VAE's defaults: config.py's schema


class VQVAE(nn.Module):
    def __init__(
        self,
        *,
        vocab_size: int,
        pad_id: int,
        eos_id: int,
        chunk_size: int = DEFAULTS.chunk_size,
        compression: int = DEFAULTS.compression,
        codebook_size: int = DEFAULTS.codebook_size,
        quantizer: str = DEFAULTS.quantizer,
        fsq_levels: tuple[int, ...] = tuple(DEFAULTS.fsq_levels),
        rvq_quantizers: int = DEFAULTS.rvq_quantizers,
        dim: int = DEFAULTS.dim,
        heads: int = DEFAULTS.heads,
        prompt_layers: int = DEFAULTS.prompt_layers,
        encoder_layers: int = DEFAULTS.encoder_layers,
        decoder_layers: int = DEFAULTS.decoder_layers,
        encoder_context: str = DEFAULTS.encoder_context,
        commitment_weight: float = DEFAULTS.commitment_weight,
        ema_decay: float = DEFAULTS.ema_decay,
        dead_code_threshold: float = DEFAULTS.dead_code_threshold,
    ):
        super().__init__()
        check_choice("vqvae.encoder_context", encoder_context, ENCODER_CONTEXTS)
        if chunk_size % compression:
            raise ConfigError(
                f"vqvae.chunk_size ({chunk_size}) must be a multiple of vqvae.compression ({compression})"
            )
        self.config = {k: v for k, v in locals().items() if k not in ("self", "__class__")}
        self.config["fsq_levels"] = list(fsq_levels)
        self.pad_id, self.eos_id = pad_id, eos_id
        self.chunk_size, self.compression, self.codebook_size = chunk_size, compression, codebook_size
        self.vectors_per_chunk = chunk_size // compression
        self.dim = dim
        self.encoder_context = encoder_context

        self.embed = nn.Embedding(vocab_size, dim)
        self.kind = nn.Embedding(2, dim)
        self.prompt_encoder = nn.ModuleList(Block(dim, heads, cross_attention=False) for _ in range(prompt_layers))
        self.norm_prompt = nn.LayerNorm(dim)
        self.encoder = nn.ModuleList(
            Block(dim, heads, cross_attention=encoder_context == "prompt") for _ in range(encoder_layers)
        )
        self.to_latent = nn.Linear(dim, dim)
        self.norm_latent = nn.LayerNorm(dim)
        self.quantizer = make_quantizer(
            quantizer, dim=dim, codebook_size=codebook_size, commitment_weight=commitment_weight, ema_decay=ema_decay,
            dead_code_threshold=dead_code_threshold, fsq_levels=list(fsq_levels), rvq_quantizers=rvq_quantizers,
        )
        self.decoder = nn.ModuleList(Block(dim, heads, cross_attention=True) for _ in range(decoder_layers))
        self.norm_out = nn.LayerNorm(dim)
        self.copy_query = nn.Linear(dim, dim)
        self.copy_gate = nn.Linear(dim, 1)

    @property
    def codes_per_chunk(self) -> int:
        return codes_per_chunk(self.config)

    def codebook(self) -> Tensor:
        """The K code vectors, (K, dim): a starting point for an LM's latent-token embeddings."""
        return self.quantizer.codebook().detach().clone()

    # g, f_enc, quantizer, f_dec

    def encode_prompt(self, prompt_ids: Tensor, prompt_mask: Tensor) -> Tensor:
        x = self.embed(prompt_ids)
        positions = torch.arange(prompt_ids.shape[1], device=prompt_ids.device)
        mask = prompt_mask[:, None, :]
        for block in self.prompt_encoder:
            x = block(x, positions, mask)
        return self.norm_prompt(x)

    def encode(
        self, prompt_states: Tensor, prompt_mask: Tensor, trace_ids: Tensor, trace_mask: Tensor, chunk_mask: Tensor
    ) -> Tensor:
        """The pre-quantization vectors, (B, n*L/r, dim): the mean state of each group of r tokens, so L/r per chunk."""
        n, L = chunk_mask.shape[1], self.chunk_size
        x = self._token_inputs(trace_ids)
        positions = torch.arange(n * L, device=trace_ids.device)
        chunk = positions // L
        seen = chunk[None, :] == chunk[:, None] if self.encoder_context == "chunk" else chunk[None, :] <= chunk[:, None]
        mask = seen[None] & trace_mask[:, None, :]
        memory, memory_mask = prompt_states, prompt_mask[:, None, :]
        if self.encoder_context != "prompt":
            memory = memory_mask = None
        for block in self.encoder:
            x = block(x, positions, mask, memory, memory_mask)
        weights = trace_mask.unflatten(1, (-1, self.compression)).to(x.dtype)
        groups = x.unflatten(1, (-1, self.compression))
        pooled = (groups * weights[..., None]).sum(dim=2) / weights.sum(dim=2, keepdim=True).clamp(min=1)
        return self.norm_latent(self.to_latent(pooled))

    def quantize(self, latents: Tensor, chunk_mask: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """(quantized vectors, codes (B, n*L/r, levels), commitment loss). Only the vectors of real chunks reach the
        quantizer (padding would skew k-means and the EMA statistics); padding gets zero vectors and code -1.
        Computed in float32, outside autocast."""
        present = chunk_mask.repeat_interleave(self.vectors_per_chunk, dim=1)
        with torch.autocast(latents.device.type, enabled=False):
            vectors, codes, loss = self.quantizer(latents[present].float()[None])
        quantized = latents.new_zeros(latents.shape, dtype=vectors.dtype).masked_scatter(present[..., None], vectors)
        all_codes = codes.new_full((*present.shape, codes.shape[-1]), -1)
        all_codes[present] = codes[0]
        return quantized, all_codes, loss

    def decode(
        self, prompt_ids: Tensor, prompt_states: Tensor, prompt_mask: Tensor, quantized: Tensor, trace_ids: Tensor
    ) -> Tensor:
        """Teacher-forced f_dec: log-probabilities (B, n*L, vocab) for every trace position."""
        batch, n, L, s = len(trace_ids), trace_ids.shape[1] // self.chunk_size, self.chunk_size, self.vectors_per_chunk
        device = trace_ids.device
        codes = self._code_inputs(quantized).unflatten(1, (n, s))
        tokens = self._token_inputs(trace_ids).unflatten(1, (n, L))
        x = torch.cat([codes, tokens], dim=2).flatten(1, 2)
        code_positions = self._code_positions(n, device).unflatten(0, (n, s))
        token_positions = torch.arange(n * L, device=device).unflatten(0, (n, L))
        positions = torch.cat([code_positions, token_positions], dim=1).flatten()
        causal = torch.ones(len(positions), len(positions), dtype=torch.bool, device=device).tril()[None]
        for block in self.decoder:
            x = block(x, positions, causal, prompt_states, prompt_mask[:, None, :])
        # the state just before each token (the chunk's last code, then the previous token) predicts it
        x = x.unflatten(1, (n, s + L))[:, :, s - 1 : s - 1 + L].reshape(batch, n * L, -1)
        return self._log_probs(x, prompt_ids, prompt_states, prompt_mask)

    def forward(self, batch: Batch, quantize: bool = True) -> Output:
        """`quantize=False` hands f_dec the continuous vectors: the warm-up before k-means initialises the codebook."""
        prompt_states = self.encode_prompt(batch.prompt_ids, batch.prompt_mask)
        latents = self.encode(prompt_states, batch.prompt_mask, batch.trace_ids, batch.trace_mask, batch.chunk_mask)
        if quantize:
            quantized, codes, commit_loss = self.quantize(latents, batch.chunk_mask)
        else:
            present = batch.chunk_mask.repeat_interleave(self.vectors_per_chunk, dim=1)
            quantized = latents * present[..., None]
            codes = torch.full((*present.shape, self.quantizer.levels), -1, device=latents.device)
            commit_loss = latents.new_zeros(())
        log_probs = self.decode(batch.prompt_ids, prompt_states, batch.prompt_mask, quantized, batch.trace_ids)
        recon_loss = F.nll_loss(log_probs.flatten(0, 1), batch.targets.flatten(), ignore_index=IGNORE)
        return Output(recon_loss + commit_loss, recon_loss, commit_loss, log_probs, codes)

    # codes in, text out

    @torch.no_grad()
    def encode_codes(self, batch: Batch) -> list[list[int]]:
        """Each record's codes: ceil(len(trace)/L) chunks of `codes_per_chunk` codes, flattened chunk by chunk."""
        prompt_states = self.encode_prompt(batch.prompt_ids, batch.prompt_mask)
        latents = self.encode(prompt_states, batch.prompt_mask, batch.trace_ids, batch.trace_mask, batch.chunk_mask)
        _, codes, _ = self.quantize(latents, batch.chunk_mask)
        chunks = batch.chunk_mask.sum(dim=1).tolist()
        return [row[: n * self.vectors_per_chunk].flatten().tolist() for row, n in zip(codes, chunks)]

    def codes_to_vectors(self, codes: Tensor) -> Tensor:
        """(B, n*codes_per_chunk) codes -> (B, n*L/r, dim) quantized vectors."""
        with torch.autocast(codes.device.type, enabled=False):
            return self.quantizer.lookup(codes.unflatten(1, (-1, self.quantizer.levels)))

    @torch.no_grad()
    def generate(self, prompt_ids: Tensor, prompt_mask: Tensor, quantized: Tensor) -> Tensor:
        """Greedy f_dec: the trace tokens (B, n*L) written from the quantized vectors (B, n*L/r, dim).

        Stops early once every row has written EOS; positions after a row's EOS hold EOS."""
        batch, s, L = len(quantized), self.vectors_per_chunk, self.chunk_size
        n = quantized.shape[1] // s
        device = quantized.device
        prompt_states = self.encode_prompt(prompt_ids, prompt_mask)
        codes = self._code_inputs(quantized).unflatten(1, (n, s))
        code_positions = self._code_positions(n, device).unflatten(0, (n, s))
        caches = [(KVCache(), KVCache()) for _ in self.decoder]
        memory_mask = prompt_mask[:, None, :]
        tokens = torch.full((batch, n * L), self.eos_id, dtype=torch.long, device=device)
        finished = torch.zeros(batch, dtype=torch.bool, device=device)
        fed, pending, pending_positions = 0, codes[:, 0, :0], code_positions[0, :0]  # inputs not yet fed
        for j in range(n):
            x = torch.cat([pending, codes[:, j]], dim=1)
            positions = torch.cat([pending_positions, code_positions[j]])
            for t in range(L):
                new = x.shape[1]
                causal = torch.ones(new, fed + new, dtype=torch.bool, device=device).tril(fed)[None]
                for block, block_caches in zip(self.decoder, caches):
                    x = block(x, positions, causal, prompt_states, memory_mask, block_caches)
                fed += new
                log_probs = self._log_probs(x[:, -1:], prompt_ids, prompt_states, prompt_mask)[:, 0]
                token = torch.where(finished, self.eos_id, log_probs.argmax(dim=-1))
                tokens[:, j * L + t] = token
                finished |= token == self.eos_id
                if finished.all():
                    return tokens
                x, positions = self._token_inputs(token[:, None]), torch.tensor([j * L + t], device=device)
            pending, pending_positions = x, positions
        return tokens

    @torch.no_grad()
    def decode_ids(self, prompts: list[list[int]], codes: list[list[int]]) -> list[list[int]]:
        """The trace token ids each code sequence stands for, given its prompt's token ids."""
        per_chunk = self.codes_per_chunk
        for index, row in enumerate(codes):
            if not row or len(row) % per_chunk or min(row) < 0 or max(row) >= self.codebook_size:
                raise DataError(
                    f"expected a non-empty multiple of {per_chunk} codes in [0, {self.codebook_size}), "
                    f"got {len(row)} codes",
                    record=index, field="codes",
                )
        chunks = max(len(row) for row in codes) // per_chunk
        device = self.embed.weight.device
        # shorter sequences are padded with copies of their last chunk, whose text is cut off again below
        filled = [row + row[-per_chunk:] * (chunks - len(row) // per_chunk) for row in codes]
        filled = torch.tensor(filled, device=device)
        prompt_ids, prompt_mask = (t.to(device) for t in padded(prompts, self.pad_id))
        tokens = self.generate(prompt_ids, prompt_mask, self.codes_to_vectors(filled)).tolist()
        lengths = [len(row) // per_chunk * self.chunk_size for row in codes]
        return [_until_eos(row[:length], self.eos_id) for row, length in zip(tokens, lengths)]

    def decode_text(self, tokenizer, prompt_ids: list[int], codes: list[int]) -> str:
        """The reasoning text a code sequence stands for, given its prompt's token ids."""
        return tokenizer.decode(self.decode_ids([prompt_ids], [codes])[0])

    # save and load, like transformers' save_pretrained / from_pretrained

    def save_pretrained(self, directory) -> None:
        from safetensors.torch import save_model

        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        (directory / CONFIG_FILE).write_text(json.dumps(self.config, indent=1) + "\n")
        save_model(self, str(directory / WEIGHTS_FILE))

    @classmethod
    def from_pretrained(cls, directory, map_location: str = "cpu") -> "VQVAE":
        from safetensors.torch import load_model

        directory = Path(directory)
        model = cls(**json.loads((directory / CONFIG_FILE).read_text()))
        load_model(model, str(directory / WEIGHTS_FILE), device=map_location)
        return model.eval()

    # helpers

    def _code_positions(self, n: int, device) -> Tensor:
        """Code k of chunk j sits at trace position j*L + k*r, the first token it stands for."""
        return (torch.arange(n * self.vectors_per_chunk, device=device) * self.compression).to(torch.long)

    def _code_inputs(self, quantized: Tensor) -> Tensor:
        return quantized.to(self.kind.weight.dtype) + self.kind.weight[CODE]

    def _token_inputs(self, ids: Tensor) -> Tensor:
        return self.embed(ids) + self.kind.weight[TOKEN]

    def _log_probs(self, x: Tensor, prompt_ids: Tensor, prompt_states: Tensor, prompt_mask: Tensor) -> Tensor:
        """log p(token) for decoder states x (B, T, dim): a gated mix of writing a word from the vocabulary and
        copying one from the prompt (a pointer over the prompt's tokens). The traces are mostly words of the
        prompt; copying one by pointing at it is learnt far sooner than routing it through the vocabulary."""
        x = self.norm_out(x)
        # the output layer is the token embedding, scaled so that unit-variance embeddings give unit-scale logits
        written = (x @ self.embed.weight.T / self.dim**0.5).float().softmax(-1)
        scores = (self.copy_query(x) @ prompt_states.transpose(1, 2) / self.dim**0.5).float()
        pointer = scores.masked_fill(~prompt_mask[:, None, :], float("-inf")).softmax(-1)
        copied = torch.zeros_like(written).scatter_add_(2, prompt_ids[:, None, :].expand_as(pointer), pointer)
        gate = torch.sigmoid(self.copy_gate(x).float())
        return (gate * written + (1 - gate) * copied).clamp(min=1e-9).log()


def _until_eos(ids: list[int], eos_id: int) -> list[int]:
    return ids[: ids.index(eos_id)] if eos_id in ids else ids
