"""View-to-view re-projection with a z-test: min-combination and interpolation (kernel 2).

Whole-shape fusion in DEF carries each source view's per-point predictions into every
target view and keeps, per target pixel, the minimum over sources. Here the views are
orthographic range scans (see :mod:`def_features.data.scan`): the target view is given
by its ``cam_from_world`` pose, pixel size and depth map. A source point ``x`` with
value ``v`` is moved into the target camera frame, ``c = R x + t``; it falls on pixel

    col = floor(c_x / pixel_size + W / 2),  row = floor(c_y / pixel_size + H / 2)

and contributes ``v`` to that pixel when the pixel sees the surface and the point
passes the z-test ``|c_z - depth[row, col]| <= tolerance`` (the point is on the
surface the target pixel sees, not occluded or behind it). Contributions are combined
by ``min`` with the current value of ``out`` (so calling once per source view fuses
all sources). No gradient: fusion runs at inference time.

:func:`reproject_interpolate` is the paper's neighbour-limited interpolation on the
same projection: each source point spreads its value to the target pixel centres within
``radius_px`` pixels (inverse squared distance weights, the same z-test per target
pixel), ``inf`` where no weight arrived. Both ops have a vectorised torch reference and
a Triton kernel (one program per block of points, atomics into the target grid),
chosen by ``implementation="auto" | "torch" | "triton"``.
"""

from __future__ import annotations

import numpy as np
import torch

from shared_utils.kernels import resolve_implementation

try:
    import triton
    import triton.language as tl
except ImportError:  # pragma: no cover - triton missing
    triton = None
    tl = None


def _check_inputs(
    op: str, points: torch.Tensor, values: torch.Tensor, cam: torch.Tensor, depth: torch.Tensor
) -> None:
    if points.ndim != 2 or points.shape[1] != 3 or values.shape != points.shape[:1]:
        raise ValueError(
            f"{op}: points (N, 3) and values (N,) expected, got {tuple(points.shape)} "
            f"and {tuple(values.shape)}"
        )
    if depth.ndim != 2 or cam.shape != (4, 4):
        raise ValueError(
            f"{op}: depth (H, W) and cam_from_world (4, 4) expected, got "
            f"{tuple(depth.shape)} and {tuple(cam.shape)}"
        )


