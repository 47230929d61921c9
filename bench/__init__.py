"""A benchmark of plume against daemonless peers on one payload: run `python -m bench --help`.

Its method and its recorded figures are in docs/benchmarks.md.
"""
