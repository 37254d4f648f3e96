"""Benchmarks run by hand (``python -m tests.benchmarks.flows``); pytest does not collect them."""
