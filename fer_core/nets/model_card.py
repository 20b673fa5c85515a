"""The default model's card, written from its metrics so the numbers cannot drift from the file."""

from __future__ import annotations

import json
from pathlib import Path

from fer_core.evaluation.significance import wilson_interval
from fer_core.files import METRICS, read_metrics
from fer_core.inference.lighting import MOSTLY, SHARE_KEY
from fer_core.labels import CLASS_NAMES
from fer_core.nets.classifiers import FastClassifier, TFLiteClassifier, load_classifier
from fer_core.nets.decision import decision_section
from fer_core.nets.ensemble import ENSEMBLE_FILE
from fer_core.nets.latency import median_ms
from fer_core.nets.live_variants import LATENCY_BUDGET_MS, variant_tta
from fer_core.nets.tta import TTA_LABELS
from fer_core.training.config import portable_path
from fer_core.training.lineage import read_lineage


def _confusion_table(matrix: list[list[int]]) -> str:
    header = "| true \\ predicted | " + " | ".join(CLASS_NAMES) + " |\n|---|" + "---|" * len(CLASS_NAMES)
    rows = [f"| **{name}** | " + " | ".join(str(v) for v in row) + " |" for name, row in zip(CLASS_NAMES, matrix, strict=True)]
    return "\n".join([header, *rows])


def accuracy_table(metrics: dict) -> str:
    """Accuracy per TTA mode with its 95 % Wilson interval (on 3,589 faces a figure is good to
    about ±1.5 points, which readers comparing models need to see beside it), on the faces that
    are not copies of Training faces where there are any (a copy is scored on memory), and its
    expected calibration error, since Live and Photos show the probabilities to people."""
    rows = [("plain", metrics["accuracy_no_tta"], metrics)]
    rows.append(("horizontal-flip TTA", metrics["accuracy_tta"], metrics["tta_report"]))
    if "accuracy_flip_zoom_tta" in metrics:
        rows.append(("flip-zoom TTA (mirror x 0.9/1.0/1.1 zoom, six passes)", metrics["accuracy_flip_zoom_tta"],
                     metrics["flip_zoom_tta_report"]))
    copies = metrics.get("training_copies")
    without = f" without the {copies['faces']:,} faces also in Training |" if copies else ""
    header = f"| | accuracy | 95% interval |{without} macro F1 | calibration error |"
    lines = [header, "|" + "---|" * (header.count("|") - 1)]
    for label, accuracy, report in rows:
        low, high = wilson_interval(round(accuracy * metrics["n"]), metrics["n"])
        fairer = ""
        if copies:
            rest = report["training_copies"]
            fairer = f" {rest['accuracy_without']:.1%} ({rest['accuracy_without_interval'][0]:.1%}–{rest['accuracy_without_interval'][1]:.1%}) |"
        lines.append(f"| {label} | **{accuracy:.2%}** | {low:.1%}–{high:.1%} |{fairer} {report['macro_f1']:.3f} | "
                     f"{report['expected_calibration_error']:.1%} |")
    return "\n".join(lines)


def training_copies_line(metrics: dict) -> str:
    """Why the table has a column without some faces (empty where the split has no such faces)."""
    copies = metrics.get("training_copies")
    if not copies:
        return ""
    return (f"{copies['faces']:,} of these faces are byte-identical copies of Training faces (FER2013's own duplicates), "
            f"which the model learnt: it gets {copies['accuracy_on_them']:.1%} of them right (plain), so the column "
            f"without them, {copies['faces_without']:,} faces, is the fairer figure.\n\n")


def per_class_table(per_class: dict) -> str:
    """Precision, recall (with its 95 % interval: disgust's 56 faces leave it wide), F1, support."""
    lines = ["| class | precision | recall | recall 95% interval | F1 | support |", "|---|---|---|---|---|---|"]
    for name, values in per_class.items():
        low, high = wilson_interval(round(values["recall"] * values["support"]), values["support"])
        lines.append(f"| {name} | {values['precision']:.3f} | {values['recall']:.3f} | {low:.3f}–{high:.3f} | "
                     f"{values['f1']:.3f} | {values['support']} |")
    return "\n".join(lines)


def lighting_line(metrics: dict) -> str:
    """How camera crops are lit for this model, from the share of its dataset's faces that are
    histogram-equalised (``fer_core.inference.lighting`` decides the same way)."""
    share, split = metrics[SHARE_KEY], metrics["split"]
    if share > MOSTLY:
        return (f"{share:.0%} of the {split} faces are already histogram-equalised, so camera and photo crops that are "
                "far from it are equalised before classification, bringing faces in dim or washed-out light closer "
                "to what the model learnt (`fer_core/inference/lighting.py`).")
    return f"Only {share:.0%} of the {split} faces are histogram-equalised, so crops are classified as the camera gives them."


