"""SO(3) / SE(3) exponential and logarithm maps."""

from __future__ import annotations

import math

import pytest
import torch
from scipy.spatial.transform import Rotation

from shared_utils.geometry.lie import (
    hat,
    random_rotation_vectors,
    se3_exp,
    se3_log,
    so3_exp,
    so3_log,
    vee,
)


def _gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _twist_matrix(xi: torch.Tensor) -> torch.Tensor:
    out = torch.zeros(*xi.shape[:-1], 4, 4, dtype=xi.dtype)
    out[..., :3, :3] = hat(xi[..., 3:])
    out[..., :3, 3] = xi[..., :3]
    return out


def test_hat_vee() -> None:
    a, b = torch.randn(2, 5, 3, dtype=torch.float64, generator=_gen(0))
    torch.testing.assert_close((hat(a) @ b[..., None])[..., 0], torch.linalg.cross(a, b))
    torch.testing.assert_close(vee(hat(a)), a)


def test_so3_exp_matches_scipy_and_matrix_exp() -> None:
    omega = random_rotation_vectors(64, generator=_gen(1))
    R = so3_exp(omega)
    torch.testing.assert_close(R, torch.as_tensor(Rotation.from_rotvec(omega.numpy()).as_matrix()))
    torch.testing.assert_close(R, torch.linalg.matrix_exp(hat(omega)))


@pytest.mark.parametrize("max_angle", [math.pi * 0.999, 0.3, 1e-3, 1e-8])
def test_so3_log_inverts_exp(max_angle: float) -> None:
    omega = random_rotation_vectors(256, max_angle=max_angle, generator=_gen(2))
    back = so3_log(so3_exp(omega))
    torch.testing.assert_close(back, omega, atol=1e-12, rtol=1e-9)


def test_so3_log_near_and_at_pi() -> None:
    axis = torch.nn.functional.normalize(
        torch.randn(16, 3, dtype=torch.float64, generator=_gen(3)), dim=-1
    )
    for angle in (math.pi - 1e-3, math.pi - 1e-6, math.pi - 1e-9):
        omega = axis * angle
        torch.testing.assert_close(so3_log(so3_exp(omega)), omega, atol=1e-7, rtol=0)
    # Exactly pi: the sign of the axis is free, the rotation must be reproduced.
    R = so3_exp(axis * math.pi)
    back = so3_log(R)
    torch.testing.assert_close(back.norm(dim=-1), torch.full((16,), math.pi, dtype=torch.float64))
    torch.testing.assert_close(so3_exp(back), R, atol=1e-10, rtol=0)


def test_so3_identity() -> None:
    torch.testing.assert_close(
        so3_log(torch.eye(3, dtype=torch.float64)), torch.zeros(3, dtype=torch.float64)
    )
    torch.testing.assert_close(so3_exp(torch.zeros(2, 3)), torch.eye(3).expand(2, 3, 3))


@pytest.mark.parametrize("max_angle", [math.pi * 0.999, 0.05, 1e-7])
def test_se3_exp_matches_matrix_exp_and_log_inverts(max_angle: float) -> None:
    g = _gen(4)
    xi = torch.cat(
        [
            torch.randn(128, 3, dtype=torch.float64, generator=g),
            random_rotation_vectors(128, max_angle=max_angle, generator=g),
        ],
        dim=-1,
    )
    T = se3_exp(xi)
    torch.testing.assert_close(
        T, torch.linalg.matrix_exp(_twist_matrix(xi)), atol=1e-12, rtol=1e-10
    )
    torch.testing.assert_close(se3_log(T), xi, atol=1e-10, rtol=1e-9)


def test_se3_batch_shapes_and_float32() -> None:
    xi = torch.randn(2, 3, 6, generator=_gen(5))
    T = se3_exp(xi)
    assert T.shape == (2, 3, 4, 4) and T.dtype == torch.float32
    torch.testing.assert_close(T[..., 3, :], torch.tensor([0.0, 0.0, 0.0, 1.0]).expand(2, 3, 4))
    torch.testing.assert_close(se3_log(T), xi, atol=1e-4, rtol=1e-4)


def test_gradients_finite_at_zero() -> None:
    xi = torch.zeros(4, 6, dtype=torch.float64, requires_grad=True)
    (se3_exp(xi) * torch.randn(4, 4, 4, dtype=torch.float64, generator=_gen(6))).sum().backward()
    assert xi.grad is not None and torch.isfinite(xi.grad).all()
    # d exp(xi) / d xi at 0 is the twist generator: check against the analytic value.
    xi0 = torch.zeros(6, dtype=torch.float64, requires_grad=True)
    J = torch.autograd.functional.jacobian(se3_exp, xi0)
    basis = _twist_matrix(torch.eye(6, dtype=torch.float64))
    torch.testing.assert_close(J.permute(2, 0, 1), basis)

    T = torch.eye(4, dtype=torch.float64).repeat(3, 1, 1).requires_grad_(True)
    se3_log(T).sum().backward()
    assert T.grad is not None and torch.isfinite(T.grad).all()
    omega = torch.zeros(3, 3, dtype=torch.float64, requires_grad=True)
    so3_log(so3_exp(omega)).sum().backward()
    assert omega.grad is not None
    torch.testing.assert_close(omega.grad, torch.ones(3, 3, dtype=torch.float64))


def test_gradcheck_away_from_singularities() -> None:
    g = _gen(7)
    xi = torch.cat(
        [
            torch.randn(3, 3, dtype=torch.float64, generator=g),
            random_rotation_vectors(3, max_angle=2.5, generator=g),
        ],
        -1,
    )
    xi[0, 3:] *= 1e-3  # one in the Taylor branch
    xi.requires_grad_(True)
    assert torch.autograd.gradcheck(se3_exp, (xi,))
    T = se3_exp(xi.detach()).requires_grad_(True)
    assert torch.autograd.gradcheck(se3_log, (T,))
