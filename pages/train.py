"""Train a CNN from the browser and watch it learn; compare, resume, delete and publish runs.

Training runs in its own process (``fer_core.training.runs.start_new_run``): this page only writes
a config and then reads the run folder, so a reload or a closed tab loses nothing.
"""
import json
import time
from pathlib import Path

import numpy as np
import pandas as pd
import streamlit as st

from fer_core import charts, paths
from fer_core.errors import FerError
from fer_core.files import BEST_MODEL, CHECKPOINT, read_metrics
from fer_core.nets.architectures import ARCHITECTURES
from fer_core.nets.ensemble import MAX_MEMBERS
from fer_core.nets.publish import (
    describe_published,
    previous_default_dir,
    publish_ensemble_of_runs,
    publish_run,
    restore_previous_default,
)
from fer_core.training.config import OPTIMISERS, SCHEDULES, TrainConfig
from fer_core.training.estimate import describe_duration, estimate_epoch_seconds
from fer_core.training.glimpses import read_glimpses
from fer_core.training.hardware import NO_BFLOAT16_UNITS, bfloat16_emulated
from fer_core.training.routes import routes_in, sitting_rows
from fer_core.training.runs import (
    ACTIVE_STATES,
    AFTER_EPOCH,
    RESUMABLE_STATES,
    cancel_request,
    delete_run,
    list_runs,
    read_history,
    read_status,
    request_cancel,
    resume_run,
    run_dir_for,
    run_progress,
    start_new_run,
)
from fer_core.training.weight_averaging import read_weight_average
from ui.bootstrap import bootstrap
from ui.dataset import dataset_sidebar
from ui.faces_view import watched_faces
from ui.settings import public_demo_mode

bootstrap()  # before anything loads TensorFlow: see ui/bootstrap.py

# The 10-minute limit bounds a public demo's CPU; 30 epochs of 'tiny' on the sample took 1.5 min here and
# lifted it from 18 % to 33 % on the sample's PublicTest faces (5 epochs stopped at 26 %): a curve worth watching.
DEMO_MAX_EPOCHS = 30
DEMO_SAMPLE_PER_CLASS = 300
DEMO_TIME_LIMIT_MINUTES = 10.0

st.title("Train")
demo = public_demo_mode()
chosen = dataset_sidebar()
runs = list_runs()
active = next((run for run in runs if run.state in ACTIVE_STATES), None)

