import math

import pytest
import torch

from mmsign.models.heads import (
    RELEASED_GEOMETRY,
    edge_pad_indices,
    released_edge_padding,
    released_padded_length,
)


def test_released_padded_length_matches_spec():
    assert [released_padded_length(t, RELEASED_GEOMETRY)
            for t in (1, 4, 5, 8, 9)] == [16, 16, 20, 20, 24]
    for t in range(1, 301):
        assert released_padded_length(t, RELEASED_GEOMETRY) == math.ceil(t / 4) * 4 + 12
    with pytest.raises(ValueError):
        released_padded_length(0, RELEASED_GEOMETRY)


def test_edge_pad_indices_small_batch():
    # video 0: rows 0..2 (3 frames), video 1: rows 3..7 (5 frames), padded to 20 each
    indices = edge_pad_indices([3, 5], 20, RELEASED_GEOMETRY.left_pad).tolist()
    assert indices[:20] == [0] * 6 + [0, 1, 2] + [2] * 11
    assert indices[20:] == [3] * 6 + [3, 4, 5, 6, 7] + [7] * 9


def test_released_edge_padding_copies_edge_rows():
    lengths = [2, 7]
    packed = torch.arange(9, dtype=torch.float32)[:, None].repeat(1, 3)  # (9, 3)
    padded, valid = released_edge_padding(packed, lengths, RELEASED_GEOMETRY)
    assert padded.shape == (2, 20, 3)  # ceil(7 / 4) * 4 + 12
    assert valid == [16, 20]
    assert padded[0, :, 0].tolist() == [0] * 7 + [1] * 13
    assert padded[1, :, 0].tolist() == [2] * 7 + [3, 4, 5, 6, 7, 8] + [8] * 7
    # frames (N, 3, H, W) go through the same way
    frames = torch.randn(9, 3, 2, 2)
    padded_frames, _ = released_edge_padding(frames, lengths, RELEASED_GEOMETRY)
    assert torch.equal(padded_frames[1, 6], frames[2])
    assert torch.equal(padded_frames[1, -1], frames[8])


def test_released_edge_padding_rejects_wrong_row_count():
    with pytest.raises(ValueError, match='add up to'):
        released_edge_padding(torch.zeros(5, 3), [2, 2], RELEASED_GEOMETRY)


def test_the_released_geometry_is_derived_from_the_released_layers():
    assert (RELEASED_GEOMETRY.stride, RELEASED_GEOMETRY.receptive_field) == (4, 16)
    assert (RELEASED_GEOMETRY.left_pad, RELEASED_GEOMETRY.extra) == (6, 12)
    assert [RELEASED_GEOMETRY.min_frames(n) for n in (1, 2, 3)] == [1, 5, 9]
    assert all(RELEASED_GEOMETRY.output_steps(RELEASED_GEOMETRY.min_frames(n)) == n
               for n in range(1, 20))
