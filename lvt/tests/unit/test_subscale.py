"""Subscale slicing: exact round trip, slice contents, generation order."""

from __future__ import annotations

import itertools

import pytest
import torch

from lvt.model.subscale import from_slices, generation_order, slice_offsets, to_slices


@pytest.mark.parametrize("s", [(1, 1, 1), (16, 1, 1), (1, 2, 2), (4, 2, 2), (2, 4, 1), (8, 4, 4)])
def test_round_trip_any_factor(s: tuple[int, int, int]) -> None:
    video = torch.randint(0, 100, (2, 16, 8, 8, 3))
    slices = to_slices(video, s)
    assert slices.shape == (2, s[0] * s[1] * s[2], 16 // s[0], 8 // s[1], 8 // s[2], 3)
    assert torch.equal(from_slices(slices, s), video)


def test_slice_contents_match_strided_indexing() -> None:
    s = (2, 2, 4)
    video = torch.arange(4 * 4 * 8).reshape(1, 4, 4, 8)
    slices = to_slices(video, s)
    for n, (a, b, c) in enumerate(itertools.product(range(2), range(2), range(4))):
        assert slice_offsets(n, s) == (a, b, c)
        assert torch.equal(slices[0, n], video[0, a::2, b::2, c::4])


def test_generation_order_is_slice_then_raster() -> None:
    order = generation_order((4, 4, 4), (2, 2, 2))
    assert sorted(order.reshape(-1).tolist()) == list(range(64))
    # first slice (0,0,0) is generated first, in raster order
    assert (
        order[0, 0, 0] == 0 and order[0, 0, 2] == 1 and order[0, 2, 0] == 2 and order[2, 0, 0] == 4
    )
    # the last slice (1,1,1) ends the video; its last position is (3,3,3)
    assert order[1, 1, 1] == 56 and order[3, 3, 3] == 63


def test_bad_factor_is_rejected() -> None:
    with pytest.raises(ValueError, match="does not divide"):
        to_slices(torch.zeros(1, 6, 4, 4), (4, 1, 1))
