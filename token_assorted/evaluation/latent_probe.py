"""Where random-replace's accuracy goes: how well a model writes the latent codes of a reasoning trace, and how
well it answers from the right ones.

    python -m token_assorted.evaluation.latent_probe RUN_DIR VQVAE_DIR --records data/prontoqa/test.json [--n 300]
        [--predictions <out_dir>/eval/<task>/<mode>/predictions.jsonl]

RUN_DIR is a fine-tuned model with latent tokens; VQVAE_DIR the VQ-VAE folder (<out_dir>/vqvae/<task>) whose cached
codes of that split (codes/<split>.json) it trained on. Two measurements on the first n records:
    code accuracy   the whole trace given as one latent block of its reference codes: the share of records whose
                    likeliest next token at each position of the block is the reference code (teacher-forced)
    answers         the trace's first k chunks given as their reference latent block, the model writing the rest
                    greedily in text: accuracy for k = 0 (no block), 1, 2, 3 and the whole trace
A model that answers from the reference codes but not from its own (evaluate) loses its accuracy in writing them.
With --predictions (evaluate's file for that model), a third: its accuracy by the latent tokens it wrote itself.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from ..errors import DataError, reports_errors
from ..latent.chunks import chunk_count
from ..latent.sequence import LatentLayout, mix_reasoning

WHOLE = "all"


def reference_block(row: dict, codes: list[int], chunks: int | str, layout: LatentLayout) -> list[int]:
    """The prompt, then the first `chunks` chunks of the trace (every one for "all") as one latent block."""
    total = chunk_count(len(row["reasoning_ids"]), layout.chunk_size)
    count = total if chunks == WHOLE else min(chunks, total)
    if count == 0:
        return list(row["prompt_ids"])
    mixed = mix_reasoning(row["reasoning_ids"], codes, range(count), layout.vocab, layout.chunk_size,
                          layout.per_chunk)
    return list(row["prompt_ids"]) + mixed[: mixed.index(layout.vocab.end_id) + 1]


def code_accuracy(model, rows: list[dict], codes: list[list[int]], layout: LatentLayout) -> list[tuple[int, int]]:
    """Per position in the whole-trace block: (records whose likeliest next token there is the reference code,
    records whose block reaches that far)."""
    import torch

    tally: list[list[int]] = []
    with torch.inference_mode():
        for row, record_codes in zip(rows, codes):
            sequence = reference_block(row, record_codes, WHOLE, layout)
            logits = model(torch.tensor([sequence])).logits[0]
            first = len(row["prompt_ids"]) + 1  # the block's first code, after <boLatent>
            predicted = logits[first - 1 : len(sequence) - 2].argmax(-1).tolist()  # each predicts the next token
            for position, (guess, code) in enumerate(zip(predicted, sequence[first:-1])):
                if position == len(tally):
                    tally.append([0, 0])
                tally[position][0] += guess == code
                tally[position][1] += 1
    return [(right, seen) for right, seen in tally]


def answers_from_reference(model, tokenizer, task_name: str, records: list[dict], rows: list[dict],
                           codes: list[list[int]], layout: LatentLayout, chunk_counts=(0, 1, 2, 3, WHOLE),
                           max_new_tokens: int = 128) -> dict:
    """chunks -> accuracy when the model goes on in text from the prompt and that many chunks' reference codes."""
    from ..tasks import get_task
    from .generation import generate
    from .tokens import completion_text

    task = get_task(task_name)
    accuracy = {}
    for chunks in chunk_counts:
        prompts = [reference_block(row, record_codes, chunks, layout) for row, record_codes in zip(rows, codes)]
        generations = generate(model, tokenizer, prompts, max_new_tokens=max_new_tokens, progress=False,
                               force_latents=0)
        right = 0
        for record, row, prompt, samples in zip(records, rows, prompts, generations):
            completion = completion_text(tokenizer, prompt[len(row["prompt_ids"]) :] + samples[0])
            right += bool(task.score(record, completion)["correct"])
        accuracy[chunks] = right / len(records)
    return accuracy


