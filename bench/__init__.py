"""Benchmarks run by `make bench`: each module measures our path against a baseline in the same run."""
