"""Subscale slicing of a latent video and its exact inverse.

A video of shape (T, h, w) and factors s = (s_t, s_h, s_w) is cut into s_t*s_h*s_w
slices of shape (T/s_t, h/s_h, w/s_w); slice (a, b, c) holds the positions
(a + s_t*i, b + s_h*j, c + s_w*k). Slices are numbered in subscale order
(a, b, c) -> a*s_h*s_w + b*s_w + c, positions inside a slice in raster order; that
is the generation order of eq. (2) of the paper.
"""

from __future__ import annotations

import torch

Triple = tuple[int, int, int]


def _check(shape: tuple[int, ...], s: Triple) -> None:
    for axis, (n, f) in enumerate(zip(shape, s)):
        if f < 1 or n % f != 0:
            raise ValueError(
                f"subscale factor {f} does not divide axis {axis} of size {n} ({shape})"
            )


def to_slices(video: torch.Tensor, s: Triple) -> torch.Tensor:
    """Cut a video into its subscale slices.

    Args:
        video: (B, T, h, w, ...) any trailing dims (e.g. the n_c codes or features).
        s: (s_t, s_h, s_w).

    Returns:
        (B, S, T/s_t, h/s_h, w/s_w, ...) with S = s_t*s_h*s_w in subscale order.
    """
    b, t, h, w = video.shape[:4]
    rest = video.shape[4:]
    _check((t, h, w), s)
    st, sh, sw = s
    x = video.reshape(b, t // st, st, h // sh, sh, w // sw, sw, *rest)
    # (B, t', st, h', sh, w', sw, ...) -> (B, st, sh, sw, t', h', w', ...)
    perm = (0, 2, 4, 6, 1, 3, 5, *range(7, 7 + len(rest)))
    x = x.permute(*perm)
    return x.reshape(b, st * sh * sw, t // st, h // sh, w // sw, *rest)


def from_slices(slices: torch.Tensor, s: Triple) -> torch.Tensor:
    """Inverse of :func:`to_slices`: (B, S, t', h', w', ...) -> (B, T, h, w, ...)."""
    b, n, tp, hp, wp = slices.shape[:5]
    rest = slices.shape[5:]
    st, sh, sw = s
    if n != st * sh * sw:
        raise ValueError(f"got {n} slices, factors {s} need {st * sh * sw}")
    x = slices.reshape(b, st, sh, sw, tp, hp, wp, *rest)
    # (B, st, sh, sw, t', h', w', ...) -> (B, t', st, h', sh, w', sw, ...)
    perm = (0, 4, 1, 5, 2, 6, 3, *range(7, 7 + len(rest)))
    x = x.permute(*perm)
    return x.reshape(b, tp * st, hp * sh, wp * sw, *rest)


def slice_offsets(index: int, s: Triple) -> Triple:
    """(a, b, c) of slice number ``index`` in subscale order."""
    st, sh, sw = s
    if not 0 <= index < st * sh * sw:
        raise ValueError(f"slice index {index} out of range for factors {s}")
    return (index // (sh * sw), (index // sw) % sh, index % sw)


def generation_order(video_shape: Triple, s: Triple) -> torch.Tensor:
    """The rank in generation order of every position of the video.

    Returns:
        (T, h, w) int64: position (t, y, x) is the ``rank``-th position generated.
    """
    t, h, w = video_shape
    ranks = torch.arange(t * h * w).reshape(1, -1)
    # ranks enumerate slices then raster positions; map them back to video positions.
    order = from_slices(ranks.reshape(1, -1, *_slice_shape(video_shape, s)), s)
    return order.reshape(t, h, w)


def _slice_shape(video_shape: Triple, s: Triple) -> Triple:
    _check(video_shape, s)
    return (video_shape[0] // s[0], video_shape[1] // s[1], video_shape[2] // s[2])


def slice_numbers(video_shape: Triple, s: Triple) -> torch.Tensor:
    """The slice every position of the video belongs to: (T, h, w) int64."""
    slice_shape = _slice_shape(video_shape, s)
    numbers = torch.arange(s[0] * s[1] * s[2]).reshape(1, -1, 1, 1, 1).expand(1, -1, *slice_shape)
    return from_slices(numbers, s)[0].clone()


def slice_frame_index(video_shape: Triple, s: Triple) -> torch.Tensor:
    """The video frame of every slice position: (S, t', h', w') int64."""
    t, h, w = video_shape
    frames = torch.arange(t).reshape(1, t, 1, 1).expand(1, t, h, w)
    return to_slices(frames, s)[0]
