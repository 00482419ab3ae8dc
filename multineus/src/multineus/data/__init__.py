"""Data: the embedded procedural heads and loaders of multi-view scenes."""
