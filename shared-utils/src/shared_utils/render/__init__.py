"""Synthetic scene renderer: textured triangle meshes ray-cast with open3d.

Modules (import them explicitly):

- ``mesh``: ``TexturedMesh`` (per-corner uvs, texture, vertex colours, corner normals), ``concatenate``.
- ``raycast``: ``RaycastScene`` -> ``RayHits`` (float64-refined hit distance, ids, barycentrics, normals).
- ``shading``: bilinear texture lookup, attribute interpolation, Lambert shading.
- ``renderer``: ``render`` (pinhole) and ``render_orthographic`` -> ``RenderOutput``.
- ``procedural``: seeded textures and UV-mapped primitives, ``random_textured_object``.
"""
