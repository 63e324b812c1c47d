"""Show what a model does with one question: its whole greedy generation, latent tokens included, and what each
latent block stands for, decoded to text by the task's VQ-VAE when one has been trained.

    python -m token_assorted.show task=prosqa mode=random-replace eval.example=3
    python -m token_assorted.show task=prontoqa mode=cot 'eval.question="Every wumpus is a yumpus. Max is a
        wumpus. True or false: Max is a yumpus."'

A question of one's own is quoted twice, for the shell and for Hydra (a comma would otherwise make it a list), or
read from standard input with eval.question=- (`echo "..." | python -m token_assorted.show ... eval.question=-`). It
uses the words of the task's training split (the word-level tokenizer knows no others).
"""

from __future__ import annotations

import sys

from .cli import hydra_main
from .commands import with_run_overrides
from .data.splits import load_split
from .errors import ConfigError, StaleInputError, ToolkitError
from .evaluation.metrics import score_generation
from .evaluation.results import evaluation_file
from .evaluation.tokens import latent_blocks, latent_token_ids
from .latent.vocab import BEGIN_LATENT, latent_token
from .methods import prompting_for
from .precision import device_for, generation_autocast
from .tasks import get_task
from .vqvae.checkpoint import trained_precision


def find_vqvae(cfg):
    """The task's trained VQ-VAE, or None (with a note) when there is none to load."""
    from .vqvae.checkpoint import load_vqvae

    try:
        return load_vqvae(cfg)
    except ToolkitError as err:
        print(f"(latent blocks stay undecoded: {with_run_overrides(err)})")  # the command as this run would need it
        return None


def check_trained_with(cfg, checkpoint, vqvae) -> None:
    """A checkpoint trained on another VQ-VAE's codes: this one would decode its latent blocks to wrong text."""
    from .vqvae.checkpoint import model_dir

    trained_with = checkpoint.meta.get("inputs", {}).get("vqvae")
    if trained_with and trained_with != vqvae.checksum:
        raise StaleInputError(
            f"the VQ-VAE in {model_dir(cfg)} is not the one the checkpoint {checkpoint.path} was trained with "
            f"(checksum {trained_with[:12]}, now {vqvae.checksum[:12]}): fine-tune it again on this VQ-VAE's codes "
            "or restore the VQ-VAE it was trained with"
        )


def decode_block(vqvae, tokenizer, prompt: list[int], codes: list[int]) -> str:
    """The text a block of codes stands for, or why the VQ-VAE cannot take it (a generated block may be any length)."""
    try:
        return vqvae.decode_text(tokenizer, prompt, codes)
    except ToolkitError as err:
        return f"(cannot decode: {err})"


def reference_chunks(vqvae, tokenizer, record: dict, precision: str) -> list[tuple[str, list[int], str]]:
    """The record's reference trace chunk by chunk: (its text, the codes the VQ-VAE gives it, the text they decode
    to), encoded under the precision the VQ-VAE trained in, as its code caches are. What the codes keep of the
    trace a latent method is trained to write."""
    from .data.dataset import encode_batch
    from .vqvae.metrics import encode_rows

    row = encode_batch(tokenizer, [record])[0]
    prompt, trace = row["prompt_ids"], row["reasoning_ids"]
    codes = encode_rows(vqvae, [(prompt, trace)], batch_size=1, precision=precision)[0]
    decoded = vqvae.decode_ids([prompt], [codes])[0]
    size, per_chunk = vqvae.chunk_size, vqvae.codes_per_chunk

    def piece(ids: list[int], start: int) -> str:  # a chunk's text with the space before its first word kept
        return tokenizer.decode(ids[:start + size])[len(tokenizer.decode(ids[:start])):]

    return [(piece(trace, start), codes[j * per_chunk:(j + 1) * per_chunk], piece(decoded, start))
            for j, start in enumerate(range(0, len(trace), size))]


