"""The workspace CI runner (stdlib only): manifest, bootstrap, matrix, demo, release."""
