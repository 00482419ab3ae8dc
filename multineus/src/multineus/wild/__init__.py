"""In-the-wild photos: 68-point facial landmarks, canonical 3D landmarks, PnP camera pose."""
