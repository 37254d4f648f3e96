"""Keep pytest away from the benchmarks: they are run by hand and take minutes."""

collect_ignore_glob = ["*.py"]
