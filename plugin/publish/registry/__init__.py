"""Publishing to an OCI registry over the distribution API."""
