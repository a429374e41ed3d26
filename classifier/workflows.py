"""What the commands do, as plain functions: train a recipe and export its model, evaluate an
artefact on other data. The management commands only parse arguments and print."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path

import keras
import numpy as np

from classifier.artifact import normalization_of, save_artifact
from classifier.card import ModelCard
from classifier.datasets import UEA_SETS, load_uci_har, load_uea
from classifier.evaluation import Evaluation, evaluate, evaluate_sets
from classifier.experiment import EpochCallback, SeedResult, report, run_cross_validation, run_official
from classifier.gymformat import GymSession, load_gym_folder
from classifier.recipes import GYM_HOP, GymRecipe
from classifier.runtime import WindowClassifier
from classifier.training import TrainingConfig, train
from classifier.windows import WindowSet

BUILTIN = ("uci_har", *UEA_SETS)


@dataclass(frozen=True)
class TrainingData:
    name: str
    windows: WindowSet  # everything to train on (the training part, for an official split)
    official_test: WindowSet | None
    serve_hop: int
    units: dict[str, str] = field(default_factory=lambda: {"acc": "g", "gyr": "deg/s"})


def load_training_data(data_dir: Path, name: str | None = None, folder: Path | None = None,
                       recipe: GymRecipe = GymRecipe(), exclude: tuple[str, ...] = (), progress: bool = True) -> TrainingData:
    """A built-in set by name ("uci_har", a UEA set, a folder name under gym/) or any gym-format folder."""
    if name == "uci_har":
        train_set, test_set = load_uci_har(data_dir)
        return TrainingData(name, train_set.without_labels(exclude), test_set.without_labels(exclude), train_set.window_length // 2,
                            units={"body_acc": "g", "total_acc": "g", "body_gyro": "rad/s"})
    if name in UEA_SETS:
        train_set, test_set = load_uea(data_dir, name)
        return TrainingData(name, train_set.without_labels(exclude), test_set.without_labels(exclude), train_set.window_length)
    folder = folder or Path(data_dir) / "gym" / name
    windows = recipe.windows(load_gym_folder(folder, progress=progress), exclude=exclude)
    return TrainingData(name or folder.name, windows, None, GYM_HOP)


def describe(windows: WindowSet) -> dict:
    return {
        "subjects": sorted(set(windows.subjects.tolist())),
        "windows_per_class": {label: int((windows.y == i).sum()) for i, label in enumerate(windows.labels)},
    }


def measure(data: TrainingData, *, split: str, config: TrainingConfig, seeds: list[int], report_dir: Path | None = None,
            title: str | None = None, progress: bool = True,
            on_epoch: EpochCallback | None = None) -> tuple[dict, list[SeedResult]]:
    """The recipe scored on the split over seeds (the official split: trained on the training part,
    scored on the test part): the summary over seeds, with report.json and plots (titled `title`)
    in `report_dir`, and each seed's result."""
    if split == "official":
        if data.official_test is None:
            raise ValueError(f"{data.name} has no official split; use loso, kfold or by-day")
        results = run_official(data.windows, data.official_test, config, seeds, progress=progress, on_epoch=on_epoch)
    else:
        results = run_cross_validation(data.windows, split, config, seeds, progress=progress, on_epoch=on_epoch)
    return report(results, report_dir, title or f"{config.arch} on {data.name}, {split} split"), results


def train_evaluate_export(data: TrainingData, *, split: str, config: TrainingConfig, seeds: list[int],
                          out: Path | None, card: dict | None = None, title: str | None = None, progress: bool = True,
                          on_epoch: EpochCallback | None = None) -> dict:
    """The one way a model is made (the commands, the journal models' build, retraining from
    labels): the recipe measured on the split over seeds, then, with `out`, a model exported there
    with its card and evaluation — for the official split the first seed's (trained on the
    training part only, so the test part still judges it), otherwise one trained on all the
    windows. `card` sets fields of the card (name, version, training_data, split, sets …)."""
    summary, results = measure(data, split=split, config=config, seeds=seeds, report_dir=out / "evaluation" if out else None,
                               title=title, progress=progress, on_epoch=on_epoch)
    if out:
        final = results[0].model if split == "official" else train(data.windows, config, seed=seeds[0], progress=progress).model
        fields = dict(
            name=out.name, version="1", arch=config.arch, labels=data.windows.labels, channels=data.windows.channels,
            rate_hz=data.windows.rate_hz, window=data.windows.window_length, hop=data.serve_hop,
            normalization=normalization_of(final),
            training_data={"dataset": data.name, **describe(data.windows), "recipe": asdict(config)}, split=split,
            units=data.units, metrics=card_metrics(summary),
        )
        save_artifact(out, final, ModelCard(**(fields | (card or {}))))
    keras.backend.clear_session()
    return summary


def card_metrics(summary: dict) -> dict:
    keys = ("seeds", "accuracy_mean", "accuracy_sd", "macro_f1_mean", "macro_f1_sd", "per_class_f1_mean")
    metrics = {key: summary[key] for key in keys}
    if "sets" in summary:
        metrics["sets"] = {key: summary["sets"][key] for key in ("accuracy_mean", "macro_f1_mean", "macro_f1_sd")}
    if "other_arm" in summary:
        metrics["other_arm"] = {key: summary["other_arm"][key] for key in ("accuracy_mean", "macro_f1_mean", "macro_f1_sd")}
    return metrics


def evaluate_artifact(model_dir: Path, data_folder: Path, *, progress: bool = True) -> tuple[Evaluation, dict]:
    """Score an exported model (through LiteRT, as served) on a gym-format folder, per window and
    per exercise set. Windows of classes the model does not know are counted and left out."""
    return evaluate_served(model_dir, load_gym_folder(data_folder, progress=progress), str(data_folder))


def evaluate_served(model_dir: Path, sessions: list[GymSession], what: str = "the data") -> tuple[Evaluation, dict]:
    """`evaluate_artifact` on recordings already read."""
    classifier = WindowClassifier(model_dir)
    card = classifier.card
    recipe = GymRecipe(channels=tuple(card.channels), rate_hz=card.rate_hz, window=card.window, hop=card.hop)
    windows = recipe.windows(sessions)
    unknown = sorted(set(windows.labels) - set(card.labels))
    known = windows.without_labels(unknown)
    if not len(known):
        raise ValueError(f"none of the labels in {what} ({', '.join(windows.labels)}) is a class of the model")
    y_true = np.array([card.labels.index(known.labels[i]) for i in known.y], dtype=np.int64)
    probabilities = np.concatenate([classifier.predict_proba(known.X[i:i + 4096]) for i in range(0, len(known), 4096)])
    evaluation = evaluate(y_true, probabilities.argmax(axis=1), card.labels)
    per_set = evaluate_sets(known.sets, y_true, probabilities, card.labels)
    skipped = {label: int((windows.y == windows.labels.index(label)).sum()) for label in unknown}
    return evaluation, {"windows": len(known), "skipped_unknown_labels": skipped, "sets": per_set.to_dict() if per_set else None}
