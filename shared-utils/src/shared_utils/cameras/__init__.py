"""Cameras: the pinhole model, conventions, rays, rigs and dataset readers."""

from shared_utils.cameras.pinhole import PinholeCamera

__all__ = ["PinholeCamera"]