def question_record(cfg) -> tuple[dict, str]:
    """(the record to answer, where it comes from): eval.question, or test record eval.example."""
    if cfg.eval.question is not None:
        # "-": read from standard input, with no quoting for the shell and Hydra
        source = "standard input" if cfg.eval.question == "-" else "eval.question"
        question = (sys.stdin.read() if cfg.eval.question == "-" else cfg.eval.question).strip()
        if not question:
            raise ConfigError(f"eval.question: the question from {source} is empty")
        return {"question": question, "steps": [], "answer": ""}, source
    records, file = load_split(cfg, "test"), evaluation_file(cfg)
    if not 0 <= cfg.eval.example < len(records):
        raise ConfigError(f"eval.example={cfg.eval.example} is out of range: {file} has {len(records)} records")
    return records[cfg.eval.example], str(file)


def run(cfg) -> dict:
    # torch loads here, not with the module: --help answers without it
    from .evaluation.checkpoint import load_checkpoint
    from .evaluation.generation import generate
    from .evaluation.harness import encode_prompts, generation_budget

    record, source = question_record(cfg)
    device = device_for(cfg.trainer.accelerator)
    checkpoint = load_checkpoint(cfg, device)
    model, tokenizer = checkpoint.model, checkpoint.tokenizer

    prompting = prompting_for(checkpoint, device)  # pauses or thoughts fed after the prompt, as in evaluate
    prompt = encode_prompts(tokenizer, [record], file=source)[0] + list(prompting.suffix_ids)
    extra = prompting.thought_tokens - len(prompting.suffix_ids)
    budget = generation_budget(checkpoint.max_positions, [prompt], cfg.task.max_new_tokens, file=source, extra=extra)
    with generation_autocast(device, checkpoint.training_precision or cfg.trainer.precision):
        ids = generate(model, tokenizer, [prompt], max_new_tokens=budget, seed=cfg.eval.seed, progress=False,
                       force_latents=cfg.eval.force_latents, code_choice=cfg.eval.code_choice,
                       embed=prompting.embed)[0][0]
    scored = score_generation(get_task(cfg.task.name), tokenizer, record, ids, latent_token_ids(tokenizer),
                              prompting.thought_tokens)
    blocks = latent_blocks(tokenizer.convert_ids_to_tokens(ids))
    latent_model = BEGIN_LATENT in tokenizer.get_vocab()
    vqvae = find_vqvae(cfg) if blocks or (latent_model and not cfg.eval.question) else None
    if vqvae is not None:
        check_trained_with(cfg, checkpoint, vqvae)
    decoded = [decode_block(vqvae, tokenizer, prompt, codes) for codes in blocks] if vqvae else []

    counts = (f"{scored['generated_tokens']} tokens: {scored['latent_tokens']} latent, {scored['text_tokens']} text, "
              f"{scored['thought_tokens']} thoughts")
    if cfg.eval.question:  # nothing to score it against
        print(f"{cfg.task.name}, your question, model {checkpoint.path}\n\nquestion:\n{record['question']}")
    else:
        verdict = ", ".join(f"{name}: {'yes' if value else 'no'}" for name, value in scored.items()
                            if isinstance(value, bool))
        counts += f"; {verdict}"
        expected = "\n".join([*record["steps"], f"### {record['answer']}"])
        print(f"{cfg.task.name} test record {cfg.eval.example} of {source}, model {checkpoint.path}")
        print(f"\nquestion:\n{record['question']}\n\nexpected:\n{expected}")
        chunks = reference_chunks(vqvae, tokenizer, record, trained_precision(cfg)) if vqvae is not None else []
        if chunks:
            print("\nthe expected trace chunk by chunk, its VQ-VAE codes, and what they decode to:")
        for text, codes, decoded_text in chunks:
            mark = "=" if decoded_text == text else "≠"
            print(f"  {text!r} {''.join(latent_token(code) for code in codes)} {mark} {decoded_text!r}")
    print(f"\ngeneration ({counts}):\n{scored['completion']}")
    for number, codes in enumerate(blocks, start=1):
        shown = "".join(latent_token(code) for code in codes)
        print(f"\nlatent block {number}: {shown}" + (f"\n  decodes to: {decoded[number - 1]!r}" if decoded else ""))
    if not blocks and latent_model:
        print("\nno latent block in this generation; eval.force_latents=k makes it open with k codes")
    return {"record": record, **scored, "latent_blocks": blocks, "decoded": decoded}


main = hydra_main(run, reads=("task", "data", "model", "mode", "base.use", "eval", "vqvae.dir", "trainer.accelerator"))


if __name__ == "__main__":
    main()
