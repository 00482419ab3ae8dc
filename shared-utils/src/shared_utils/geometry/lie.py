"""Exponential and logarithm maps of SO(3) and SE(3) in torch (batched, differentiable).

Twists are ``xi = (rho, omega)``: translation part first, rotation part second (the
pytorch3d order). With ``W = hat(omega)`` and ``theta = |omega|``::

    exp(W)   = I + A W + B W^2                       (Rodrigues)
    exp(xi)  = [[exp(W), V rho], [0, 1]],  V = I + B W + C W^2
    A = sin(theta) / theta, B = (1 - cos(theta)) / theta^2, C = (theta - sin(theta)) / theta^3

Near theta = 0 the coefficients switch to their Taylor series (in theta^2, so gradients
stay finite at 0). ``so3_log`` reads the angle with atan2 (well conditioned everywhere)
and near theta = pi recovers the axis from the symmetric part of R, where the
antisymmetric part vanishes.
"""

from __future__ import annotations

import math

import torch

_SMALL = 0.1
"""Angle below which the Taylor series replace the closed forms (truncation < 1e-15)."""
_NEAR_PI_COS = -0.9
"""cos(theta) below which so3_log takes the axis from the symmetric part of R."""


def hat(omega: torch.Tensor) -> torch.Tensor:
    """Skew-symmetric matrices: (..., 3) -> (..., 3, 3) with ``hat(a) @ b = a x b``."""
    x, y, z = omega.unbind(-1)
    o = torch.zeros_like(x)
    return torch.stack([o, -z, y, z, o, -x, -y, x, o], dim=-1).reshape(*omega.shape[:-1], 3, 3)


def vee(W: torch.Tensor) -> torch.Tensor:
    """Inverse of ``hat`` on the antisymmetric part: (..., 3, 3) -> (..., 3)."""
    return 0.5 * torch.stack(
        [W[..., 2, 1] - W[..., 1, 2], W[..., 0, 2] - W[..., 2, 0], W[..., 1, 0] - W[..., 0, 1]],
        dim=-1,
    )


