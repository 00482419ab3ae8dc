"""Video sources (embedded digits, BAIR TFRecords, frame folders, video files) and latent codes on disk."""
