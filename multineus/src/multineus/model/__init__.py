"""Networks of Multi-NeuS: encodings, scene-aware linear maps, SDF/colour MLPs, cameras."""