def _coefficients(theta2: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """A, B, C of the module docstring as functions of theta^2, stable at 0."""
    small = theta2 < _SMALL**2
    t2 = theta2
    a_taylor = 1 - t2 / 6 * (1 - t2 / 20 * (1 - t2 / 42 * (1 - t2 / 72)))
    b_taylor = 0.5 * (1 - t2 / 12 * (1 - t2 / 30 * (1 - t2 / 56 * (1 - t2 / 90))))
    c_taylor = (1 - t2 / 20 * (1 - t2 / 42 * (1 - t2 / 72 * (1 - t2 / 110)))) / 6
    # The closed forms see theta = 1 in the small branch so their gradients stay finite.
    theta = torch.sqrt(torch.where(small, torch.ones_like(t2), t2))
    a_closed = torch.sin(theta) / theta
    b_closed = 2 * torch.sin(theta / 2) ** 2 / theta**2  # 1 - cos without cancellation
    c_closed = (theta - torch.sin(theta)) / theta**3
    return (
        torch.where(small, a_taylor, a_closed),
        torch.where(small, b_taylor, b_closed),
        torch.where(small, c_taylor, c_closed),
    )


def so3_exp(omega: torch.Tensor) -> torch.Tensor:
    """Rotation vectors to rotation matrices (Rodrigues).

    Args:
        omega: (..., 3) axis * angle (radians).

    Returns:
        (..., 3, 3) rotation matrices.
    """
    W = hat(omega)
    A, B, _ = _coefficients((omega * omega).sum(-1))
    eye = torch.eye(3, dtype=omega.dtype, device=omega.device)
    return eye + A[..., None, None] * W + B[..., None, None] * (W @ W)


def so3_log(R: torch.Tensor) -> torch.Tensor:
    """Rotation matrices to rotation vectors with angle in [0, pi].

    Args:
        R: (..., 3, 3) rotation matrices.

    Returns:
        (..., 3) axis * angle. At exactly pi the sign of the axis is arbitrary.
    """
    v = vee(R)  # = sin(theta) * axis
    s2 = (v * v).sum(-1)
    c = (R.diagonal(dim1=-2, dim2=-1).sum(-1) - 1) / 2
    small = (s2 < _SMALL**2) & (c > 0)
    near_pi = c < _NEAR_PI_COS

    # Small angles: theta / sin(theta) = asin(s) / s as a series in s^2.
    f_small = 1 + s2 * (1 / 6 + s2 * (3 / 40 + s2 * (5 / 112 + s2 * (35 / 1152 + s2 * 63 / 2816))))
    # General case: theta = atan2(s, c); s is replaced by 1 where unused to keep grads finite.
    s_safe = torch.sqrt(torch.where(small | near_pi, torch.ones_like(s2), s2))
    theta = torch.atan2(s_safe, c)
    f_general = theta / s_safe
    omega = v * torch.where(small, f_small, f_general)[..., None]

    # Near pi: R + R^T = 2 c I + 2 (1 - c) n n^T; take the column with the largest diagonal.
    eye = torch.eye(3, dtype=R.dtype, device=R.device)
    one_minus_c = torch.where(near_pi, 1 - c, torch.ones_like(c))
    nnT = (R + R.transpose(-1, -2) - 2 * c[..., None, None] * eye) / (
        2 * one_minus_c[..., None, None]
    )
    diag = nnT.diagonal(dim1=-2, dim2=-1)
    k = diag.argmax(-1, keepdim=True)
    col = torch.gather(nnT, -1, k[..., None, :].expand(*nnT.shape[:-1], 1)).squeeze(-1)
    dk = torch.gather(diag, -1, k).clamp_min(1e-12)
    axis = col / torch.sqrt(dk)
    sign = torch.where((axis * v).sum(-1, keepdim=True) < 0, -1.0, 1.0).to(R.dtype)
    theta_pi = torch.atan2(torch.sqrt(s2 + (~near_pi).to(R.dtype)), c)
    omega_pi = sign * axis * theta_pi[..., None]
    return torch.where(near_pi[..., None], omega_pi, omega)


def se3_exp(xi: torch.Tensor) -> torch.Tensor:
    """Twists to rigid transforms.

    Args:
        xi: (..., 6) twists ``(rho, omega)``, translation part first.

    Returns:
        (..., 4, 4) transforms ``[[exp(W), V rho], [0, 1]]``.
    """
    rho, omega = xi[..., :3], xi[..., 3:]
    W = hat(omega)
    W2 = W @ W
    A, B, C = _coefficients((omega * omega).sum(-1))
    eye = torch.eye(3, dtype=xi.dtype, device=xi.device)
    R = eye + A[..., None, None] * W + B[..., None, None] * W2
    V = eye + B[..., None, None] * W + C[..., None, None] * W2
    t = (V @ rho[..., None])[..., 0]
    top = torch.cat([R, t[..., None]], dim=-1)
    bottom = torch.zeros(*xi.shape[:-1], 1, 4, dtype=xi.dtype, device=xi.device)
    bottom[..., 0, 3] = 1
    return torch.cat([top, bottom], dim=-2)


def se3_log(T: torch.Tensor) -> torch.Tensor:
    """Rigid transforms to twists (rotation angle in [0, pi]).

    Uses ``V^-1 = I - W / 2 + D W^2`` with ``D = (1 - (theta / 2) cot(theta / 2)) / theta^2``.

    Args:
        T: (..., 4, 4) rigid transforms.

    Returns:
        (..., 6) twists ``(rho, omega)``.
    """
    omega = so3_log(T[..., :3, :3])
    W = hat(omega)
    theta2 = (omega * omega).sum(-1)
    small = theta2 < _SMALL**2
    d_taylor = 1 / 12 + theta2 * (1 / 720 + theta2 * (1 / 30240 + theta2 / 1209600))
    theta = torch.sqrt(torch.where(small, torch.ones_like(theta2), theta2))
    half = theta / 2
    d_closed = (1 - half * torch.cos(half) / torch.sin(half)) / theta**2
    D = torch.where(small, d_taylor, d_closed)
    eye = torch.eye(3, dtype=T.dtype, device=T.device)
    V_inv = eye - 0.5 * W + D[..., None, None] * (W @ W)
    rho = (V_inv @ T[..., :3, 3:4])[..., 0]
    return torch.cat([rho, omega], dim=-1)


def random_rotation_vectors(
    n: int, *, max_angle: float = math.pi, generator: torch.Generator | None = None
) -> torch.Tensor:
    """(n, 3) float64 rotation vectors with uniform axes and angles uniform in [0, max_angle)."""
    axis = torch.randn(n, 3, dtype=torch.float64, generator=generator)
    axis = axis / torch.linalg.norm(axis, dim=-1, keepdim=True)
    angle = torch.rand(n, 1, dtype=torch.float64, generator=generator) * max_angle
    return axis * angle