with st.expander("New training run", expanded=not runs):
    if chosen is None:
        st.info("Training needs FER2013: see the note above.")
    else:
        source, dataset = chosen
        # The basics sit outside the form so the duration estimate follows them as they change.
        cols = st.columns(3)
        arch = cols[0].selectbox("Architecture", list(ARCHITECTURES), index=0, key="arch",
                                 help="\n\n".join(f"**{a.name}**: {a.summary}" for a in ARCHITECTURES.values()))
        use_sample = cols[1].toggle(f"A sample: {DEMO_SAMPLE_PER_CLASS} faces per class", True, key="use_sample", disabled=demo,
                                    help=f"{7 * DEMO_SAMPLE_PER_CLASS:,} training faces instead of all of Training: minutes, not hours, "
                                         "and a curve still worth watching. Its validation figure is on a sample of "
                                         f"{DEMO_SAMPLE_PER_CLASS // 4} faces per class too.")
        epochs = cols[2].number_input("Epochs", 1, DEMO_MAX_EPOCHS if demo else 300, 20 if demo else 10, key="epochs")
        sample_per_class = DEMO_SAMPLE_PER_CLASS if (use_sample or demo) else 0
        estimate = estimate_epoch_seconds(arch, sample_per_class, runs)
        st.caption(f"Estimated duration: **{describe_duration(estimate.total(int(epochs)))}** "
                   f"({estimate.seconds_per_epoch:.0f} s per epoch, from {estimate.basis})." if estimate else
                   f"No duration measured yet for {arch} on this machine: the first epoch's time will tell.")
        with st.form("train_form"):
            with st.expander("Advanced: optimiser, schedule, regularisation, speed"):
                cols = st.columns(3)
                batch_size = cols[0].select_slider("Batch size", [16, 32, 64, 128, 256], 64, key="batch_size")
                learning_rate = cols[1].select_slider("Learning rate", [1e-4, 3e-4, 1e-3, 3e-3, 1e-2], 1e-3, key="lr")
                optimiser = cols[2].selectbox("Optimiser", OPTIMISERS, index=OPTIMISERS.index("adamw"), key="optimiser")
                cols = st.columns(3)
                schedule = cols[0].selectbox("Learning-rate schedule", SCHEDULES, index=SCHEDULES.index("cosine"), key="schedule",
                                             help="cosine: a one-epoch warm-up, then a cosine decay to 1 % of the rate; "
                                                  "constant: the same rate throughout (what weight averaging wants).")
                label_smoothing = cols[1].slider("Label smoothing", 0.0, 0.3, 0.1, 0.05, key="label_smoothing")
                swa_epochs = cols[2].number_input("Average the last N epochs' weights", 0, 300, 0, key="swa_epochs",
                                                  help="Stochastic weight averaging: at the end, one net whose weights are the mean "
                                                       "of the last N epochs', kept if it beats the best epoch on validation. "
                                                       "Costs one extra pass over the training faces. Measured here: finished vgg "
                                                       "nets continued 12 epochs at a constant rate gained 0.1-0.2 point in three "
                                                       "runs of four and lost 0.5 in one, where the best epoch was kept.")
                cols = st.columns(3)
                augment = cols[0].toggle("Augmentation (flip, shift, rotate, zoom)", True, key="augment")
                erasing = cols[1].select_slider("Random erasing", [0.0, 0.25, 0.5], 0.0, key="erasing",
                                                help="Share of training faces that get a random patch replaced by noise "
                                                     "(with augmentation on). A regulariser for long runs.")
                class_weighting = cols[2].toggle("Class weighting (helps 'disgust')", False, key="class_weighting")
                cols = st.columns(3)
                bfloat16 = cols[0].toggle("bfloat16 mixed precision", False, key="bfloat16",
                                          help="About 1.3x faster on CPUs with AVX512-BF16 or AMX (slower without them). "
                                               "The saved model is float32 either way."
                                               + (" " + NO_BFLOAT16_UNITS if bfloat16_emulated() else ""))
                teacher = paths.DEFAULT_MODEL_PATH
                distil = cols[1].toggle("Learn from the default model", False, key="distil", disabled=not teacher.is_file(),
                                        help="Knowledge distillation: half of each face's target is the default model's "
                                             "prediction (with its mirror image), half the label. Measured here: a tiny net "
                                             "on the 300-per-class sample gained 1-6 points; the full vgg, continued on all "
                                             "of Training, lost about 1.")
                mixup = cols[2].select_slider("Mixup", [0.0, 0.2, 0.4], 0.0, key="mixup",
                                              help="Train on blends of two faces, each target blended by the same share "
                                                   "(each face keeps at least half). A regulariser for long runs of large nets.")
                name = st.text_input("Run name (optional)", "", max_chars=32, key="run_name")
            submitted = st.form_submit_button("Start training", type="primary", disabled=active is not None)
        if active is not None:
            st.caption(f"Run **{active.run_id}** is training; one run at a time.")
        if submitted:
            config = TrainConfig(
                data=str(source.path), arch=arch, epochs=int(epochs), batch_size=int(batch_size),
                learning_rate=float(learning_rate), optimiser=optimiser, label_smoothing=float(label_smoothing),
                augment=augment, class_weighting=class_weighting, precision="bfloat16" if bfloat16 else "float32",
                erasing=float(erasing) if augment else 0.0, mixup=float(mixup), schedule=schedule, swa_epochs=int(swa_epochs),
                teachers=[str(teacher)] if distil else [], sample_per_class=sample_per_class,
                time_limit_minutes=DEMO_TIME_LIMIT_MINUTES if demo else 0.0,
            )
            try:
                run_dir = start_new_run(config, name)
            except FerError as exc:
                st.error(str(exc))
            else:
                st.session_state["selected_run"] = run_dir.name
                st.rerun()

