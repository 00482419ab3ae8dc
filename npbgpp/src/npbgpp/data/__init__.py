"""Scenes for NPBG++: the in-memory scene, real-format loaders and the embedded generator."""
