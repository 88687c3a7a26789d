"""omnihook's benchmark: webhook throughput, latency, isolation and backlog beside two baselines.

Run it with `make bench` (or `python -m bench --help`); see bench/README.md.
"""