if long_routes := routes_in(paths.wip_dir()):
    with st.expander(f"Long runs carried between sessions ({len(long_routes)})"):
        st.caption("Runs too long for one sitting are committed in `models/wip/` and resumed in the next; a route may "
                   "continue in stages, each started from the last one's model (a dotted line marks where). Validation "
                   "accuracy after each epoch against the CPU-hours spent so far: what more hours buy, and where they "
                   "stop paying. Resume one with `python -m fer_core train --resume models/wip/<run-id>`.")
        shipped = read_metrics(paths.DEFAULT_MODEL_DIR).get("accuracy_no_tta")
        st.plotly_chart(charts.route_curves_figure(long_routes, (f"shipped default (two nets averaged): {shipped:.1%}", shipped) if shipped else None),
                        key="route_curves")
        st.dataframe(pd.DataFrame([route.summary() for route in long_routes]), hide_index=True)
        st.caption("Each sitting, and the machine it ran on: a CPU-hour buys different epochs on different CPUs.")
        st.dataframe(pd.DataFrame([row for route in long_routes for row in sitting_rows(route)]), hide_index=True)

if not runs:
    st.info("No runs yet: start one above.")
    st.stop()

run_ids = [run.run_id for run in runs]
if st.session_state.get("selected_run") not in run_ids:
    st.session_state["selected_run"] = active.run_id if active else run_ids[0]
selected = st.selectbox("Run", run_ids, key="selected_run")


def chance_level(summary, chosen) -> float | None:
    """What always answering the most common class scores on the run's validation faces: 1/7 on a sample
    (stratified), the split's largest class share on all of it (when the page has that dataset loaded)."""
    if summary.sample_per_class:
        return 1 / 7
    config = TrainConfig.load(summary.path / "config.json")
    if chosen is None or str(chosen[0].path) != str(Path(config.data).resolve()) or config.val_split not in chosen[1].split_names:
        return None
    labels = chosen[1].split(config.val_split).labels
    return float(np.bincount(labels, minlength=7).max() / len(labels)) if len(labels) else None


