"""Building: reproducible layers, image configs, per-platform manifests and the index."""
