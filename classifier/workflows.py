"""What the commands do, as plain functions: train a recipe and export its model, evaluate an
artefact on other data. The management commands only parse arguments and print."""

from __future__ import annotations

import dataclasses
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
from classifier.memory import ExerciseMemory, teach
from classifier.recipes import GYM_HOP, GymRecipe
from classifier.reps import count_reps
from classifier.runtime import WindowClassifier
from classifier.segmentation import REST, UNKNOWN
from classifier.set_scoring import WHOLE_RECORDING_SLACK_S
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
        save_artifact(out, final, ModelCard(**(fields | (card or {}))), data.windows)
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
    probabilities = classifier.predict_proba(known.X)
    evaluation = evaluate(y_true, probabilities.argmax(axis=1), card.labels)
    per_set = evaluate_sets(known.sets, y_true, probabilities, card.labels)
    skipped = {label: int((windows.y == windows.labels.index(label)).sum()) for label in unknown}
    return evaluation, {"windows": len(known), "skipped_unknown_labels": skipped, "sets": per_set.to_dict() if per_set else None}


def as_the_journal_finds_it(session: GymSession) -> GymSession:
    """A session whose one set covers its whole recording (set-up and waiting logged with the lift)
    labelled only over the lift the counter finds in it (reps.py), as the journal would show the set
    the athlete then names: what teaches a memory in the journal, and what it names."""
    rec = session.recording
    if len(session.sets) != 1 or session.sets[0].start_s > WHOLE_RECORDING_SLACK_S or \
            session.sets[0].end_s < rec.duration_s - WHOLE_RECORDING_SLACK_S:
        return session
    counted = count_reps(rec.samples, rec.channels, rec.rate_hz, find_lift=True)
    if counted.period_s is None or len(counted.times_s) < 2:
        return session
    first = max(0, int((counted.times_s[0] - counted.period_s / 2) * rec.rate_hz))
    last = int(np.ceil((counted.times_s[-1] + counted.period_s / 2) * rec.rate_hz))
    outside = np.ones(len(rec.samples), bool)
    outside[first:last] = False
    labels, set_ids = rec.labels.copy(), rec.set_ids.copy()
    labels[outside], set_ids[outside] = "", -1
    return dataclasses.replace(session, recording=dataclasses.replace(rec, labels=labels, set_ids=set_ids))


def evaluate_personal(model_dir: Path, test_folder: Path, teach_folder: Path, *, progress: bool = True) -> dict:
    """An athlete memory taught from one athlete's labelled sets in `teach_folder` (exercises the
    model does not know included) scoring the sets of `test_folder`, beside the model alone on the
    same windows: set accuracy, set macro-F1 and window accuracy of each. Sets that cover a whole
    recording count over the lift found in it, as the journal shows such a set."""
    classifier = WindowClassifier(model_dir)
    if classifier.head is None:
        raise ValueError(f"{model_dir} serves no embedding (made before embeddings were served): export it again")
    card = classifier.card
    recipe = GymRecipe(channels=tuple(card.channels), rate_hz=card.rate_hz, window=card.window, hop=card.hop)

    def labelled(folder: Path):
        windows = recipe.windows([as_the_journal_finds_it(s) for s in load_gym_folder(folder, progress=progress)])
        windows = windows.without_labels([label for label in (REST, UNKNOWN) if label in windows.labels])
        prediction = classifier.predict(windows.X)
        return windows, np.array([windows.labels[i] for i in windows.y]), prediction

    taught, taught_names, taught_prediction = labelled(teach_folder)
    memory = teach(card.labels, classifier.head, taught_prediction.embeddings, taught_names, taught.sets)
    tested, names, prediction = labelled(test_folder)
    exercises = [i for i, label in enumerate(card.labels) if label != REST]
    general_labels = [card.labels[i] for i in exercises]
    return {"model": str(model_dir), "data": str(test_folder), "personal": str(teach_folder), "sets_taught": memory.sets_taught,
            **named_sets(tested.sets, names, memory.probabilities(prediction.embeddings), list(memory.labels), memory,
                         prediction.embeddings),
            "general": named_sets(tested.sets, names, prediction.probabilities[:, exercises], general_labels)}


def named_sets(set_of_window: np.ndarray, names: np.ndarray, probabilities: np.ndarray, labels: list[str],
               memory: ExerciseMemory | None = None, embeddings: np.ndarray | None = None) -> dict:
    """Set accuracy, macro-F1 and each exercise's F1 (a set named by its windows' mean probability,
    or, given a memory and the windows' embeddings, as the memory names it) over the exercises of
    the sets, accuracy over the sets whose exercise is among `labels` (None if none is), and window
    accuracy."""
    from sklearn.metrics import f1_score

    keys = sorted(set(set_of_window.tolist()) - {""})
    truth = [names[set_of_window == key][0] for key in keys]
    named = [memory.name(embeddings[set_of_window == key]).exercise if memory is not None
             else labels[int(probabilities[set_of_window == key].mean(axis=0).argmax())] for key in keys]
    right = np.array(truth) == np.array(named)
    nameable = np.isin(truth, labels)
    exercises = sorted(set(truth))
    return {"sets": len(keys), "accuracy": float(right.mean()),
            "per_exercise_f1": dict(zip(exercises, f1_score(truth, named, labels=exercises, average=None, zero_division=0).tolist())),
            "accuracy_of_nameable": float(right[nameable].mean()) if nameable.any() else None,
            "macro_f1": float(f1_score(truth, named, labels=sorted(set(truth)), average="macro", zero_division=0)),
            "window_accuracy": float(np.mean(np.array(labels)[probabilities.argmax(axis=1)] == names))}
