"""latent_probe: the reference latent blocks it builds and the teacher-forced code accuracy it counts."""

from types import SimpleNamespace

import pytest
import torch

from token_assorted.errors import DataError
from token_assorted.evaluation.latent_probe import (
    WHOLE, accuracy_by_latent_tokens, cached_codes, code_accuracy, main, reference_block,
)
from token_assorted.io import sha256, write_json
from token_assorted.latent import LatentLayout, LatentVocab

VOCAB = LatentVocab(first_code_id=50, codebook_size=4, begin_id=60, end_id=61)
LAYOUT = LatentLayout(VOCAB, 2, 1)  # chunks of 2 tokens, one code each
ROW = {"prompt_ids": [5, 6], "reasoning_ids": [10, 11, 12, 13, 14], "solution_ids": [7, 2]}
CODES = [3, 1, 2]  # three chunks: (10, 11), (12, 13), (14)


def test_the_reference_block_holds_the_first_k_chunks_codes():
    assert reference_block(ROW, CODES, 0, LAYOUT) == [5, 6]
    assert reference_block(ROW, CODES, 1, LAYOUT) == [5, 6, 60, 53, 61]
    assert reference_block(ROW, CODES, 2, LAYOUT) == [5, 6, 60, 53, 51, 61]
    assert reference_block(ROW, CODES, WHOLE, LAYOUT) == reference_block(ROW, CODES, 9, LAYOUT) == [
        5, 6, 60, 53, 51, 52, 61]


class Guessing(torch.nn.Module):
    """A stand-in LM whose likeliest next token is `guess(sequence, position)`."""

    def __init__(self, guess):
        super().__init__()
        self.guess = guess

    def forward(self, input_ids):
        sequence = input_ids[0].tolist()
        logits = torch.zeros(1, len(sequence), 64)
        for position in range(len(sequence)):
            logits[0, position, self.guess(sequence, position)] = 1.0
        return SimpleNamespace(logits=logits)


def test_code_accuracy_counts_each_position_of_the_block():
    rows = [ROW, {**ROW, "reasoning_ids": [10, 11, 12]}]  # the second trace: two chunks
    codes = [CODES, [3, 0]]
    oracle = Guessing(lambda seq, p: seq[p + 1] if p + 1 < len(seq) else 0)
    assert code_accuracy(oracle, rows, codes, LAYOUT) == [(2, 2), (2, 2), (1, 1)]
    always_3 = Guessing(lambda seq, p: VOCAB.code_id(3))
    assert code_accuracy(always_3, rows, codes, LAYOUT) == [(2, 2), (0, 2), (0, 1)]
    off_by_one = Guessing(lambda seq, p: seq[p])  # predicts the token it reads: right nowhere here
    assert code_accuracy(off_by_one, rows, codes, LAYOUT) == [(0, 2), (0, 2), (0, 1)]


def test_codes_of_other_records_are_refused(tmp_path):
    records = tmp_path / "test.json"
    records.write_text("[]")
    vqvae = tmp_path / "vqvae"
    write_json(vqvae / "meta.json", {"config": {"chunk_size": 8}})
    write_json(vqvae / "codes" / "test.json", {"inputs": {"records": sha256(records)}, "codes_per_chunk": 2,
                                                "codes": [[1, 2]]})
    assert cached_codes(vqvae, records) == ([[1, 2]], 8, 2)
    records.write_text("[ ]")
    with pytest.raises(DataError, match="other records"):
        cached_codes(vqvae, records)
    with pytest.raises(DataError, match="no cached codes"):
        cached_codes(vqvae, tmp_path / "valid.json")


def test_a_folder_without_a_model_is_one_error_line(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_:
        main([str(tmp_path), str(tmp_path)])
    assert exit_.value.code == 2
    assert capsys.readouterr().err == (f"error: no fine-tuned model in {tmp_path} (RUN_DIR): give "
                                       "<out_dir>/finetune/<task>/<mode>\n")


def test_its_own_answers_are_counted_by_the_latent_tokens_it_wrote():
    predictions = [{"latent_tokens": n, "correct": c} for n, c in [(4, True), (10, False), (4, False), (0, True),
                                                                   (10, False), (4, True)]]
    assert accuracy_by_latent_tokens(predictions) == {0: (1, 1), 4: (2, 3), 10: (0, 2)}
