"""NPBG++ networks: alignment, feature extractor, aggregation, refiner, the full pipeline."""