def _project(
    points: torch.Tensor, cam_from_world: torch.Tensor, h: int, w: int, pixel_size: float
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Camera-frame points (N, 3) and continuous pixel coordinates x (N,), y (N,) in a
    target view of h x w pixels (pixel (row, col) covers [col, col + 1) x [row, row + 1))."""
    R = cam_from_world[:3, :3].to(points)
    t = cam_from_world[:3, 3].to(points)
    c = points @ R.T + t
    return c, c[:, 0] / pixel_size + w / 2, c[:, 1] / pixel_size + h / 2


def _pixel_targets(
    points: torch.Tensor,
    cam_from_world: torch.Tensor,
    depth: torch.Tensor,
    pixel_size: float,
    tolerance: float,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Reference helper: flat pixel index (N,) and validity (N,) of each point."""
    h, w = depth.shape
    c, px, py = _project(points, cam_from_world, h, w, pixel_size)
    col, row = torch.floor(px).long(), torch.floor(py).long()
    inside = (col >= 0) & (col < w) & (row >= 0) & (row < h)
    flat = torch.where(inside, row * w + col, torch.zeros_like(col))
    d = depth.reshape(-1)[flat].to(points.dtype)
    valid = inside & torch.isfinite(d) & ((c[:, 2] - d).abs() <= tolerance)
    return flat, valid


def _torch_reproject(points, values, cam_from_world, depth, pixel_size, tolerance, out):
    flat, valid = _pixel_targets(points, cam_from_world, depth, pixel_size, tolerance)
    out_flat = out.reshape(-1)
    out_flat.scatter_reduce_(0, flat[valid], values[valid].to(out.dtype), reduce="amin")
    return out


if triton is not None:

    @triton.jit
    def _camera_frame(p_ptr, m_ptr, r, nmask):
        """Points r (masked) of an (N, 3) array moved by the row-major [R|t] at m_ptr."""
        x = tl.load(p_ptr + r * 3 + 0, mask=nmask, other=0.0)
        y = tl.load(p_ptr + r * 3 + 1, mask=nmask, other=0.0)
        z = tl.load(p_ptr + r * 3 + 2, mask=nmask, other=0.0)
        cx = tl.load(m_ptr + 0) * x + tl.load(m_ptr + 1) * y + tl.load(m_ptr + 2) * z
        cy = tl.load(m_ptr + 4) * x + tl.load(m_ptr + 5) * y + tl.load(m_ptr + 6) * z
        cz = tl.load(m_ptr + 8) * x + tl.load(m_ptr + 9) * y + tl.load(m_ptr + 10) * z
        return cx + tl.load(m_ptr + 3), cy + tl.load(m_ptr + 7), cz + tl.load(m_ptr + 11)

    @triton.jit
    def _reproject_kernel(
        p_ptr,
        v_ptr,
        m_ptr,
        depth_ptr,
        out_ptr,
        N,
        H,
        W,
        inv_pixel,
        tol,
        BLOCK: tl.constexpr,
    ):
        r = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
        nmask = r < N
        v = tl.load(v_ptr + r, mask=nmask, other=0.0)
        cx, cy, cz = _camera_frame(p_ptr, m_ptr, r, nmask)
        # clamped before the int32 cast: a point far outside could wrap into the image
        col = tl.floor(tl.minimum(tl.maximum(cx * inv_pixel + W * 0.5, -1.0), W + 1.0))
        row = tl.floor(tl.minimum(tl.maximum(cy * inv_pixel + H * 0.5, -1.0), H + 1.0))
        col = col.to(tl.int32)
        row = row.to(tl.int32)
        inside = nmask & (col >= 0) & (col < W) & (row >= 0) & (row < H)
        flat = tl.where(inside, row * W + col, 0)
        d = tl.load(depth_ptr + flat, mask=inside, other=float("inf"))
        ok = inside & (tl.abs(cz - d) <= tol)
        tl.atomic_min(out_ptr + flat, v, mask=ok)


def _triton_reproject(points, values, cam_from_world, depth, pixel_size, tolerance, out):
    p = points.float().contiguous()
    v = values.float().contiguous()
    m = cam_from_world[:3, :4].float().contiguous().to(p.device)
    d = depth.float().contiguous()
    res = out if out.dtype == torch.float32 and out.is_contiguous() else out.float().contiguous()
    n = p.shape[0]
    if n:
        block = 256 if p.device.type == "cpu" else 1024
        grid = (triton.cdiv(n, block),)
        h, w = d.shape
        _reproject_kernel[grid](p, v, m, d, res, n, h, w, 1.0 / pixel_size, tolerance, BLOCK=block)
    if res is not out:
        out.copy_(res)
    return out


@torch.no_grad()
def reproject_min(
    points: torch.Tensor,
    values: torch.Tensor,
    cam_from_world: torch.Tensor,
    depth: torch.Tensor,
    pixel_size: float,
    tolerance: float,
    out: torch.Tensor | None = None,
    *,
    implementation: str = "auto",
) -> torch.Tensor:
    """Min-combine source-point values into a target orthographic view's pixel grid.

    Args:
        points: (N, 3) world points of a source view.
        values: (N,) their values (predicted distances).
        cam_from_world: (4, 4) the target view's world-to-camera pose (OpenCV axes).
        depth: (H, W) the target view's depth (``inf`` where the ray misses).
        pixel_size: the target view's orthographic pixel size.
        tolerance: z-test tolerance (world units).
        out: (H, W) running minimum, updated in place; a new ``inf``-filled map if None.
        implementation: ``"auto"``, ``"torch"`` or ``"triton"``.

    Returns:
        (H, W) ``out``: per pixel the min over contributing points (``inf`` where none).
    """
    _check_inputs("reproject_min", points, values, cam_from_world, depth)
    if out is None:
        out = torch.full(depth.shape, float("inf"), dtype=torch.float32, device=depth.device)
    impl = resolve_implementation(implementation, points, values, depth, out, op="reproject_min")
    fn = _triton_reproject if impl == "triton" else _torch_reproject
    return fn(points, values, cam_from_world.to(points.device), depth, pixel_size, tolerance, out)


def _torch_interpolate(
    points, values, cam_from_world, depth, pixel_size, tolerance, radius_px, k
) -> tuple[torch.Tensor, torch.Tensor]:
    """Reference: float64 weight and weighted-value sums (H * W,) over the (2k+1)^2
    pixel offsets around each point's pixel."""
    h, w = depth.shape
    c, px, py = _project(points.double(), cam_from_world, h, w, pixel_size)
    col0, row0 = torch.floor(px).long(), torch.floor(py).long()
    flat_depth = depth.reshape(-1).double()
    wsum = torch.zeros(h * w, dtype=torch.float64, device=depth.device)
    vsum = torch.zeros(h * w, dtype=torch.float64, device=depth.device)
    v = values.double()
    for dr in range(-k, k + 1):
        for dc in range(-k, k + 1):
            col, row = col0 + dc, row0 + dr
            d2 = (col + 0.5 - px) ** 2 + (row + 0.5 - py) ** 2
            inside = (col >= 0) & (col < w) & (row >= 0) & (row < h) & (d2 <= radius_px**2)
            flat = torch.where(inside, row * w + col, torch.zeros_like(col))
            z = flat_depth[flat]
            ok = inside & torch.isfinite(z) & ((c[:, 2] - z).abs() <= tolerance)
            weight = 1.0 / (d2[ok] + 1e-6)
            wsum.index_add_(0, flat[ok], weight)
            vsum.index_add_(0, flat[ok], weight * v[ok])
    return wsum, vsum


if triton is not None:

    @triton.jit
    def _interpolate_kernel(
        p_ptr,
        v_ptr,
        prm_ptr,
        depth_ptr,
        wsum_ptr,
        vsum_ptr,
        N,
        H,
        W,
        K: tl.constexpr,
        BLOCK: tl.constexpr,
    ):
        # float64 throughout; the scalars come from a float64 tensor because Triton would
        # pass Python floats as float32: prm = [R|t (12, row-major), pixel_size,
        # tolerance, radius^2, W / 2, H / 2].
        r = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
        nmask = r < N
        v = tl.load(v_ptr + r, mask=nmask, other=0.0)
        cx, cy, cz = _camera_frame(p_ptr, prm_ptr, r, nmask)
        pixel_size = tl.load(prm_ptr + 12)
        tol = tl.load(prm_ptr + 13)
        r2 = tl.load(prm_ptr + 14)
        px = cx / pixel_size + tl.load(prm_ptr + 15)
        py = cy / pixel_size + tl.load(prm_ptr + 16)
        # Clamp before the int32 cast: a point far outside the image would overflow it
        # and could wrap into the image; clamped, every offset stays outside.
        col0 = tl.floor(tl.minimum(tl.maximum(px, -K - 2.0), W + K + 2.0)).to(tl.int32)
        row0 = tl.floor(tl.minimum(tl.maximum(py, -K - 2.0), H + K + 2.0)).to(tl.int32)
        for i in tl.static_range(2 * K + 1):
            row = row0 + (i - K)
            fy = row.to(tl.float64) + 0.5 - py
            for j in tl.static_range(2 * K + 1):
                col = col0 + (j - K)
                fx = col.to(tl.float64) + 0.5 - px
                d2 = fx * fx + fy * fy
                inside = nmask & (col >= 0) & (col < W) & (row >= 0) & (row < H) & (d2 <= r2)
                flat = tl.where(inside, row * W + col, 0)
                zd = tl.load(depth_ptr + flat, mask=inside, other=float("inf"))
                # inf depth (no surface) fails the test: |cz - inf| = inf > tol.
                ok = inside & (tl.abs(cz - zd) <= tol)
                weight = 1.0 / (d2 + 1e-6)
                tl.atomic_add(wsum_ptr + flat, weight, mask=ok)
                tl.atomic_add(vsum_ptr + flat, weight * v, mask=ok)


def _triton_interpolate(
    points, values, cam_from_world, depth, pixel_size, tolerance, radius_px, k
) -> tuple[torch.Tensor, torch.Tensor]:
    """Triton: the same float64 sums as :func:`_torch_interpolate`, one program per
    block of points, atomically added into the two accumulators."""
    h, w = depth.shape
    dev = points.device
    p = points.double().contiguous()
    v = values.double().contiguous().to(dev)
    d = depth.double().contiguous().to(dev)
    extra = [pixel_size, tolerance, radius_px**2, w / 2, h / 2]
    prm = torch.cat(
        [
            cam_from_world[:3, :4].double().reshape(-1).to(dev),
            torch.tensor(extra, dtype=torch.float64, device=dev),
        ]
    ).contiguous()
    wsum = torch.zeros(h * w, dtype=torch.float64, device=dev)
    vsum = torch.zeros(h * w, dtype=torch.float64, device=dev)
    n = p.shape[0]
    if n:
        # Small blocks on the interpreter (its cost grows with the block's work per
        # program); wide ones on a GPU.
        block = 128 if dev.type == "cpu" else 256
        grid = (triton.cdiv(n, block),)
        _interpolate_kernel[grid](p, v, prm, d, wsum, vsum, n, h, w, K=k, BLOCK=block)
    return wsum, vsum


@torch.no_grad()
def reproject_interpolate(
    points: torch.Tensor,
    values: torch.Tensor,
    cam_from_world: torch.Tensor,
    depth: torch.Tensor,
    pixel_size: float,
    tolerance: float,
    radius_px: float = 1.0,
    *,
    implementation: str = "auto",
) -> torch.Tensor:
    """Interpolate one source view's values at a target view's pixel centres.

    The paper's fusion interpolates a source's predictions only where source points lie
    close to the target pixel: every source point is projected into the target image and
    spreads its value to the pixel centres within ``radius_px`` pixels (if it passes the
    z-test against that pixel's depth), weighted by ``1 / (d^2 + 1e-6)`` with ``d`` the
    image-plane distance in pixels. A pixel with no point within the radius gets ``inf``
    (no estimate), so sparse or oblique sources never invent values far from their
    samples. A point exactly on a pixel centre dominates that pixel (a view carried into
    itself returns its own values up to ~1e-6 of the neighbours' differences).

    Both implementations project, weigh and accumulate in float64 (the Triton kernel
    with float64 atomics; the scatter order of the atomics changes the sums only in the
    last bits) and return float32; they differ only where a point lies on a radius or
    z-test boundary to within float64 rounding.

    Args:
        points: (N, 3) world points of the source view.
        values: (N,) their values.
        cam_from_world: (4, 4) the target view's pose.
        depth: (H, W) the target view's depth (``inf`` where the ray misses).
        pixel_size: the target view's orthographic pixel size.
        tolerance: z-test tolerance (world units).
        radius_px: neighbourhood radius in target pixels.
        implementation: ``"auto"`` (Triton on CUDA tensors, the reference otherwise),
            ``"torch"`` (the reference: a vectorised loop over the (2k+1)^2 pixel
            offsets, k = ceil(radius_px)) or ``"triton"``.

    Returns:
        (H, W) float32 interpolated values, ``inf`` where no source point is near.
    """
    _check_inputs("reproject_interpolate", points, values, cam_from_world, depth)
    if not radius_px > 0:
        raise ValueError(f"reproject_interpolate: radius_px must be > 0, got {radius_px}")
    impl = resolve_implementation(implementation, points, values, depth, op="reproject_interpolate")
    fn = _triton_interpolate if impl == "triton" else _torch_interpolate
    k = int(np.ceil(radius_px))
    h, w = depth.shape
    wsum, vsum = fn(
        points, values, cam_from_world.to(points.device), depth, pixel_size, tolerance, radius_px, k
    )
    out = torch.where(wsum > 0, vsum / wsum.clamp_min(1e-300), torch.full_like(wsum, float("inf")))
    return out.reshape(h, w).float()
