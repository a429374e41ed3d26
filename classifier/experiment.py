"""One recipe — architecture, data, split — run over several seeds: the held-out predictions of
every seed scored, summarised as mean ± sd, and drawn."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import keras
import numpy as np
from tqdm import tqdm

from classifier.evaluation import Evaluation, evaluate, evaluate_sets, summarize
from classifier.mirror import mirror_images
from classifier.plots import confusion_png, curves_png
from classifier.splits import folds
from classifier.training import TrainingConfig, predict, train
from classifier.windows import WindowSet


EpochCallback = Callable[[int, int, dict], None]  # (seed, epoch, logs) after each epoch: progress for elsewhere than a terminal


@dataclass(frozen=True)
class SeedResult:
    seed: int
    evaluation: Evaluation  # on all held-out windows of this seed (pooled over folds)
    set_evaluation: Evaluation | None  # per exercise set (gym data), windows voting by mean probability
    histories: list[dict[str, list[float]]]  # one per fold
    train_seconds: float  # per model trained (mean over folds)
    model: keras.Model | None  # the official split's model; None for cross-validation
    other_arm: Evaluation | None = None  # the held-out windows' mirror images: the same people, the device on their other arm


def run_official(train_set: WindowSet, test_set: WindowSet, config: TrainingConfig, seeds: list[int], *, progress=True,
                 on_epoch: EpochCallback | None = None) -> list[SeedResult]:
    """Train on the training set, score on the test set, once per seed."""
    results = []
    for seed in seeds:
        trained = train(train_set, config, seed=seed, progress=progress, on_epoch=_for_seed(on_epoch, seed))
        probabilities = predict(trained.model, test_set.X)
        results.append(SeedResult(seed, *_scores(test_set, probabilities), [trained.history], trained.seconds, trained.model))
    return results


def run_cross_validation(windows: WindowSet, split: str, config: TrainingConfig, seeds: list[int], *, progress=True,
                         on_epoch: EpochCallback | None = None) -> list[SeedResult]:
    """Each fold's model predicts only its held-out subjects (or days); those predictions, pooled
    over the folds, are scored once per seed."""
    results = []
    split_folds = list(folds(windows, split))
    mirrorable = windows.limb_axes is not None and bool((windows.limb_axes >= 0).all())
    for seed in seeds:
        probabilities = np.zeros((len(windows), len(windows.labels)), np.float32)
        other_arm = np.zeros_like(probabilities)
        tested = np.zeros(len(windows), bool)  # every window for loso/kfold/by-day; the held-out part for holdout
        histories, seconds = [], []
        for fold in tqdm(split_folds, desc=f"{config.arch} {split} seed {seed}", unit="fold", disable=not progress):
            trained = train(windows.subset(fold.train), config, seed=seed, progress=False, on_epoch=_for_seed(on_epoch, seed))
            probabilities[fold.test] = predict(trained.model, windows.X[fold.test])
            if mirrorable:
                other_arm[fold.test] = predict(trained.model, mirror_images(windows.subset(fold.test)))
            tested[fold.test] = True
            histories.append(trained.history)
            seconds.append(trained.seconds)
            keras.backend.clear_session()
        scores = _scores(windows.subset(tested), probabilities[tested])
        other = evaluate(windows.y[tested], other_arm[tested].argmax(axis=1), windows.labels) if mirrorable else None
        results.append(SeedResult(seed, *scores, histories, float(np.mean(seconds)), None, other))
    return results


def _for_seed(on_epoch: EpochCallback | None, seed: int):
    return None if on_epoch is None else lambda epoch, logs: on_epoch(seed, epoch, logs)


def _scores(windows: WindowSet, probabilities: np.ndarray) -> tuple[Evaluation, Evaluation | None]:
    return (
        evaluate(windows.y, probabilities.argmax(axis=1), windows.labels),
        evaluate_sets(windows.sets, windows.y, probabilities, windows.labels),
    )


def report(results: list[SeedResult], out_dir: Path | None, title: str) -> dict:
    """The summary over seeds; with `out_dir`, also report.json, confusion.png and curves.png there."""
    summary = summarize([r.evaluation for r in results])
    summary["train_seconds_mean"] = float(np.mean([r.train_seconds for r in results]))
    summary["per_seed"] = [{"seed": r.seed, **r.evaluation.to_dict()} for r in results]
    if results[0].set_evaluation is not None:
        summary["sets"] = summarize([r.set_evaluation for r in results])
    if results[0].other_arm is not None:
        summary["other_arm"] = summarize([r.other_arm for r in results])
    if out_dir is not None:
        out_dir.mkdir(parents=True, exist_ok=True)
        (out_dir / "report.json").write_text(json.dumps(summary, indent=2) + "\n")
        confusion_png(summary["confusion_summed"], summary["labels"], out_dir / "confusion.png",
                      f"{title}\nheld-out windows, {len(results)} seed(s) summed")
        curves_png([h for r in results for h in r.histories], out_dir / "curves.png", title)
    return summary
