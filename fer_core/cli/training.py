"""Training commands: start or resume a run, list runs, cancel one, pack a stopped one for a commit."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from fer_core.cli.common import print_json
from fer_core.errors import FerError
from fer_core.nets.architectures import ARCHITECTURES
from fer_core.nets.ensemble import member_model_path
from fer_core.training.carry_over import halve_run_state
from fer_core.training.config import LABEL_KINDS, OPTIMISERS, PRECISIONS, SCHEDULES, TrainConfig
from fer_core.training.loop import train_run
from fer_core.training.multi_worker import Cluster, cluster_from_tf_config, parse_cluster, worker_dir
from fer_core.training.runs import (
    ACTIVE_STATES,
    acquire_training_lock,
    create_locked_run,
    create_worker_run,
    list_runs,
    read_status,
    request_cancel,
    resolve_run_dir,
    run_dir_for,
    switch_precision,
    wait_until_stopped,
)


def register(sub: argparse._SubParsersAction) -> None:
    """Add the training commands to ``python -m fer_core``."""
    defaults = TrainConfig()
    train = sub.add_parser("train", help="train a model (a new run, or --resume an old one)")
    train.set_defaults(handler=_train)
    train.add_argument("--data", help="dataset path (fer2013.csv, train.csv, .zip, image folder ...)")
    train.add_argument("--arch", default=defaults.arch, choices=sorted(ARCHITECTURES))
    train.add_argument("--epochs", type=int, default=defaults.epochs)
    train.add_argument("--batch-size", type=int, default=defaults.batch_size)
    train.add_argument("--optimiser", default=defaults.optimiser, choices=OPTIMISERS)
    train.add_argument("--lr", type=float, default=defaults.learning_rate)
    train.add_argument("--label-smoothing", type=float, default=defaults.label_smoothing)
    train.add_argument("--dropout", type=float, default=None, help="head dropout (default: the config default)")
    train.add_argument("--no-augment", action="store_true")
    train.add_argument("--erasing", type=float, default=defaults.erasing,
                       help="share of training faces that get a random patch blanked (random erasing; default off)")
    train.add_argument("--mixup", type=float, default=defaults.mixup, metavar="ALPHA",
                       help="train on blends of two faces and of their targets, each face's share drawn from "
                            "Beta(ALPHA, ALPHA), at least half (mixup; 0.2 is usual; default off)")
    train.add_argument("--class-weighting", action="store_true")
    train.add_argument("--seed", type=int, default=defaults.seed)
    train.add_argument("--sample-per-class", type=int, default=0, help="train on N faces per class (quick demos)")
    train.add_argument("--init-from", metavar="MODEL", help="start from this .keras model's weights (fine-tune / continue elsewhere)")
    train.add_argument("--precision", choices=PRECISIONS,
                       help="bfloat16: mixed precision, ~1.3x faster on CPUs with AVX512-BF16 or AMX (the saved model is float32); "
                            "with --resume, switches the run to it from the next epoch (default: float32, or the run's own)")
    train.add_argument("--teacher", nargs="+", default=[], metavar="MODEL",
                       help="distil these models (run ids/folders or .keras files, an ensemble too): their averaged "
                            "flip-TTA predictions on the training faces become part of the targets")
    train.add_argument("--labels", default=defaults.labels, choices=LABEL_KINDS,
                       help="fer: FER2013's labels; ferplus-majority: the FER+ crowd's majority; ferplus-votes: its vote shares "
                            "as soft targets (faces without a FER+ label keep their FER label)")
    train.add_argument("--ferplus", metavar="VOTES", help="FER+ votes file for --labels ferplus-* (default: FERPLUS_PATH, data/, the shipped file)")
    train.add_argument("--crowd-share", type=float, default=defaults.crowd_share, metavar="SHARE",
                       help="with --labels ferplus-*: the crowd's share of each target, the rest FER2013's label (default %(default)s)")
    train.add_argument("--teacher-weight", type=float, default=defaults.teacher_weight,
                       help="the teachers' share of the targets, the rest the labels (default %(default)s)")
    train.add_argument("--schedule", default=defaults.schedule, choices=SCHEDULES,
                       help="learning rate: cosine decay after a one-epoch warm-up (default), or constant")
    train.add_argument("--swa-epochs", type=int, default=defaults.swa_epochs, metavar="N",
                       help="average the weights of the last N epochs (stochastic weight averaging; default off)")
    train.add_argument("--name", default="", help="a label added to the run id")
    train.add_argument("--out", help="runs folder (default models/runs)")
    train.add_argument("--resume", metavar="RUN_DIR", help="continue a cancelled/interrupted run from its last checkpoint")
    train.add_argument("--run", metavar="RUN_DIR", help=argparse.SUPPRESS)  # a prepared folder, used by the app
    train.add_argument("--workers", metavar="HOST:PORT,...",
                       help="train on several machines (TensorFlow's MultiWorkerMirroredStrategy): every worker's address, chief "
                            "first; run the same command on each with its --worker-index (TF_CONFIG works too). The run "
                            "folder is <out>/<name>, so --name is needed; --batch-size is the global batch")
    train.add_argument("--worker-index", type=int, metavar="N", help="this machine's place in --workers (0: the chief, which writes the run folder)")

    runs = sub.add_parser("runs", help="list training runs with state and best accuracy")
    runs.set_defaults(handler=_runs)
    runs.add_argument("--out", help="runs folder (default models/runs)")
    runs.add_argument("--json", action="store_true")

    cancel = sub.add_parser("cancel", help="ask a training run to stop")
    cancel.set_defaults(handler=_cancel)
    cancel.add_argument("run", help="run id or folder")
    cancel.add_argument("--after-epoch", action="store_true",
                        help="let the epoch in progress finish and be saved first (what a sitting that carries a route wants)")
    cancel.add_argument("--wait", action="store_true", help="return only once the training process has ended (then pack it)")

    pack = sub.add_parser("pack", help="store a stopped run's checkpoint and best model in float16, to commit it under models/wip/")
    pack.set_defaults(handler=_pack)
    pack.add_argument("run", help="run id or folder")


def _train(args: argparse.Namespace) -> int:
    cluster = _cluster(args)
    if cluster is not None:
        return _train_worker(args, cluster)
    if args.resume or args.run:
        run_dir = resolve_run_dir(args.resume or args.run)
        if workers := TrainConfig.load(run_dir / "config.json").workers:
            raise FerError(f"{run_dir.name} trains on {len(workers)} workers: resume it with --workers {','.join(workers)} "
                           "--worker-index N on each")
        if args.resume and args.precision:
            switch_precision(run_dir, args.precision)
        state = train_run(run_dir, resume=bool(args.resume))
    else:
        run_dir, lock_fd = create_locked_run(_config(args), name=args.name)  # a refused start creates no folder
        print(f"run folder: {run_dir}", flush=True)
        state = train_run(run_dir, lock_fd=lock_fd)
    print(f"{run_dir.name}: {state}")
    return 0 if state == "finished" else 1


def _cluster(args: argparse.Namespace) -> Cluster | None:
    """The workers from ``--workers``/``--worker-index``, else from a ``TF_CONFIG`` the deployer set;
    None: one machine."""
    if args.workers:
        return parse_cluster(args.workers, args.worker_index)
    if os.environ.get("TF_CONFIG"):
        return cluster_from_tf_config(os.environ["TF_CONFIG"])
    if args.worker_index is not None:
        raise FerError("--worker-index needs --workers (every worker's host:port)")
    return None


def _train_worker(args: argparse.Namespace, cluster: Cluster) -> int:
    """One worker of a multi-worker run: the chief in ``<out>/<name>``, worker i in its ``workers/i``."""
    if args.resume:
        run_dir = Path(args.resume).resolve()
    elif not args.name:
        raise FerError("--workers needs --name: every worker's command must name the same run folder")
    else:
        run_dir = run_dir_for(args.name)
    own = worker_dir(run_dir, cluster.index)
    if args.resume:
        if not (own / "config.json").is_file():
            raise FerError(f"no run of worker {cluster.index} in {own}; start it without --resume")
        config = TrainConfig.load(own / "config.json")
        if list(cluster.workers) != config.workers:
            config.workers = list(cluster.workers)  # the same run on new addresses (machines come back with other names)
            (own / "config.json").write_text(config.to_json())
        if args.precision:
            switch_precision(own, args.precision)
    else:
        config = _config(args)
        config.workers = list(cluster.workers)
        create_worker_run(config, own)
    lock_fd = acquire_training_lock(run_dir.name, root=None if cluster.is_chief else own)
    print(f"worker {cluster.index} of {len(cluster.workers)}: run folder {own}", flush=True)
    state = train_run(own, resume=bool(args.resume), lock_fd=lock_fd, worker_index=cluster.index)
    print(f"{run_dir.name} (worker {cluster.index}): {state}")
    return 0 if state == "finished" else 1


def _config(args: argparse.Namespace) -> TrainConfig:
    """A new run's config from the command line."""
    if not args.data:
        raise FerError("train needs --data PATH (or --resume RUN_DIR)")
    if not Path(args.data).exists():
        raise FerError(f"dataset not found: {args.data}")
    return TrainConfig(
        data=str(Path(args.data).resolve()),
        arch=args.arch,
        epochs=args.epochs,
        batch_size=args.batch_size,
        optimiser=args.optimiser,
        learning_rate=args.lr,
        label_smoothing=args.label_smoothing,
        augment=not args.no_augment,
        class_weighting=args.class_weighting,
        seed=args.seed,
        sample_per_class=args.sample_per_class,
        init_from=str(Path(args.init_from).resolve()) if args.init_from else "",
        precision=args.precision or TrainConfig.precision,
        erasing=args.erasing,
        mixup=args.mixup,
        teachers=[str(member_model_path(teacher).resolve()) for teacher in args.teacher],
        teacher_weight=args.teacher_weight,
        schedule=args.schedule,
        swa_epochs=args.swa_epochs,
        labels=args.labels,
        ferplus=str(Path(args.ferplus).resolve()) if args.ferplus else "",
        crowd_share=args.crowd_share,
        **({"dropout": args.dropout} if args.dropout is not None else {}),
    )