def measure_latency(model_dir: Path) -> dict[str, float]:
    """Single-face milliseconds of each shipped file, the figures the card promises.

    The TFLite files were already timed for the live-variant choice when ``metrics.json``
    holds ``live_variants``; those figures are reused so the card shows one number per file.
    """
    import numpy as np

    face = np.zeros((1, 48, 48), np.float32)
    variants = read_metrics(model_dir).get("live_variants", [])
    timed = {row["file"]: row["latency_ms"] for row in variants if variant_tta(row) == "none"}

    def tflite_ms(name: str) -> float:
        if name in timed:
            return timed[name]
        lite = TFLiteClassifier(model_dir / name)
        return median_ms(lambda: lite(face), 200)

    keras_model = load_classifier(model_dir / "model.keras")
    direct = FastClassifier(keras_model)
    return {
        "one face, TFLite float": tflite_ms("model_float.tflite"),
        "one face, TFLite dynamic-range quantised": tflite_ms("model_quant.tflite"),
        "one face, Keras model called in a tf.function": median_ms(lambda: direct(face), 200),
        "one face, Keras model.predict (avoided on every live path)": median_ms(lambda: keras_model.predict(face[..., None], verbose=0), 20),
    }


def _stage_list(stages: list[dict], indent: str) -> str:
    return "\n".join(
        f"{indent}{number}. `{stage['command']}`" + (f" (its `{stage['model']}`)" if stage.get("model") else "")
        + (f" — {stage['accuracy']:.2%} on {stage.get('split') or 'PublicTest'}" if stage.get("accuracy") is not None else "")
        for number, stage in enumerate(stages, start=1)
    )


def _read_members(model_dir: Path) -> list[dict]:
    path = model_dir / ENSEMBLE_FILE
    return json.loads(path.read_text()) if path.is_file() else []


def _card_config(config: dict) -> dict:
    """The config as the card lists it: model paths as seen from the repository, no dataset
    path (the command names it), no teacher weight for a run that had no teachers."""
    shown = {k: v for k, v in config.items() if k != "data"}
    if shown.get("init_from"):
        shown["init_from"] = portable_path(shown["init_from"])
    if not shown.get("teachers"):
        shown.pop("teachers", None)
        shown.pop("teacher_weight", None)
    else:
        shown["teachers"] = "[" + ", ".join(portable_path(teacher) for teacher in shown["teachers"]) + "]"
    return shown


def live_inference_section(metrics: dict) -> str:
    """The card's account of the Live variants and the one chosen ('' for a model published
    without a validation split); ``decision-rule`` rewrites it when it rescores the variants."""
    if not metrics.get("live_variants"):
        return ""
    choice = metrics["live_inference"]
    balanced = all("accuracy_balanced" in row for row in metrics["live_variants"])
    rows = "\n".join(
        f"| `{row['file']}` | {TTA_LABELS[variant_tta(row)]} | {row['accuracy']:.2%} |"
        + (f" {row['accuracy_balanced']:.2%} |" if balanced else "") + f" {row['latency_ms']:.2f} ms |"
        for row in metrics["live_variants"]
    )
    header = ("| file | test-time augmentation | accuracy (raw) | accuracy (balanced rule) | latency |\n|---|---|---|---|---|"
              if balanced else "| file | test-time augmentation | accuracy | latency |\n|---|---|---|---|")
    chosen_by = "by the balanced rule Live answers with, " if balanced else ""
    return f"""
## Live inference

Measured on the same {metrics['n']} PublicTest faces (accuracy) and one face (median latency, the publishing machine):

{header}
{rows}

Live and videos use **`{choice['file']}`, {TTA_LABELS[variant_tta(choice)]}**: the most accurate
variant, {chosen_by}within the {LATENCY_BUDGET_MS:g} ms single-face budget. Photo stills use the same file with
flip-zoom TTA (the Photos page's "Thorough stills", on by default): a still can afford six passes.

{lighting_line(metrics)}
"""


