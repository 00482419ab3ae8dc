"""Geometry: SO(3)/SE(3) exp and log, rigid/similarity alignment, ICP, Chamfer
distances and area-weighted surface sampling. Import the submodules explicitly."""
