"""The whole training configuration as one typed, JSON-serialisable record.

A run folder's ``config.json`` is this dataclass, so any run can be repeated or
resumed from its folder alone.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

from fer_core.errors import FerError
from fer_core.nets.architectures import ARCHITECTURES
from fer_core.paths import REPO_ROOT
from fer_core.training.multi_worker import parse_cluster

OPTIMISERS = ("adam", "adamw", "sgd")
SCHEDULES = ("cosine", "constant")
# "bfloat16": Keras mixed precision (bf16 compute, float32 weights). On this machine's CPU
# (AVX512-BF16) a full VGG epoch took 101-113 s instead of ~140 s; on a CPU without bf16 units it is slower.
PRECISIONS = ("float32", "bfloat16")
LABEL_KINDS = ("fer", "ferplus-majority", "ferplus-votes")  # what the net is taught: see fer_core.data.ferplus.soft_targets


def portable_path(path: str) -> str:
    """A path as seen from the repository root when it lies in or beside it (models/..., ../shared/...)."""

    resolved = Path(path).resolve()
    for base, prefix in ((REPO_ROOT.resolve(), Path()), (REPO_ROOT.parent.resolve(), Path(".."))):
        if resolved.is_relative_to(base):
            return str(prefix / resolved.relative_to(base))
    return path


@dataclass
class TrainConfig:
    data: str = ""  # dataset path (any layout fer_core.data.loading understands)
    arch: str = "vgg"
    epochs: int = 40
    batch_size: int = 128
    optimiser: str = "adamw"
    learning_rate: float = 1e-3
    weight_decay: float = 5e-4
    schedule: str = "cosine"  # cosine decay over all epochs after a one-epoch warm-up
    label_smoothing: float = 0.1
    augment: bool = True
    dropout: float = 0.4
    class_weighting: bool = False
    seed: int = 42
    train_split: str = "Training"
    val_split: str = "PublicTest"
    sample_per_class: int = 0  # >0: a stratified sample of this many faces per class, for demos
    time_limit_minutes: float = 0.0  # >0: cancel the run after this long (public demo mode)
    init_from: str = ""  # a .keras model to start from (fine-tuning, or continuing across machines)
    precision: str = "float32"  # one of PRECISIONS; saved models are float32 either way
    erasing: float = 0.0  # >0: that share of training faces gets a random patch blanked with noise (needs augment)
    mixup: float = 0.0  # >0: train on blends of two faces and their targets, the shares drawn from Beta(mixup, mixup)
    teachers: list[str] = field(default_factory=list)  # .keras models to distil: their averaged predictions become targets
    teacher_weight: float = 0.5  # with teachers: the targets' share from the teachers, the rest from the labels
    swa_epochs: int = 0  # >0: average the weights of the last N epochs (stochastic weight averaging)
    labels: str = "fer"  # one of LABEL_KINDS: FER2013's label, the FER+ crowd's majority, or its vote shares
    ferplus: str = ""  # the FER+ votes file for labels other than 'fer' (empty: FERPLUS_PATH, data/, the shipped file)
    crowd_share: float = 1.0  # with FER+ labels: their share of each target, the rest FER2013's label
    workers: list[str] = field(default_factory=list)  # host:port of every worker of a multi-worker run, chief first

    def validate(self, *, from_checkpoint: bool = False) -> TrainConfig:
        """Refuse impossible settings up front, before a process is started.

        ``from_checkpoint``: a resume that loads the run's own checkpoint never reads ``init_from``, so
        its file may be gone (an earlier stage's weights dropped from ``models/wip/`` to save space).
        """

        problems = []
        if self.arch not in ARCHITECTURES:
            problems.append(f"unknown architecture {self.arch!r} (choose {', '.join(ARCHITECTURES)})")
        if not 1 <= self.epochs <= 1000:
            problems.append("epochs must be between 1 and 1000")
        if not 1 <= self.batch_size <= 4096:
            problems.append("batch size must be between 1 and 4096")
        if not 0 < self.learning_rate < 1:
            problems.append("learning rate must be between 0 and 1")
        if self.optimiser not in OPTIMISERS:
            problems.append(f"optimiser must be one of {', '.join(OPTIMISERS)}")
        if self.precision not in PRECISIONS:
            problems.append(f"precision must be one of {', '.join(PRECISIONS)}")
        if self.schedule not in SCHEDULES:
            problems.append(f"schedule must be one of {', '.join(SCHEDULES)}")
        if not 0 <= self.label_smoothing < 1:
            problems.append("label smoothing must be in [0, 1)")
        if not 0 <= self.dropout < 1:
            problems.append("dropout must be in [0, 1)")
        if not 0 <= self.erasing <= 1:
            problems.append("random erasing must be in [0, 1]")
        if self.erasing and not self.augment:
            # The erasing layer sits in the augmentation block, so it would be recorded but never run.
            problems.append("random erasing needs augmentation (drop --no-augment or --erasing)")
        if self.mixup < 0:
            problems.append("mixup's alpha must be 0 (off) or positive")
        elif self.mixup and self.workers:
            problems.append("mixup feeds each machine its own batches; it does not train on several workers")
        if self.sample_per_class < 0:
            problems.append("sample per class must be 0 (all) or positive")
        if not self.data:
            problems.append("no dataset given")
        if self.init_from and not from_checkpoint and not Path(self.init_from).is_file():
            problems.append(f"model to start from not found: {self.init_from}")
        problems += [f"teacher model not found: {teacher}" for teacher in self.teachers if not Path(teacher).is_file()]
        if not 0 < self.teacher_weight <= 1:
            problems.append("teacher weight must be in (0, 1]")
        if self.labels not in LABEL_KINDS:
            problems.append(f"labels must be one of {', '.join(LABEL_KINDS)}")
        if not 0 < self.crowd_share <= 1:
            problems.append("the crowd's share of the targets must be in (0, 1]")
        elif self.crowd_share < 1 and self.labels == "fer":
            problems.append("a crowd share needs FER+ labels (--labels ferplus-majority or ferplus-votes)")
        if self.ferplus and not Path(self.ferplus).is_file():
            problems.append(f"FER+ votes not found: {self.ferplus}")
        if not 0 <= self.swa_epochs <= self.epochs:
            problems.append("weight-averaged epochs must be between 0 and the number of epochs")
        if self.workers:
            try:
                parse_cluster(",".join(self.workers), 0)
            except FerError as exc:
                problems.append(str(exc))
        if problems:
            raise FerError("invalid training config: " + "; ".join(problems))
        return self

    def command(self) -> str:
        """The ``python -m fer_core train`` line that creates a run with this config."""
        defaults = TrainConfig()
        flags = {"arch": "--arch", "epochs": "--epochs", "batch_size": "--batch-size", "optimiser": "--optimiser",
                 "learning_rate": "--lr", "label_smoothing": "--label-smoothing", "dropout": "--dropout", "seed": "--seed",
                 "sample_per_class": "--sample-per-class", "init_from": "--init-from", "precision": "--precision",
                 "erasing": "--erasing", "mixup": "--mixup", "schedule": "--schedule", "swa_epochs": "--swa-epochs", "labels": "--labels",
                 "ferplus": "--ferplus", "crowd_share": "--crowd-share"}
        parts = ["python -m fer_core train", f"--data {portable_path(self.data)}"]
        for name, flag in flags.items():
            value = getattr(self, name)
            if name in ("arch", "epochs") or value != getattr(defaults, name):
                parts.append(f"{flag} {portable_path(value) if name in ('init_from', 'ferplus') else value}")
        if self.teachers:
            parts.append("--teacher " + " ".join(portable_path(teacher) for teacher in self.teachers))
            parts += [f"--teacher-weight {self.teacher_weight}"] * (self.teacher_weight != defaults.teacher_weight)
        parts += ["--no-augment"] * (not self.augment) + ["--class-weighting"] * self.class_weighting
        parts += [f"--workers {','.join(self.workers)} --worker-index N"] * bool(self.workers)
        return " ".join(parts)

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2)

    @classmethod
    def from_dict(cls, values: dict) -> TrainConfig:
        known = {f.name for f in fields(cls)}
        unknown = set(values) - known
        if unknown:
            raise FerError(f"unknown config keys: {', '.join(sorted(unknown))}")
        return cls(**values)

    @classmethod
    def load(cls, path: Path) -> TrainConfig:
        try:
            return cls.from_dict(json.loads(path.read_text()))
        except (OSError, ValueError, TypeError) as exc:
            raise FerError(f"{path}: not a readable training config ({exc})") from None
