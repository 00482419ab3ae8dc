"""File input/output: atomic writes, images, videos, meshes/point clouds and HDF5.

Import the submodules explicitly, e.g. ``from shared_utils.io.images import read_image``.
"""