def render_model_card(model_dir: Path, *, command: str, latency: dict | None = None, notes: str = "") -> str:
    metrics = json.loads((model_dir / METRICS).read_text())
    config_path = model_dir / "config.json"
    config = json.loads(config_path.read_text()) if config_path.is_file() else {}
    size_mb = (model_dir / "model.keras").stat().st_size / 1e6
    stages = read_lineage(model_dir)
    stage_lines = ""
    if stages:
        stage_lines = "\n- Earlier stages (this run started from their model with `--init-from`; run them first, in order):\n" + _stage_list(stages, "  ")
    members = _read_members(model_dir)
    if members:
        stage_lines += "\n- Members (each trained with the commands listed under it, in order; `<member N>` above is the model its last command made):\n"
        stage_lines += "\n".join(
            f"  {number}. {member['arch']}, {member['accuracy']:.2%} alone ({member['accuracy_tta']:.2%} with flip TTA"
            + (f", {member['accuracy_flip_zoom_tta']:.2%} flip-zoom" if "accuracy_flip_zoom_tta" in member else "") + "):\n"
            + _stage_list(member["stages"], "     ")
            for number, member in enumerate(members, start=1)
        )
    live_section = live_inference_section(metrics)
    command_label = (
        "Command (averages the members' probabilities into one model and publishes it)" if members
        else "Command (reproduces the run; `--resume models/runs/<id>` continues it after an interruption)"
    )
    config_line = ""
    if config:
        config_line = "- Config: " + ", ".join(f"{k}={v}" for k, v in _card_config(config).items()) + "\n"
    latency_lines = ""
    if latency:
        latency_lines = "\n".join(f"- {label}: **{value:.2f} ms**" for label, value in latency.items())
    return f"""# FER Studio default model

**{metrics['arch']}** {'CNNs averaging their probabilities' if members else 'CNN'}, {metrics['parameters']:,} parameters, `model.keras` {size_mb:.1f} MB
(plus `model_float.tflite` and a dynamic-range quantised `model_quant.tflite`, each checked
against the Keras model on 256 PublicTest faces: the same top class on {', '.join(f'{v["top1_agreement"]:.1%} ({k})' for k, v in metrics['exports'].items())}).

## Accuracy on FER2013 PublicTest ({metrics['n']} faces; selected on this split, never trained on it)

{accuracy_table(metrics)}

{training_copies_line(metrics)}Calibration error: the gap between the top class's probability, as the app shows it, and how often
that class is right, averaged over ten confidence bins (0 is perfect; the Evaluate page draws it).

Per class (plain):

{per_class_table(metrics["per_class"])}

Confusion matrix (plain; rows true, columns predicted):

{_confusion_table(metrics['confusion'])}

PrivateTest (the project's independent test set) was not available to this training and is not reported here.

{decision_section(metrics)}
## Training

- Data: `fer2013_dev.csv.gz` — FER2013 `Training` split (28,709 faces) to fit, `PublicTest` (3,589) to select the epoch.
- {command_label}:
  ```
  {command}
  ```{stage_lines}
{config_line}- Run{'s' if members else ''}: `{metrics['run_id']}`, published {metrics['published_at']}.
- Training curve (validation accuracy per epoch) is in each run's `history.csv`; the epoch with the best
  PublicTest accuracy was kept (`best.keras`), or with `--swa-epochs` the average of the last epochs'
  weights where it scored better (`swa.json`).

{live_section}
## Speed on the development machine (2 CPU cores)

{latency_lines or "- see `python -m fer_core bench`"}

## Intended use and limits

- For teaching and demos of facial expression recognition on frontal faces, e.g. the Live page.
  Not for decisions about people: expression is not emotion, and FER2013 labels are noisy
  (human agreement on FER2013 is estimated at ~65 %).
- FER2013 is 48×48 grey web images, mostly frontal, of limited demographic balance; accuracy drops
  on profile views, occlusions (masks, hands), poor light and faces unlike the training data.
- **disgust** is rare (436 training faces, 1.5 %): its recall is the weakest and least reliable;
  **fear** and **sad** are often confused with each other and with neutral.
{notes}
"""


def card_summary(metrics: dict) -> str:
    """The model card's first screen for a visitor: what it is, how good, where it errs, in a few lines."""
    n = metrics.get("n", 0)
    decision = metrics.get("decision") if isinstance(metrics.get("decision"), dict) else None
    recalls = (decision["balanced"]["recall"] if decision and "recall" in decision["balanced"] else
               {name: values["recall"] for name, values in metrics.get("per_class", {}).items() if values.get("support")})
    weakest = sorted(recalls, key=recalls.get)[:2]
    strongest = max(recalls, key=recalls.get) if recalls else None
    accuracy = decision["balanced"]["accuracy"] if decision else metrics.get("accuracy_tta", metrics.get("accuracy", 0.0))
    low, high = wilson_interval(round(accuracy * n), n) if n else (0.0, 0.0)
    lines = [
        f"**What it is.** A convolutional network ({metrics.get('arch', 'CNN')}, {metrics.get('parameters', 0):,} parameters) that reads a 48×48 grey face "
        "and gives a probability for each of seven expressions. It was trained on FER2013's Training faces, on a CPU.",
        f"**How good.** {accuracy:.1%} of FER2013's {n:,} PublicTest faces right as Live reads them "
        f"(95% interval {low:.1%}–{high:.1%}); people who label these faces agree with each other about 65% of the time.",
    ]
    if recalls:
        lines.append(f"**Where it errs.** It finds {recalls[strongest]:.0%} of the {strongest} faces, but only "
                     + " and ".join(f"{recalls[name]:.0%} of the {name} ones" for name in weakest)
                     + ": fear, sad and neutral are the expressions it mixes up most.")
    if decision:
        lines.append(f"**How it decides.** Its answers are rebalanced for how often each expression appears in training, so rare "
                     f"ones get a fair chance (mean recall per expression {decision['raw']['mean_recall']:.0%} → "
                     f"{decision['balanced']['mean_recall']:.0%}).")
    return "\n\n".join(lines)


def card_for_display(card: str) -> str:
    """The card's markdown with its headings made small, to sit inside a page under its own title."""
    return "\n".join("#### " + line.lstrip("# ") if line.startswith("#") else line for line in card.splitlines())
