"""Dataset commands: summarise a dataset, time its parse."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from fer_core.cli.common import print_json
from fer_core.data.ferplus import load_votes_for, votes_for
from fer_core.data.loading import load_dataset
from fer_core.data.stats import dataset_summary, ferplus_summary
from fer_core.errors import FerError


def register(sub: argparse._SubParsersAction) -> None:
    """Add the data commands to ``python -m fer_core``."""
    info = sub.add_parser("info", help="summarise a dataset: rows per split and class, duplicates")
    info.set_defaults(handler=_info)
    info.add_argument("path")
    info.add_argument("--ferplus", metavar="VOTES", help="FER+ votes to join (default: the first of FERPLUS_PATH, data/, the shipped file that fits)")
    info.add_argument("--json", action="store_true")

    bench_data = sub.add_parser("bench-data", help="time a cold parse and a cached load of a dataset")
    bench_data.set_defaults(handler=_bench_data)
    bench_data.add_argument("path")
    bench_data.add_argument("--no-baseline", action="store_true", help="skip the naive pandas parse (slow: seconds per 100 MB)")
    bench_data.add_argument("--json", action="store_true")


def _info(args: argparse.Namespace) -> int:
    dataset = load_dataset(args.path)
    summary = dataset_summary(dataset)
    votes = load_votes_for(args.ferplus, dataset.usage) if args.ferplus else votes_for(dataset.usage)[0]
    if votes is not None:
        summary["ferplus"] = ferplus_summary(votes, dataset.labels)
    if args.json:
        print_json(summary)
        return 0
    print(f"{summary['source']}: {summary['rows']} faces, labels: {'yes' if summary['labelled'] else 'no'}")
    for split, counts in summary["splits"].items():
        per_class = ", ".join(f"{name} {count}" for name, count in counts["per_class"].items())
        print(f"  {split}: {counts['rows']} ({per_class})")
    duplicates = summary["duplicates"]
    print(f"  exact duplicate images: {duplicates['within_splits']} within splits, {duplicates['across_splits']} across splits; "
          f"blank images (one grey level): {duplicates['blank_images']}")
    if "ferplus" in summary:
        crowd = summary["ferplus"]
        agreement = f"; FER's label is the crowd's majority on {crowd['agreement']:.1%} of them" if crowd.get("agreement") is not None else ""
        print(f"  FER+ ({Path(votes.source).name}): {crowd['with_votes']} faces with votes, {crowd['with_majority']} with a majority"
              f"{agreement}; mostly contempt {crowd['mostly_contempt']}, unknown {crowd['mostly_unknown']}, "
              f"not a face {crowd['mostly_not_a_face']}; ties {crowd['ties']}")
    return 0


def _bench_data(args: argparse.Namespace) -> int:
    import statistics
    import tempfile
    import time

    with tempfile.TemporaryDirectory() as cache:
        os.environ["FER_CACHE_DIR"] = cache  # a fresh cache, so 'cold' really parses
        start = time.perf_counter()
        dataset = load_dataset(args.path)
        cold = time.perf_counter() - start
        loads = []
        for _ in range(5):  # the median: a first read of fresh memory is sometimes several times slower
            start = time.perf_counter()
            load_dataset(args.path)
            loads.append(time.perf_counter() - start)
        cached = statistics.median(loads)
    result = {"path": str(args.path), "rows": len(dataset), "cold_s": round(cold, 4), "cached_s": round(cached, 5)}
    if not args.no_baseline:
        result["naive_pandas_s"] = round(naive_parse_seconds(args.path), 4)
    if args.json:
        print_json(result)
    else:
        naive = f" (naive pandas: {result['naive_pandas_s']:.2f} s)" if "naive_pandas_s" in result else ""
        print(f"{result['rows']} rows: cold parse {cold:.2f} s{naive}, cached load {cached:.3f} s")
    return 0


def naive_parse_seconds(path: str) -> float:
    """What most FER2013 notebooks do, for comparison: pandas reads the CSV and each pixel string
    is split and converted in Python. Plain or gzipped CSV files only."""
    import time

    import numpy as np
    import pandas as pd

    start = time.perf_counter()
    frame = pd.read_csv(path)
    pixels = next((column for column in frame.columns if column.strip().lower() == "pixels"), None)
    if pixels is None:
        raise FerError(f"{path}: the naive baseline needs a CSV with a pixels column (use --no-baseline)")
    np.stack([np.array(text.split(), dtype=np.uint8) for text in frame[pixels]])
    return time.perf_counter() - start
