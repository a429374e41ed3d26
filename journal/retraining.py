"""Learning from the labels: train a model on labelled recordings (and any gym-format datasets
beside them), hold out whole people, score the new model and the active one on the same
held-out recordings, and register the new one as a ModelVersion. Activating it stays a
deliberate act (admin action or `activate_model`)."""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import asdict
from pathlib import Path

from django.conf import settings
from django.utils import timezone

from classifier.card import ModelCard
from classifier.gymformat import load_gym_folder
from classifier.recipes import CHANNEL_SETS, GYM_ARCH, GYM_HOP, GymRecipe
from classifier.splits import folds
from classifier.training import TrainingConfig
from classifier.workflows import TrainingData, describe, evaluate_served, train_evaluate_export
from journal.labels import DATASET, export_labels, labelled_recordings
from journal.models import ModelVersion, TrainingRun
from journal.serving import serving_folder


def retrain(run: TrainingRun, *, progress: bool = False) -> ModelVersion:
    """Carry out `run`, reporting progress on it; its version once done. A failure is recorded on
    the run with its reason, and raised."""
    TrainingRun.objects.filter(pk=run.pk).update(status=TrainingRun.Status.RUNNING)
    try:
        version = _retrain(run, progress)
    except Exception as error:
        TrainingRun.objects.filter(pk=run.pk).update(status=TrainingRun.Status.FAILED, message=f"failed: {error}",
                                                     finished_at=timezone.now())
        raise
    TrainingRun.objects.filter(pk=run.pk).update(status=TrainingRun.Status.DONE, progress=1.0, version=version,
                                                 finished_at=timezone.now(), message=f"registered {version.name}")
    return version


def _retrain(run: TrainingRun, progress: bool) -> ModelVersion:
    recordings = labelled_recordings()
    if run.recordings:
        recordings = recordings.filter(pk__in=run.recordings)
    recordings = list(recordings)
    if not recordings:
        raise ValueError("no labelled recordings to learn from: mark some labelled on the labelling page first")
    run.report(0.02, f"exporting {len(recordings)} labelled recordings")
    with tempfile.TemporaryDirectory() as scratch:
        export_labels(Path(scratch) / DATASET, recordings)
        sessions = load_gym_folder(Path(scratch) / DATASET, progress=progress)
    for folder in run.datasets:
        sessions += load_gym_folder(Path(folder), progress=progress)
    channels = CHANNEL_SETS[run.channels]
    windows = GymRecipe(channels).windows(sessions)
    fold = next(folds(windows, "holdout"))  # one person of every dataset held out
    if not len(fold.train) or not len(fold.test):
        raise ValueError("the labelled data holds one person only: hold-out scoring needs recordings of at least two")
    fit, held_out = windows.subset(fold.train), windows.subset(fold.test)
    held_out_subjects = sorted(set(held_out.subjects.tolist()))

    active_folder = serving_folder(list(channels))
    active_card = ModelCard.load(active_folder)
    run.report(0.05, "scoring the active model on the held-out recordings")
    held_out_sessions = [s for s in sessions if s.subject in held_out_subjects]
    active, active_info = evaluate_served(active_folder, held_out_sessions, "the held-out recordings")

    run.report(0.06, f"training {GYM_ARCH} on {len(fit)} windows; {', '.join(held_out_subjects)} held out")
    config = TrainingConfig(arch=GYM_ARCH, epochs=run.epochs)
    name = f"journal-retrained-{run.channels.replace('+', '-')}"
    number, folder = _reserve_folder(name)

    def on_epoch(seed: int, epoch: int, logs: dict) -> None:
        done = (seed + (epoch + 1) / run.epochs) / run.seeds
        run.report(0.06 + 0.9 * done, f"seed {seed + 1} of {run.seeds}, epoch {epoch + 1} of at most {run.epochs}: "
                   f"val accuracy {logs.get('val_accuracy', 0):.3f}")

    try:
        # The held-out people as the official test part: the version is seed 0's model, which never
        # saw them; the other seeds measure the spread.
        summary = train_evaluate_export(
            TrainingData(DATASET, fit, held_out, GYM_HOP), split="official", config=config, seeds=list(range(run.seeds)),
            out=folder, progress=progress, on_epoch=on_epoch, title=f"{name}@{number} on held-out {', '.join(held_out_subjects)}",
            card={"name": name, "version": str(number), "split": f"holdout: {', '.join(held_out_subjects)}",
                  "training_data": {"datasets": [DATASET, *map(str, run.datasets)], "recordings": [str(r.pk) for r in recordings],
                                    **describe(fit), "recipe": asdict(config)},
                  "sets": active_card.sets},  # segmentation and counting as tuned for the served model
        )
        card = ModelCard.load(folder)
        return ModelVersion.objects.create(
            name=card.versioned_name, path=str(folder), channels=list(channels), metrics=card.metrics,
            recordings=[str(r.pk) for r in recordings],
            comparison={"held_out": held_out_subjects, "windows": len(held_out),
                        "new": {"name": card.versioned_name, **_scores(summary["per_seed"][0]), **card.metrics},
                        "active": {"name": active_card.versioned_name, **_scores(active.to_dict()),
                                   "windows": active_info["windows"],
                                   "skipped_unknown_labels": active_info["skipped_unknown_labels"]}},
        )
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)  # no half-written version left behind
        raise


def _reserve_folder(name: str) -> tuple[int, Path]:
    """The next version number of `name` and its folder, made here: creating the folder is what
    reserves the number, so two retrainings at once never write into one folder."""
    number = ModelVersion.objects.filter(name__startswith=f"{name}@").count() + 1
    while True:
        folder = Path(settings.JOURNAL_VERSION_DIR) / f"{name}-{number}"
        try:
            folder.mkdir(parents=True)
            return number, folder
        except FileExistsError:
            number += 1


def _scores(evaluation: dict) -> dict:
    """One model's scores (an `Evaluation.to_dict()`): accuracy, macro-F1 and each class's F1."""
    return {"accuracy": evaluation["accuracy"], "macro_f1": evaluation["macro_f1"],
            "per_class_f1": {label: s["f1"] for label, s in evaluation["per_class"].items()}}
