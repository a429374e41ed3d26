"""Scoring found sets and counted repetitions against a dataset's stated sets.

A true set is found when a detected set of the same exercise overlaps it with intersection over
union ≥ 0.5 (each detection matches at most one true set); it is detected when a set of any
name does — finding the lift and naming it are told apart. Counting is scored twice: on the
sets found (segmentation and counting errors together) and on the true boundaries (the counter
alone), so the two kinds of error can be told apart.

Where a dataset's set covers its whole recording — set-up, waiting and walking away included,
as a lifter records one set at a time — the count that matters is the recording's: all the
repetitions found in it against the logged count ("whole recording"). Where recordings hold
rests between sets, a found set that overlaps no true set is a false set; they are counted per
hour of the time outside the true sets.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from classifier.gymformat import TrueSet
from classifier.segmentation import UNKNOWN
from classifier.set_finder import FoundSet

MATCH_IOU = 0.5
PLAUSIBLE_S_PER_REP = 1.0  # a logged count implying faster repetitions comes from a cut-short recording
WHOLE_RECORDING_SLACK_S = 1.0  # a set this close to both ends of its recording covers it


@dataclass(frozen=True)
class RecordingResult:
    recording: str
    true_sets: tuple[TrueSet, ...]
    found: tuple[FoundSet, ...]
    counted_on_true_sets: tuple[int, ...]  # the counter's count on each true set's own boundaries
    model_exercises: frozenset[str] = frozenset()  # what the model knows; others should come out "unknown"
    duration_s: float = 0.0

    @property
    def whole_recording_set(self) -> TrueSet | None:
        """The one true set, when it covers the whole recording."""
        if len(self.true_sets) != 1:
            return None
        only = self.true_sets[0]
        covers = only.start_s <= WHOLE_RECORDING_SLACK_S and only.end_s >= self.duration_s - WHOLE_RECORDING_SLACK_S
        return only if covers and only.reps is not None else None


def iou(a: tuple[float, float], b: tuple[float, float]) -> float:
    overlap = max(0.0, min(a[1], b[1]) - max(a[0], b[0]))
    union = max(a[1], b[1]) - min(a[0], b[0])
    return overlap / union if union > 0 else 0.0


def plausible(true_set: TrueSet) -> bool:
    return true_set.reps is not None and (true_set.end_s - true_set.start_s) / true_set.reps >= PLAUSIBLE_S_PER_REP


def match(true_sets: tuple[TrueSet, ...], found: tuple[FoundSet, ...], *, same_exercise: bool = True) -> dict[int, int]:
    """Index of true set → index of the found set matched to it, greedily by overlap."""
    pairs = sorted(
        ((iou((t.start_s, t.end_s), (f.start_s, f.end_s)), i, j) for i, t in enumerate(true_sets) for j, f in enumerate(found)
         if not same_exercise or t.exercise == f.exercise),
        reverse=True,
    )
    matched: dict[int, int] = {}
    for overlap, i, j in pairs:
        if overlap >= MATCH_IOU and i not in matched and j not in matched.values():
            matched[i] = j
    return matched


def score(results: list[RecordingResult]) -> dict:
    n_true = sum(len(r.true_sets) for r in results)
    n_found = sum(len(r.found) for r in results)
    matched_pairs, overlapping_pairs = [], []
    for r in results:
        matched_pairs += [(r.true_sets[i], r.found[j]) for i, j in match(r.true_sets, r.found).items()]
        overlapping_pairs += [(r.true_sets[i], r.found[j]) for i, j in match(r.true_sets, r.found, same_exercise=False).items()]
    boundary_errors = [abs(f.start_s - t.start_s) for t, f in matched_pairs] + [abs(f.end_s - t.end_s) for t, f in matched_pairs]
    found_counts = [(t, f.reps) for t, f in matched_pairs if t.reps is not None]
    given_counts = [(t, c) for r in results for t, c in zip(r.true_sets, r.counted_on_true_sets) if t.reps is not None]
    whole_counts = _whole_recording_counts(results)
    return {
        "sets": n_true,
        "sets_found": n_found,
        "set_precision": len(matched_pairs) / n_found if n_found else None,
        "set_recall": len(matched_pairs) / n_true if n_true else None,
        "set_detection_precision": len(overlapping_pairs) / n_found if n_found else None,
        "set_detection_recall": len(overlapping_pairs) / n_true if n_true else None,
        "boundary_error_s_median": float(np.median(boundary_errors)) if boundary_errors else None,
        "exercise_accuracy": (sum(t.exercise == f.exercise for t, f in overlapping_pairs) / len(overlapping_pairs)
                              if overlapping_pairs else None),
        **_count_scores(found_counts, ""),
        "reps_per_exercise": _per_exercise(found_counts),
        **_count_scores(given_counts, "_given_sets"),
        "reps_per_exercise_given_sets": _per_exercise(given_counts),
        **_unseen_exercises(results),
        "plausible_counts_only": {
            **_count_scores([(t, c) for t, c in found_counts if plausible(t)], ""),
            **_count_scores([(t, c) for t, c in given_counts if plausible(t)], "_given_sets"),
            **_count_scores([(t, c) for t, c in whole_counts if plausible(t)], "_whole_recording"),
        },
        **_count_scores(whole_counts, "_whole_recording"),
        "reps_per_exercise_whole_recording": _per_exercise(whole_counts),
        "lift_share_median_whole_recording": _lift_share(results),
        **_false_sets(results),
    }


def _whole_recording_counts(results: list[RecordingResult]) -> list[tuple[TrueSet, int]]:
    """(the logged set, all the repetitions found in its recording) for every recording one set covers."""
    return [(r.whole_recording_set, sum(f.reps for f in r.found)) for r in results if r.whole_recording_set is not None]


def _lift_share(results: list[RecordingResult]) -> float | None:
    """The median share of a whole-recording set's recording that the found sets take up: how
    much of the set-up and waiting around the lift was left out."""
    shares = [sum(f.duration_s for f in r.found) / r.duration_s for r in results if r.whole_recording_set is not None]
    return float(np.median(shares)) if shares else None


def _false_sets(results: list[RecordingResult]) -> dict:
    """Found sets that overlap no true set, per hour of the recordings' time outside the true sets
    (recordings one set covers whole have none)."""
    false_sets, outside_s = 0, 0.0
    for r in results:
        if r.whole_recording_set is not None or not r.duration_s:
            continue
        false_sets += sum(not any(iou((f.start_s, f.end_s), (t.start_s, t.end_s)) > 0 for t in r.true_sets) for f in r.found)
        outside_s += max(0.0, r.duration_s - sum(t.end_s - t.start_s for t in r.true_sets))
    return {"false_sets": false_sets, "hours_outside_sets": outside_s / 3600,
            "false_sets_per_hour": false_sets / (outside_s / 3600) if outside_s else None}


def _unseen_exercises(results: list[RecordingResult]) -> dict:
    """Sets of exercises the model was not trained on: are they still found, and named unknown
    rather than forced into a known class? And how often is a known exercise called unknown?"""
    unseen = found_unseen = named_unknown = known_found = known_called_unknown = 0
    for r in results:
        overlapping = match(r.true_sets, r.found, same_exercise=False)
        for i, true_set in enumerate(r.true_sets):
            found = r.found[overlapping[i]] if i in overlapping else None
            if true_set.exercise in r.model_exercises:
                known_found += found is not None
                known_called_unknown += found is not None and found.exercise == UNKNOWN
                continue
            unseen += 1
            found_unseen += found is not None
            named_unknown += found is not None and found.exercise == UNKNOWN
    return {
        "unseen_exercise_sets": unseen,
        "unseen_exercise_found": found_unseen / unseen if unseen else None,
        "unseen_exercise_named_unknown": named_unknown / found_unseen if found_unseen else None,
        "known_exercise_called_unknown": known_called_unknown / known_found if known_found else None,
    }


def _count_scores(counts: list[tuple[TrueSet, int]], suffix: str) -> dict:
    errors = np.array([c - t.reps for t, c in counts])
    if not len(errors):
        return {f"reps_sets{suffix}": 0, f"reps_within_1{suffix}": None, f"reps_exact{suffix}": None, f"reps_mae{suffix}": None}
    return {
        f"reps_sets{suffix}": len(errors),
        f"reps_within_1{suffix}": float(np.mean(np.abs(errors) <= 1)),
        f"reps_exact{suffix}": float(np.mean(errors == 0)),
        f"reps_mae{suffix}": float(np.mean(np.abs(errors))),
        f"reps_bias{suffix}": float(np.mean(errors)),
    }


def _per_exercise(counts: list[tuple[TrueSet, int]]) -> dict:
    by_exercise: dict[str, list[int]] = {}
    for t, c in counts:
        by_exercise.setdefault(t.exercise, []).append(c - t.reps)
    return {
        exercise: {"sets": len(errors), "within_1": float(np.mean(np.abs(errors) <= 1)), "mae": float(np.mean(np.abs(errors)))}
        for exercise, errors in sorted(by_exercise.items())
    }
