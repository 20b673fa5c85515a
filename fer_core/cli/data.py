"""Dataset commands: summarise a dataset, time its parse."""

from __future__ import annotations

import argparse
import os

from fer_core.cli.common import print_json
from fer_core.data.loading import load_dataset
from fer_core.data.stats import dataset_summary


def register(sub: argparse._SubParsersAction) -> None:
    """Add the data commands to ``python -m fer_core``."""
    info = sub.add_parser("info", help="summarise a dataset: rows per split and class, duplicates")
    info.set_defaults(handler=_info)
    info.add_argument("path")
    info.add_argument("--json", action="store_true")

    bench_data = sub.add_parser("bench-data", help="time a cold parse and a cached load of a dataset")
    bench_data.set_defaults(handler=_bench_data)
    bench_data.add_argument("path")
    bench_data.add_argument("--json", action="store_true")



def _info(args: argparse.Namespace) -> int:
    summary = dataset_summary(load_dataset(args.path))
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
    return 0


def _bench_data(args: argparse.Namespace) -> int:
    import tempfile
    import time

    with tempfile.TemporaryDirectory() as cache:
        os.environ["FER_CACHE_DIR"] = cache  # a fresh cache, so 'cold' really parses
        start = time.perf_counter()
        dataset = load_dataset(args.path)
        cold = time.perf_counter() - start
        start = time.perf_counter()
        load_dataset(args.path)
        cached = time.perf_counter() - start
    result = {"path": str(args.path), "rows": len(dataset), "cold_s": round(cold, 3), "cached_s": round(cached, 3)}
    print_json(result) if args.json else print(f"{result['rows']} rows: cold parse {cold:.2f} s, cached load {cached:.3f} s")
    return 0
