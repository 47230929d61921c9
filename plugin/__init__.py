"""plume: build light multi-platform container images and publish one multi-arch tag."""

__version__ = "0.1.0"
