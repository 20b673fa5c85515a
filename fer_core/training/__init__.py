"""Training runs: configuration, the loop, run folders, weight averaging, lineage, glimpses."""
