"""Compatibility tests: third-party clients against the simulators."""
