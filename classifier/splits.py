"""Train/test splits by person or by day, never by window: overlapping windows of one person on
both sides would grade the model on data it has as good as seen."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

import numpy as np
from sklearn.model_selection import GroupKFold, LeaveOneGroupOut

from classifier.windows import WindowSet

SPLITS = ("official", "loso", "kfold", "by-day", "holdout")


@dataclass(frozen=True)
class Fold:
    name: str  # what is held out, e.g. "subject A"
    train: np.ndarray  # indices into the WindowSet
    test: np.ndarray


def folds(windows: WindowSet, split: str, *, k: int = 5, official_test: WindowSet | None = None) -> Iterator[Fold]:
    """The folds of `split`: "loso" leaves each subject out once, "kfold" makes k folds of whole
    subjects, "by-day" leaves each workout day out once, "holdout" is a single fold holding out
    one subject of every dataset (subjects are named "dataset/person"). "official" is the
    dataset's own split and is given as separate train/test sets, so it is not produced here."""
    if split == "holdout":
        yield _holdout(windows)
        return
    if split == "loso":
        groups = windows.subjects
        splitter = LeaveOneGroupOut()
    elif split == "kfold":
        groups = windows.subjects
        splitter = GroupKFold(n_splits=min(k, len(np.unique(groups))))
    elif split == "by-day":
        if (windows.days == "").any():
            raise ValueError("split by day needs a workout day for every recording; this data has none for some")
        groups = windows.days
        splitter = LeaveOneGroupOut()
    else:
        raise ValueError(f"unknown split {split!r}; one of {', '.join(SPLITS[1:])}")
    for train, test in splitter.split(windows.X, windows.y, groups):
        held_out = ", ".join(sorted(np.unique(groups[test])))
        yield Fold(name=held_out, train=train, test=test)


def _holdout(windows: WindowSet, seed: int = 0) -> Fold:
    rng = np.random.default_rng(seed)
    subjects = np.unique(windows.subjects)
    datasets = sorted({subject.rsplit("/", 1)[0] for subject in subjects})
    chosen = [rng.choice([s for s in subjects if s.rsplit("/", 1)[0] == dataset]) for dataset in datasets]
    test = np.isin(windows.subjects, chosen)
    return Fold(name=", ".join(sorted(chosen)), train=np.flatnonzero(~test), test=np.flatnonzero(test))


def validation_mask(windows: WindowSet, *, fraction: float = 0.2, seed: int = 0) -> np.ndarray:
    """Which of these *training* windows to keep aside for early stopping.

    Whole subjects when there are at least five to draw from; with fewer (a gym set of four
    people, one left out for testing) a subject cannot be spared, so whole recordings are drawn
    instead — never single windows, which would overlap their neighbours in training."""
    groups = windows.subjects if len(np.unique(windows.subjects)) >= 5 else windows.sessions
    unique = np.unique(groups)
    if len(unique) < 2:
        raise ValueError("a validation split needs at least two training subjects or recordings")
    n_val = min(max(1, round(fraction * len(unique))), len(unique) - 1)
    chosen = np.random.default_rng(seed).choice(unique, n_val, replace=False)
    return np.isin(groups, chosen)
