"""Per-image camera refinement: an se(3) correction of the extrinsics and focal multipliers.

Image i's corrected camera is ``cam_from_world_i' = exp(xi_i) cam_from_world_i`` with
``xi_i`` (6,) (translation part first, shared_utils order) and focal lengths
``(fx m_i0, fy m_i1)``. Both start at the identity (xi = 0, m = 1) and are optimised
with the network (Multi-NeuS, following BARF-style pose refinement).
"""

from __future__ import annotations

import torch
from torch import nn

from shared_utils.geometry.lie import se3_exp


class CameraRefinement(nn.Module):
    """Learnable corrections of ``num_images`` pinhole cameras."""

    K0: torch.Tensor
    T0: torch.Tensor

    def __init__(
        self, K: torch.Tensor, cam_from_world: torch.Tensor, *, learn: bool = True
    ) -> None:
        """Args: K (V, 3, 3) intrinsics and cam_from_world (V, 4, 4) initial extrinsics."""
        super().__init__()
        if K.dim() != 3 or K.shape[1:] != (3, 3):
            raise ValueError(f"CameraRefinement: K must be (V, 3, 3), got {tuple(K.shape)}")
        if cam_from_world.shape != (K.shape[0], 4, 4):
            raise ValueError(
                f"CameraRefinement: cam_from_world must be ({K.shape[0]}, 4, 4) to match K, "
                f"got {tuple(cam_from_world.shape)}"
            )
        self.register_buffer("K0", K.float().clone())
        self.register_buffer("T0", cam_from_world.float().clone())
        self.xi = nn.Parameter(torch.zeros(K.shape[0], 6), requires_grad=learn)
        self.focal_scale = nn.Parameter(torch.ones(K.shape[0], 2), requires_grad=learn)

    def cam_from_world(self, image: torch.Tensor) -> torch.Tensor:
        """(B,) image ids -> (B, 4, 4) corrected extrinsics."""
        return se3_exp(self.xi[image]) @ self.T0[image]

    def intrinsics(self, image: torch.Tensor) -> torch.Tensor:
        """(B,) image ids -> (B, 3, 3) corrected intrinsics (skew ignored)."""
        K = self.K0[image]
        scale = torch.stack(
            [self.focal_scale[image, 0], self.focal_scale[image, 1], torch.ones_like(K[:, 0, 0])],
            dim=-1,
        )
        # Multiply only the diagonal (fx, fy); cx, cy stay.
        return K * (1.0 + torch.diag_embed(scale - 1.0))

    def rays(self, image: torch.Tensor, uv: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """World rays through pixels, differentiable w.r.t. the corrections.

        Args:
            image: (B,) image index of each pixel.
            uv: (B, 2) pixel positions (x right, y down, centres at +0.5).

        Returns:
            origins (B, 3), unit directions (B, 3).
        """
        K = self.intrinsics(image)
        T = self.cam_from_world(image)
        x = (uv[:, 0] - K[:, 0, 2]) / K[:, 0, 0]
        y = (uv[:, 1] - K[:, 1, 2]) / K[:, 1, 1]
        d_cam = torch.stack([x, y, torch.ones_like(x)], dim=-1)
        Rt = T[:, :3, :3].transpose(1, 2)
        d = (Rt @ d_cam[..., None])[..., 0]
        o = -(Rt @ T[:, :3, 3:])[..., 0]
        return o, d / d.norm(dim=-1, keepdim=True)