def _runs(args: argparse.Namespace) -> int:
    from dataclasses import asdict

    runs = list_runs()
    if args.json:
        print_json([{**asdict(run), "path": str(run.path)} for run in runs])
        return 0
    if not runs:
        print("no runs yet")
    for run in runs:
        best = f"{run.best_val_accuracy:.4f}" if run.best_val_accuracy is not None else "-"
        tta = "".join(f"  {label} {value:.4f}" for label, value in (("flip", run.flip_accuracy), ("flip-zoom", run.flip_zoom_accuracy))
                      if value is not None)
        print(f"{run.run_id:40s} {run.state:12s} {run.arch:14s} epoch {run.epochs_done}/{run.epochs}  best val acc {best}{tta}")
    return 0


def _cancel(args: argparse.Namespace) -> int:
    run_dir = resolve_run_dir(args.run)
    status = read_status(run_dir)
    if status.get("state") not in ACTIVE_STATES:
        print(f"{run_dir.name} is not training ({status.get('state', 'unknown')}): nothing to stop")
        return 0
    request_cancel(run_dir, after_epoch=args.after_epoch)
    if args.after_epoch:
        print(f"{run_dir.name} stops when epoch {status.get('epoch', 0) + 1} of {status.get('epochs', '?')} has been saved")
    if args.wait:
        print(f"{run_dir.name}: {wait_until_stopped(run_dir)} after epoch {read_status(run_dir).get('epoch', 0)}")
    return 0


def _pack(args: argparse.Namespace) -> int:
    for name, (before, after) in halve_run_state(resolve_run_dir(args.run)).items():
        print(f"{name}: {before / 1e6:.1f} MB -> {after / 1e6:.1f} MB")
    return 0
