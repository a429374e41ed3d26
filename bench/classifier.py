"""`bench classifier`: the notebook models and ours side by side on UCI HAR, gym exercise
recognition leave-one-subject-out, and inference speed of the served model."""

from __future__ import annotations

import statistics
import time
from pathlib import Path

import keras
import numpy as np

from classifier.card import KERAS_FILE
from classifier.datasets import load_uci_har
from classifier.gymformat import load_gym_folder
from classifier.memory import teach
from classifier.mirror import windows_in_model_frame
from classifier.recipes import CHANNEL_SETS, GYM_ARCH, GYM_HOP, TRAINED_DIR, GymRecipe
from classifier.runtime import WindowClassifier
from classifier.training import TrainingConfig
from classifier.workflows import TrainingData, card_metrics, measure

# Declared before the run, chosen on validation people of the training side: the test set picks nothing.
OUR_UCI_MODEL = "res_cnn_wide"
NOTEBOOK_MODELS = ("cnn_tutorial", "lstm_1", "lstm_2")
GYM_DATASETS = ("barbell_metamotion", "spar_shoulder_physio_seglearn")


def bench_uci_har(data_dir: Path, *, seeds: int, baseline_seeds: int, epochs: int, lstm_epochs: int, out: Path | None, progress: bool) -> dict:
    train_set, test_set = load_uci_har(data_dir)
    per_arch = {}
    for arch in (OUR_UCI_MODEL, *NOTEBOOK_MODELS):
        slow = arch.startswith("lstm")
        # Every training person fitted for the full epochs, as the notebooks did: chosen over early
        # stopping on 20 % of them on 5 selection people of the training side (0.994 ± 0.000 vs
        # 0.978 ± 0.010 for res_cnn_wide, 3 seeds); the test people pick nothing.
        config = TrainingConfig(arch=arch, epochs=lstm_epochs if slow else epochs, early_stopping=False)
        summary, results = measure(TrainingData("UCI HAR", train_set, test_set, train_set.window_length // 2), split="official",
                                   config=config, seeds=list(range(baseline_seeds if slow else seeds)),
                                   report_dir=out / "uci_har" / arch if out else None, progress=progress)
        per_arch[arch] = card_metrics(summary) | {
            "train_seconds_mean": summary["train_seconds_mean"], "max_epochs": config.epochs,
            "epochs_run_mean": float(np.mean([len(r.histories[0]["loss"]) for r in results])),
        }
        keras.backend.clear_session()
    ours = per_arch[OUR_UCI_MODEL]
    return {"model": OUR_UCI_MODEL, **{k: ours[k] for k in ("accuracy_mean", "accuracy_sd", "macro_f1_mean", "seeds", "train_seconds_mean")},
            "split": "official (21 train / 9 test subjects)", "per_arch": per_arch}


def bench_uci_selection(data_dir: Path, *, seeds: int, epochs: int, progress: bool) -> dict:
    """How the UCI HAR recipe was chosen without the test people: 5 of the 21 training people set
    aside (a fixed draw), ours trained on the other 16 with early stopping on 20 % of them and
    with all 16 fitted for every epoch, scored on the 5."""
    train_set, _ = load_uci_har(data_dir)
    people = np.unique(train_set.subjects)
    selection = np.random.default_rng(2026).choice(people, 5, replace=False)
    aside = np.isin(train_set.subjects, selection)
    results: dict = {"model": OUR_UCI_MODEL, "selection_people": sorted(str(p) for p in selection)}
    for name, early_stopping in (("early_stopping", True), ("all_fitted", False)):
        config = TrainingConfig(arch=OUR_UCI_MODEL, epochs=epochs, early_stopping=early_stopping)
        _, runs = measure(TrainingData("UCI HAR selection", train_set.subset(~aside), train_set.subset(aside),
                                       train_set.window_length // 2),
                          split="official", config=config, seeds=list(range(seeds)), progress=progress)
        accuracies = [r.evaluation.accuracy for r in runs]
        results[name] = {"accuracy_mean": float(np.mean(accuracies)), "accuracy_sd": float(np.std(accuracies, ddof=1)),
                         "accuracies": accuracies}
        keras.backend.clear_session()
    return results


def bench_gym(data_dir: Path, *, seeds: int, training: TrainingConfig, out: Path | None, progress: bool,
              datasets: tuple[str, ...] = GYM_DATASETS, right_arm_frame: bool = False) -> dict:
    """`right_arm_frame`: every left-arm window mirrored into the right arm's frame first, as the
    journal does for a device whose side is said (classifier.mirror.windows_in_model_frame)."""
    results = {}
    for dataset in datasets:
        sessions = load_gym_folder(data_dir / "gym" / dataset, progress=progress)
        per_channels = {}
        for channels in ("acc+gyro", "gyro"):
            windows = GymRecipe(channels=CHANNEL_SETS[channels]).windows(sessions, exclude=("rest",))
            if right_arm_frame:
                windows = windows_in_model_frame(windows)
            summary, _ = measure(TrainingData(f"{dataset} ({channels})", windows, None, GYM_HOP), split="loso", config=training,
                                 seeds=list(range(seeds)), report_dir=out / "gym" / dataset / channels if out else None,
                                 progress=progress)
            per_channels[channels] = card_metrics(summary) | {"windows": len(windows), "subjects": len(set(windows.subjects))}
            keras.backend.clear_session()
        both = per_channels["acc+gyro"]
        results[dataset] = {"split": "loso", "model": training.arch, "early_stopping": training.early_stopping,
                            "mirror_arms": training.mirror_arms, "right_arm_frame": right_arm_frame,
                            "sides": sorted(set(windows.sides) if windows.sides is not None else ()),
                            "classes": list(both["per_class_f1_mean"]),
                            "macro_f1_mean": both["macro_f1_mean"], "accuracy_mean": both["accuracy_mean"],
                            "acc_gyro": both, "gyro_only": per_channels["gyro"]}
    return results


def _timed(call, repeats: int) -> float:
    """Median seconds of `repeats` calls after a warm-up."""
    call()
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        call()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def bench_inference(model_dir: Path, *, batch: int = 4096) -> dict:
    """LiteRT on one thread beside Keras, on random windows of the served model's shape."""
    served = WindowClassifier(model_dir, threads=1)
    windows = np.random.default_rng(0).normal(size=(batch, served.card.window, len(served.card.channels))).astype(np.float32)
    batched = _timed(lambda: served.predict_proba(windows), 20)
    single_window = windows[:1]
    single = _timed(lambda: served.predict_proba(single_window), 2000)
    model = keras.saving.load_model(model_dir / KERAS_FILE)
    keras_single = _timed(lambda: model.predict(single_window, verbose=0), 30)
    keras_batched = _timed(lambda: model.predict(windows, batch_size=batch, verbose=0), 5)
    difference = float(np.abs(served.predict_proba(windows) - model.predict(windows, batch_size=batch, verbose=0)).max())
    # An athlete's memory on top (classifier/memory.py): 16 exercises of their own beside the general ones.
    embeddings = served.predict(windows[:512]).embeddings
    memory = teach(served.card.labels, served.head, embeddings, np.array([f"own_{i % 16}" for i in range(len(embeddings))]),
                   np.arange(len(embeddings)) // 32)
    with_memory = _timed(lambda: memory.probabilities(served.predict(windows).embeddings), 20)
    return {
        "model": model_dir.name, "window": [served.card.window, len(served.card.channels)], "threads": 1, "batch": batch,
        "litert_windows_per_s": batch / batched, "litert_single_window_ms": single * 1000,
        "keras_predict_single_window_ms": keras_single * 1000, "keras_predict_windows_per_s": batch / keras_batched,
        "keras_call_single_window_ms": _timed(lambda: model(single_window, training=False), 200) * 1000,
        "litert_vs_keras_max_abs_diff": difference,
        "with_memory_windows_per_s": batch / with_memory, "with_memory_ms_per_window": with_memory / batch * 1000,
        "memory_classes": len(memory.labels),
    }


def run(data_dir: Path, *, seeds: int = 5, baseline_seeds: int = 1, gym_seeds: int = 3, epochs: int = 40,
        lstm_epochs: int = 30, out: Path | None = None, progress: bool = True, parts=("uci_har", "gym", "inference"),
        gym_training: TrainingConfig | None = None, gym_datasets: tuple[str, ...] = GYM_DATASETS,
        gym_right_arm_frame: bool = False) -> dict:
    """`gym_training` defaults to GYM_ARCH for at most `epochs`, stopping early."""
    results: dict = {}
    if "inference" in parts:
        results["inference"] = bench_inference(TRAINED_DIR / "journal-gyro")
        results["inference_acc_gyro"] = bench_inference(TRAINED_DIR / "journal-acc-gyro")
    if "uci_har" in parts:
        results["uci_har"] = bench_uci_har(data_dir, seeds=seeds, baseline_seeds=baseline_seeds, epochs=epochs,
                                           lstm_epochs=lstm_epochs, out=out, progress=progress)
    if "gym" in parts:
        results["gym"] = bench_gym(data_dir, seeds=gym_seeds, training=gym_training or TrainingConfig(arch=GYM_ARCH, epochs=epochs),
                                   out=out, progress=progress, datasets=gym_datasets, right_arm_frame=gym_right_arm_frame)
    if "uci_selection" in parts:
        results["uci_selection"] = bench_uci_selection(data_dir, seeds=gym_seeds, epochs=epochs, progress=progress)
    return results


PUBLISHED = "published: LSTM notebook 91.65 %, 2-layer LSTM notebook 92.16 %, 561-feature SVM of the dataset paper 96 %"


def table(results: dict) -> str:
    lines = []
    if "uci_har" in results:
        lines += ["", "UCI HAR, official split (21 train / 9 test subjects), test accuracy over seeds",
                  f"{'model':<20}{'seeds':>6}  {'accuracy':<17}{'macro-F1':>9}{'train s/seed':>14}{'epochs':>8}"]
        for arch, row in results["uci_har"]["per_arch"].items():
            name = f"{arch} (ours)" if arch == OUR_UCI_MODEL else arch
            lines.append(f"{name:<20}{row['seeds']:>6}  {row['accuracy_mean']:.4f} ± {row['accuracy_sd']:.4f}  "
                         f"{row['macro_f1_mean']:>8.4f}{row['train_seconds_mean']:>14.0f}{row['epochs_run_mean']:>8.1f}")
        lines.append(PUBLISHED)
    if "gym" in results:
        lines += ["", f"Gym exercise recognition, leave one subject out, {GYM_ARCH}",
                  f"{'dataset':<32}{'channels':<10}{'seeds':>6}{'window acc':>12}{'window F1':>11}{'set F1':>8}{'other arm F1':>14}"]
        for dataset, row in results["gym"].items():
            for channels, key in (("acc+gyro", "acc_gyro"), ("gyro", "gyro_only")):
                part = row[key]
                lines.append(f"{dataset:<32}{channels:<10}{part['seeds']:>6}{part['accuracy_mean']:>12.4f}"
                             f"{part['macro_f1_mean']:>11.4f}{part['sets']['macro_f1_mean']:>8.4f}{part['other_arm']['macro_f1_mean']:>14.4f}")
    if "uci_selection" in results:
        row = results["uci_selection"]
        lines += ["", f"UCI HAR recipe chosen on 5 training people set aside ({', '.join(row['selection_people'])}), {row['model']}"]
        for name in ("early_stopping", "all_fitted"):
            lines.append(f"{name:<20}{len(row[name]['accuracies']):>6}  {row[name]['accuracy_mean']:.4f} ± {row[name]['accuracy_sd']:.4f}")
    for key in ("inference", "inference_acc_gyro"):
        if key not in results:
            continue
        row = results[key]
        lines += ["", f"Inference, {row['model']} ({row['window'][0]}×{row['window'][1]} windows): LiteRT on one thread, Keras with TensorFlow's default threads",
                  f"LiteRT batched ({row['batch']})     {row['litert_windows_per_s']:>12,.0f} windows/s",
                  f"LiteRT one window          {row['litert_single_window_ms']:>12.3f} ms",
                  f"Keras predict() one window {row['keras_predict_single_window_ms']:>12.3f} ms",
                  f"Keras model() one window   {row['keras_call_single_window_ms']:>12.3f} ms",
                  f"Keras predict() batched    {row['keras_predict_windows_per_s']:>12,.0f} windows/s",
                  f"LiteRT vs Keras max |diff| {row['litert_vs_keras_max_abs_diff']:>12.2e}",
                  f"+ athlete memory ({row['memory_classes']} cl.) {row['with_memory_windows_per_s']:>7,.0f} windows/s, "
                  f"{row['with_memory_ms_per_window']:.3f} ms a window"]
    return "\n".join(lines)
