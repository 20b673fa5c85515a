"""Datasets: loading every FER2013 layout, finding one, statistics, decoding uploads."""
