"""Plain OCI data: digests, platforms, media types, descriptors, manifests and their canonical bytes.

Nothing here performs I/O or imports other plume packages.
"""