def accuracy_by_latent_tokens(predictions: list[dict]) -> dict[int, tuple[int, int]]:
    """latent tokens written -> (right answers, records), over evaluate's predictions."""
    tally: dict[int, list[int]] = {}
    for prediction in predictions:
        right_and_seen = tally.setdefault(prediction["latent_tokens"], [0, 0])
        right_and_seen[0] += bool(prediction["correct"])
        right_and_seen[1] += 1
    return {written: (right, seen) for written, (right, seen) in sorted(tally.items())}


def cached_codes(vqvae_dir: Path, records_file: Path) -> tuple[list[list[int]], int, int]:
    """(codes per record, L, codes per chunk) from the VQ-VAE's cache of the split `records_file` holds."""
    from ..io import read_meta, sha256

    path = vqvae_dir / "codes" / f"{records_file.stem}.json"
    if not path.exists():
        raise DataError(f"no cached codes at {path}: give the VQ-VAE folder whose codes the model trained on")
    cached = json.loads(path.read_text(encoding="utf-8"))
    if cached["inputs"]["records"] != sha256(records_file):
        raise DataError(f"the codes in {path} were made from other records than {records_file}")
    return cached["codes"], read_meta(vqvae_dir)["config"]["chunk_size"], cached["codes_per_chunk"]


@reports_errors
def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m token_assorted.evaluation.latent_probe",
                                     description=__doc__.split("\n\n")[0].replace("\n", " "))
    parser.add_argument("run_dir", help="a fine-tuned model with latent tokens (<out_dir>/finetune/<task>/<mode>)")
    parser.add_argument("vqvae_dir", help="the VQ-VAE folder whose cached codes it trained on (<out_dir>/vqvae/<task>)")
    parser.add_argument("--records", default="data/prontoqa/test.json", help="the split to probe it on")
    parser.add_argument("--n", type=int, default=300, help="the first n records")
    parser.add_argument("--predictions", help="evaluate's predictions.jsonl for this model (all its records)")
    args = parser.parse_args(argv)
    if not (Path(args.run_dir) / "config.json").is_file():
        raise DataError(f"no fine-tuned model in {args.run_dir} (RUN_DIR): give <out_dir>/finetune/<task>/<mode>")

    import torch  # after the arguments: --help and a wrong path answer without it
    from transformers import AutoModelForCausalLM

    from ..data.dataset import encode_batch
    from ..data.tokenizer import load_tokenizer
    from ..io import read_meta
    from ..latent.vocab import latent_vocab
    from ..records import load_records, parse_json_rows

    torch.set_num_threads(1)
    records_file = Path(args.records)
    codes, chunk_size, per_chunk = cached_codes(Path(args.vqvae_dir), records_file)
    records = load_records(records_file)[: args.n]
    model, tokenizer = AutoModelForCausalLM.from_pretrained(args.run_dir).eval(), load_tokenizer(args.run_dir)
    layout = LatentLayout(latent_vocab(tokenizer), chunk_size, per_chunk)
    rows, codes = encode_batch(tokenizer, records), codes[: len(records)]
    task_name = read_meta(args.run_dir)["config"]["task"]["name"]
    print(f"{args.run_dir} on the first {len(records)} records of {records_file}")
    accuracy = code_accuracy(model, rows, codes, layout)
    print("code accuracy by position in the block (teacher-forced): "
          + ", ".join(f"{p}: {right / seen:.2f}" for p, (right, seen) in enumerate(accuracy) if seen >= 10))
    answers = answers_from_reference(model, tokenizer, task_name, records, rows, codes, layout)
    print("accuracy from the reference codes of the first k chunks, the rest in text: "
          + ", ".join(f"k={k}: {100 * value:.1f} %" for k, value in answers.items()))
    summary = {"code_accuracy": [right / seen for right, seen in accuracy],
               "answers": {str(k): value for k, value in answers.items()}}
    if args.predictions:
        predictions = Path(args.predictions)
        by_latent = accuracy_by_latent_tokens(parse_json_rows(predictions.read_text(encoding="utf-8"), predictions))
        print("its own answers by the latent tokens it wrote (delimiters included): "
              + ", ".join(f"{n}: {100 * right / seen:.1f} % of {seen}" for n, (right, seen) in by_latent.items()))
        summary["by_latent_tokens"] = {str(n): list(value) for n, value in by_latent.items()}
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
