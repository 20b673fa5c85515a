"""Model commands: publish a run as the default, undo it, build and search ensembles."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from fer_core.cli.common import labelled_dataset, positive_int, print_json
from fer_core.evaluation.metrics import predict_probabilities, probabilities_by_mode
from fer_core.evaluation.significance import format_p_value
from fer_core.files import read_metrics
from fer_core.nets.classifiers import FastClassifier, load_classifier
from fer_core.nets.decision import DecisionRule, choose_tau, class_prior, read_rule
from fer_core.nets.ensemble import compare_subsets, member_model_path
from fer_core.nets.publish import (
    describe_published,
    previous_default_dir,
    publish_ensemble,
    publish_run,
    record_decision_rule,
    restore_previous_default,
)
from fer_core.paths import DEFAULT_MODEL_DIR, DEFAULT_MODEL_PATH
from fer_core.training.config import portable_path
from fer_core.training.runs import resolve_run_dir


def register(sub: argparse._SubParsersAction) -> None:
    """Add the nets commands to ``python -m fer_core``."""
    publish = sub.add_parser("publish", help="make a run's best model the app's default (lean .keras + verified TFLite)")
    publish.set_defaults(handler=_publish)
    publish.add_argument("run", help="run id or folder")
    publish.add_argument("--target", help=argparse.SUPPRESS)
    rule = sub.add_parser("decision-rule", help="give a published model (one published before decision rules) its balanced decision rule")
    rule.set_defaults(handler=_decision_rule)
    rule.add_argument("--data", required=True, help="the dataset it was trained on: its Training split gives the class prior")
    rule.add_argument("--split", default="PublicTest", help="the validation split tau is chosen on (never a test split)")
    rule.add_argument("--target", help=argparse.SUPPRESS)
    restore = sub.add_parser("restore-default", help="put back the default model that the last publish replaced (again: undo)")
    restore.set_defaults(handler=_restore_default)
    restore.add_argument("--target", help=argparse.SUPPRESS)

    ensemble = sub.add_parser("ensemble", help="average several trained models into one and make it the app's default")
    ensemble.set_defaults(handler=_ensemble)
    ensemble.add_argument("members", nargs="+", metavar="MEMBER", help="run ids/folders (their best.keras) or .keras files")
    ensemble.add_argument("--data", required=True, help="dataset to score the members and the ensemble on")
    ensemble.add_argument("--split", default="PublicTest", help="the selection split (never the independent test split)")
    ensemble.add_argument("--target", help=argparse.SUPPRESS)

    search = sub.add_parser("ensemble-search", help="score every subset of candidate models averaged (plain and flip TTA)")
    search.set_defaults(handler=_ensemble_search)
    search.add_argument("models", nargs="+", metavar="MODEL", help="run ids/folders (their best.keras) or .keras files")
    search.add_argument("--data", required=True, help="dataset to score on")
    search.add_argument("--split", default="PublicTest", help="the selection split (never the independent test split)")
    search.add_argument("--top", type=positive_int, default=15, help="how many subsets to print")
    search.add_argument("--against", metavar="MODEL", help="the model a subset has to beat, each answering by its balanced rule "
                        "as Live does (default: the app's default model; 'none': no comparison)")
    search.add_argument("--json", action="store_true")


def _publish(args: argparse.Namespace) -> int:
    run_dir = resolve_run_dir(args.run)
    target = publish_run(run_dir, Path(args.target) if args.target else DEFAULT_MODEL_DIR)
    print(f"published {run_dir.name} to {target}")
    _say_where_the_replaced_default_is(target)
    return 0


def _decision_rule(args: argparse.Namespace) -> int:
    target = Path(args.target) if args.target else DEFAULT_MODEL_DIR
    entry = record_decision_rule(target, args.data, args.split)
    raw, balanced = entry["raw"], entry["balanced"]
    print(f"{target}: tau {entry['tau']:g} chosen on {args.split} ({entry['n']} faces, flip TTA): accuracy "
          f"{raw['accuracy']:.4f} -> {balanced['accuracy']:.4f}, mean per-class recall {raw['mean_recall']:.4f} -> {balanced['mean_recall']:.4f}")
    return 0


def _restore_default(args: argparse.Namespace) -> int:
    target = restore_previous_default(Path(args.target) if args.target else DEFAULT_MODEL_DIR)
    print(f"restored the earlier default model ({describe_published(target)}); "
          f"the one it replaced ({describe_published(previous_default_dir(target))}) is kept in its place")
    return 0


def _ensemble(args: argparse.Namespace) -> int:
    dataset = labelled_dataset(args.data)
    rows = dataset.split(args.split)
    fitted = dataset.split("Training") if "Training" in dataset.split_names and args.split != "Training" else None
    training = (fitted.images, fitted.labels) if fitted is not None else None
    target = publish_ensemble(args.members, args.data, Path(args.target) if args.target else DEFAULT_MODEL_DIR,
                              (rows.images, rows.labels), args.split, training)
    metrics = read_metrics(target)
    alone = ", ".join(f"{m['accuracy']:.4f}" for m in json.loads((target / "ensemble.json").read_text()))
    print(f"published an ensemble of {len(args.members)} models to {target}: {args.split} accuracy "
          f"{metrics['accuracy_no_tta']:.4f} ({metrics['accuracy_tta']:.4f} with flip TTA, {metrics['accuracy_flip_zoom_tta']:.4f} "
          f"flip-zoom); members alone {alone}")
    _say_where_the_replaced_default_is(target)
    return 0


def _ensemble_search(args: argparse.Namespace) -> int:
    dataset = labelled_dataset(args.data)
    rows = dataset.split(args.split)
    prior = class_prior(dataset.split("Training").labels) if "Training" in dataset.split_names and args.split != "Training" else None
    probabilities, parameters = {}, {}
    for source in args.models:
        path = member_model_path(source)
        model = load_classifier(path)
        name = portable_path(str(path))
        probabilities[name] = probabilities_by_mode(FastClassifier(model), rows.images)
        parameters[name] = model.count_params()
    against = _reference_model(args.against)
    reference = _live_answers(against, rows.images, rows.labels, prior) if against else None
    ranked = compare_subsets(probabilities, rows.labels, prior=prior, reference=reference)
    for row in ranked:
        row["parameters"] = sum(parameters[name] for name in row["members"])
    if args.json:
        print_json({"split": args.split, "n": len(rows.labels), "compared": len(ranked),
                    "against": portable_path(str(against)) if against else None, "subsets": ranked})
        return 0
    print(f"{len(ranked)} subsets compared on {args.split} ({len(rows.labels)} faces); best first "
          f"(the best of many is a little flattered). A face costs one pass per member, two with flip TTA, six with flip-zoom. "
          f"p: exact McNemar test of each subset against the best with flip TTA (under 0.05: the gap is unlikely to be chance).")
    if prior is not None:
        print("balanced: flip TTA answered by the rule publish would record (tau chosen for mean per-class recall), as Live answers.")
    if against:
        print(f"vs {portable_path(str(against))}: faces right only for the subset against only for it, each answering as Live does, "
              "and McNemar's p: a new default has to win this.")
    labels = {name: Path(name).parent.name if Path(name).name == "best.keras" else name for name in probabilities}
    for row in ranked[: args.top]:
        balanced = row.get("balanced")
        versus = row.get("vs_reference")
        print(f"  {row['accuracy']:.4f} plain  {row['accuracy_tta']:.4f} flip  {row['accuracy_flip_zoom_tta']:.4f} flip-zoom  "
              f"p={row['p_vs_best']:<6.3g}  "
              + (f"{balanced['accuracy']:.4f} balanced (tau {balanced['tau']:.1f}, recall {balanced['mean_recall']:.4f})  " if balanced else "")
              + (f"{versus['only_subset']} vs {versus['only_reference']}, p={format_p_value(versus['p'])}  " if versus else "")
              + f"{row['parameters'] / 1e6:5.2f} M params  "
              + " + ".join(labels[name] for name in row["members"]))
    return 0


def _reference_model(against: str | None) -> Path | None:
    """The model named by ``--against``: the app's default unless told otherwise, none for 'none'
    (or when no default has been published)."""
    if against == "none":
        return None
    if against is None:
        return DEFAULT_MODEL_PATH if DEFAULT_MODEL_PATH.is_file() else None
    return member_model_path(against)


def _live_answers(model_path: Path, images: np.ndarray, labels: np.ndarray, prior: tuple[float, ...] | None) -> np.ndarray:
    """A model's answers as Live gives them: flip TTA by its recorded rule, or, for a model
    without one (a run's best.keras), by the rule publish would record for it."""
    probabilities = predict_probabilities(load_classifier(model_path), images, tta="flip")
    rule = read_rule(model_path.parent)
    if rule is None and prior is not None:
        rule = DecisionRule(prior, choose_tau(probabilities, labels, prior)[0])
    return (rule.adjust(probabilities) if rule else probabilities).argmax(axis=1)


def _say_where_the_replaced_default_is(target: Path) -> None:
    previous = previous_default_dir(target)
    if previous.is_dir():
        print(f"the default it replaced ({describe_published(previous)}) is kept in {previous}; "
              "`python -m fer_core restore-default` puts it back")
