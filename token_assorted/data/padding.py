"""Token-id rows of different lengths as one tensor: padded on the right (training) or the left (generation)."""

from __future__ import annotations

from typing import Sequence

import numpy as np
import torch


def padded(
    rows: Sequence[Sequence[int]], fill: int, *, width: int | None = None, left: bool = False
) -> tuple[torch.Tensor, torch.Tensor]:
    """(ids, mask): the rows as one int64 tensor of `width` columns (the longest row's by default), `fill` beyond
    each row, and the bool mask of the real tokens. Filled through numpy: a torch.tensor per row takes several
    times as long (docs/measurements.md), a cost every training batch pays."""
    lengths = np.array([len(row) for row in rows], dtype=np.int64)
    width = int(lengths.max(initial=0)) if width is None else width
    array = np.full((len(rows), width), fill, dtype=np.int64)
    for index, row in enumerate(rows):
        if not len(row):
            continue
        if left:
            array[index, width - len(row) :] = row
        else:
            array[index, : len(row)] = row
    columns = np.arange(width)
    mask = columns >= (width - lengths)[:, None] if left else columns < lengths[:, None]
    return torch.from_numpy(array), torch.from_numpy(mask)