def _format_eta(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min" if hours else f"{minutes} min {secs:02d} s"


def _bfloat16_would_crawl(run_dir: Path) -> bool:
    """A bf16 run where bf16 is emulated (~10x slower than float32): resume it in float32."""
    try:
        return TrainConfig.load(run_dir / "config.json").precision == "bfloat16" and bfloat16_emulated()
    except FerError:
        return False


@st.fragment(run_every=2)
def monitor(run_id: str, page_saw_active: bool, chance: float | None) -> None:
    """Re-reads the run folder every 2 s: progress, ETA, curves with the running epoch, log tail.

    Only this fragment refreshes; when the run starts or ends (finished, cancelled, failed) it reruns
    the whole page, so the form, the runs table and the publish and delete buttons follow the run
    instead of showing it 'queued 0/3' until a reload."""
    run_dir = run_dir_for(run_id)
    if not run_dir.exists():
        st.warning("This run was deleted.")
        return
    status = read_status(run_dir)
    history = pd.DataFrame(read_history(run_dir))
    progress = run_progress(status)
    state = progress.state
    if progress.active != page_saw_active:
        st.rerun()
    st.progress(progress.fraction, text=progress.describe().replace(state, f"**{state}**", 1))
    cols = st.columns(4)
    cols[0].metric("ETA", _format_eta(status.get("eta_s")) if progress.active else "—")
    cols[1].metric("Learning rate", f"{status['learning_rate']:.2e}" if status.get("learning_rate") else "—")
    best = history["val_accuracy"].max() if "val_accuracy" in history else None
    cols[2].metric("Best validation accuracy", f"{best:.1%}" if best is not None and best == best else "—")
    this_sitting = history[history["sitting"] == history["sitting"].iloc[-1]] if "sitting" in history and len(history) else history
    cols[3].metric("Seconds per epoch", f"{this_sitting['seconds'].mean():.0f}" if "seconds" in history else "—",
                   help="This sitting's epochs: a run carried to another machine trains at that machine's pace.")
    if status.get("message"):
        (st.error if state == "failed" else st.info)(status["message"])
    if not progress.active and chance is not None and best is not None and best == best and best <= chance + 0.01:
        st.warning(f"This run ended at chance level: {best:.1%} on validation, where always answering the most common class "
                   f"scores {chance:.1%}. It has not learnt faces yet. What helps: more epochs (a net often sits at chance "
                   "for the first few), the vgg architecture, all of Training instead of the sample, or a lower learning rate.")
    live_point = progress.running_point
    if len(history) or live_point:
        st.plotly_chart(charts.training_curves_figure(history if len(history) else pd.DataFrame({"epoch": []}), live_point), key="curves")
    if (glimpses := read_glimpses(run_dir)) is not None and len(glimpses.epochs):
        watched_faces(glimpses)
    buttons = st.columns(4)
    if progress.active and buttons[0].button("Cancel", key="cancel_run", type="primary"):
        request_cancel(run_dir)
        st.toast("Cancel requested: the run stops after the current batch and keeps its last checkpoint.")
    if progress.active and cancel_request(run_dir) == AFTER_EPOCH:
        buttons[1].caption(f"Stops once epoch {status.get('epoch', 0) + 1} has been saved; Cancel stops it now.")
    elif progress.active and buttons[1].button("Stop after this epoch", key="stop_after_epoch",
                                               help="Let the epoch under way finish and be saved, then stop: Resume goes on "
                                                    "from the next one and nothing is thrown away (Cancel loses the epoch's batches)."):
        request_cancel(run_dir, after_epoch=True)
        st.toast(f"The run stops once epoch {status.get('epoch', 0) + 1} has been saved.")
    resumable = state in RESUMABLE_STATES and (run_dir / CHECKPOINT).exists()
    in_float32 = resumable and _bfloat16_would_crawl(run_dir)
    if resumable and buttons[0].button("Resume in float32" if in_float32 else "Resume", key="resume_run",
                                       help=NO_BFLOAT16_UNITS + " The run goes on in float32 from its next epoch, its weights "
                                            "and optimiser state carried over." if in_float32 else None):
        try:
            resume_run(run_dir, precision="float32" if in_float32 else None)
        except FerError as exc:
            st.error(str(exc))
        else:
            time.sleep(0.5)
            st.rerun()
    log_path = run_dir / "train.log"
    if log_path.exists():
        with st.expander("Log"):
            st.code("\n".join(log_path.read_text(errors="replace").splitlines()[-30:]) or "(empty)", language=None)


selected_summary = next(r for r in runs if r.run_id == selected)
monitor(selected, active is not None and active.run_id == selected, chance_level(selected_summary, chosen))
selected_dir = run_dir_for(selected)
try:  # outside the 2-second fragment: a run's command never changes
    selected_config = TrainConfig.load(selected_dir / "config.json")
    command = selected_config.command()
except FerError as exc:
    selected_config, command = None, f"# {exc}"
if selected_config is not None and selected_config.workers:
    st.caption(f"Trained on {len(selected_config.workers)} workers ({', '.join(selected_config.workers)}), each computing "
               f"its share of every {selected_config.batch_size}-face batch; worker 0, the chief, writes this run's folder.")
with st.expander("Command (repeats this run)"):
    st.code(command, language="bash", wrap_lines=True)
if (averaged := read_weight_average(selected_dir)) is not None:
    first, last = averaged["epochs"]
    scores = (f": {averaged['val_accuracy']:.2%} on validation against the best epoch's {averaged['best_epoch_val_accuracy']:.2%}"
              if "val_accuracy" in averaged else "")
    st.caption(f"Weight average of epochs {first}–{last}{scores}; "
               f"{'kept' if averaged['kept_as_best'] else 'not kept'} as this run's best model.")

st.subheader("All runs")
table = pd.DataFrame(
    [
        {"run": r.run_id, "state": r.state, "architecture": r.arch, "epochs": f"{r.epochs_done}/{r.epochs}",
         "best val acc": r.best_val_accuracy, "flip TTA": r.flip_accuracy, "flip-zoom TTA": r.flip_zoom_accuracy,
         "s / epoch": r.seconds_per_epoch,
         "data": f"sample {r.sample_per_class}/class" if r.sample_per_class else "full"}
        for r in runs
    ]
)
st.dataframe(table, hide_index=True, key="runs_table", placeholder="—",  # a figure not measured yet, not a zero
             column_config={
                 "best val acc": st.column_config.NumberColumn(
                     format="percent",
                     help="On the run's validation faces: for a run on the sample, a sample of PublicTest (75 per class), so "
                          "Evaluate, which scores all 3,589, gives another figure. On all of PublicTest a figure is good to "
                          "about ±1.5 points (95%): to tell two runs apart, use Evaluate → Compare with another model.",
                 ),
                 "flip TTA": st.column_config.NumberColumn(format="percent", help="The best model with flip TTA, scored when the run ended."),
                 "flip-zoom TTA": st.column_config.NumberColumn(format="percent", help="The best model with flip-zoom TTA (six views)."),
                 "s / epoch": st.column_config.NumberColumn(format="%.0f"),
             })

if len(runs) >= 2:
    cols = st.columns([3, 1])
    compared = cols[0].multiselect("Compare runs' curves", run_ids, default=run_ids[:2], key="compare_runs")
    metric = cols[1].selectbox("Curve", list(charts.RUN_METRICS), format_func=charts.RUN_METRICS.get, key="compare_metric")
    if compared:
        st.plotly_chart(charts.runs_comparison_figure({run_id: pd.DataFrame(read_history(run_dir_for(run_id))) for run_id in compared},
                                                      metric), key="runs_comparison")

if demo:
    st.caption("Public demo: deleting runs and changing the default model are disabled.")
else:
    cols = st.columns(2)
    still_running = selected_summary.state in ACTIVE_STATES
    if cols[0].button("Make this run's model the app default", key="publish",
                      disabled=still_running or not (selected_summary.path / BEST_MODEL).exists(),
                      help="Wait for the run to end (or cancel it): its best model may still change." if still_running else
                           "Exports and checks the run's best model; the default it replaces is kept and can be restored."):
        try:
            with st.spinner("Exporting and checking the model…"):
                publish_run(selected_summary.path, paths.DEFAULT_MODEL_DIR)
        except FerError as exc:
            st.error(str(exc))
        else:
            st.cache_resource.clear()
            st.success(f"{selected} is now the default model. The one it replaced is kept: "
                       "**Restore the previous default** below puts it back.")
    if (current := describe_published(paths.DEFAULT_MODEL_DIR)) is not None:
        st.caption(f"Default model now: {current}.")
    previous = describe_published(previous_default_dir(paths.DEFAULT_MODEL_DIR))
    if previous is not None and st.button("Restore the previous default", key="restore_default", help=f"Puts back {previous}; "
                                          "the current default takes its place, so a second click undoes the first."):
        try:
            restore_previous_default(paths.DEFAULT_MODEL_DIR)
        except (FerError, OSError) as exc:
            st.error(f"Could not restore the previous default: {exc}")
        else:
            st.cache_resource.clear()
            st.rerun()
    if cols[1].button("Delete this run", key="delete", disabled=selected_summary.state in ACTIVE_STATES):
        try:
            delete_run(selected_summary.path)
        except FerError as exc:
            st.error(str(exc))
        else:
            st.session_state.pop("selected_run", None)
            st.rerun()

    finished = [r.run_id for r in runs if (r.path / BEST_MODEL).exists() and r.state not in ACTIVE_STATES]
    if len(finished) >= 2:
        with st.expander("Average several runs into one model (an ensemble)"):
            st.caption("Nets trained apart make partly different mistakes, so the mean of their probabilities can beat "
                       "the best of them, at the cost of one pass per member per face. Each run is scored alone first, "
                       "so the model card shows whether averaging paid off.")
            members = st.multiselect("Runs to average", finished, max_selections=MAX_MEMBERS, key="ensemble_runs")
            if st.button("Make their average the app default", key="publish_ensemble", disabled=len(members) < 2):
                try:
                    with st.spinner("Scoring each run, averaging, exporting and checking the ensemble…"):
                        target = publish_ensemble_of_runs([next(r.path for r in runs if r.run_id == m) for m in members], paths.DEFAULT_MODEL_DIR)
                except FerError as exc:
                    st.error(str(exc))
                else:
                    st.cache_resource.clear()
                    metrics = read_metrics(target)
                    best_alone = max(m["accuracy"] for m in json.loads((target / "ensemble.json").read_text()))
                    st.success(f"The average of {len(members)} runs is now the default model: "
                               f"{metrics['accuracy_no_tta']:.1%} on {metrics['split']} ({metrics['accuracy_tta']:.1%} with flip TTA, "
                               f"{metrics['accuracy_flip_zoom_tta']:.1%} flip-zoom); "
                               f"the best run alone: {best_alone:.1%}.")
