"""Cameras: the pinhole model, conventions, rays, rigs and dataset readers.

Import the submodules explicitly (``from shared_utils.cameras.rays import camera_rays``);
only the two core types are re-exported here.
"""

from shared_utils.cameras.pinhole import PinholeCamera
from shared_utils.cameras.viewset import CameraFormatError, ViewSet

__all__ = ["CameraFormatError", "PinholeCamera", "ViewSet"]
