"""`bench sets-reps`: find the sets of every recording of a gym-format folder and count their
repetitions, scored against the folder's sets.csv.

Without a model, one is trained per fold, leaving each subject out (each workout day when the
folder has one subject), and it segments only the recordings of the people it did not see. With
a model, that model segments every recording. Every figure is given for the channels a folder
has and again for the gyroscope alone (the product watch's channels).
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import keras
import numpy as np
from tqdm import tqdm

from classifier.channels import ACC, GYRO
from classifier.gymformat import GymSession, load_gym_folder
from classifier.plots import recording_png
from classifier.recipes import GYM_ARCH, GymRecipe
from classifier.reps import count_reps
from classifier.runtime import WindowClassifier, choose_artifact
from classifier.set_scoring import RecordingResult, match, score
from classifier.splits import folds
from classifier.training import TrainingConfig, predict, train
from classifier.set_finder import ModelInput, SetFinder

GYM_FOLDERS = ("exermote_upperarm", "barbell_metamotion", "spar_shoulder_physio_seglearn", "muvr", "applewatch_gym_sensorlogger")


def channel_variants(sessions: list[GymSession]) -> dict[str, tuple[str, ...]]:
    """The channels every recording of a folder has, and the gyroscope alone where that differs."""
    common = set.intersection(*(set(s.recording.channels) for s in sessions))
    have = tuple(name for name in ACC + GYRO if name in common)
    variants = {"+".join(sorted({name[:3] for name in have})): have}
    if set(GYRO) <= set(have) and have != GYRO:
        variants["gyr"] = GYRO
    return variants


def evaluate_recordings(sessions: list[GymSession], channels: tuple[str, ...], finder: SetFinder) -> list[RecordingResult]:
    results = []
    for session in sessions:
        rec = session.recording
        samples = rec.samples[:, [rec.channels.index(name) for name in channels]]
        found = finder.find(samples, list(channels), rec.rate_hz)
        given = tuple(
            count_reps(samples[int(t.start_s * rec.rate_hz):int(np.ceil(t.end_s * rec.rate_hz))], list(channels), rec.rate_hz,
                       finder.config.reps).count
            for t in session.sets
        )
        results.append(RecordingResult(f"{session.dataset}/{session.name}", session.sets, tuple(found), given,
                                       frozenset(finder.model.labels), rec.duration_s))
    return results


def held_out_finders(sessions: list[GymSession], channels: tuple[str, ...], *, training: TrainingConfig, seed: int,
                     progress: bool, unseen: tuple[str, ...] = ()) -> Iterator[tuple[list[GymSession], SetFinder]]:
    """For each person (or day) left out: a model trained on the others (never on the `unseen`
    exercises), and the recordings it may judge."""
    recipe = GymRecipe(channels=channels)
    windows = recipe.windows(sessions, exclude=unseen)
    by_day = len({s.subject for s in sessions}) == 1
    group_of = (lambda s: s.day) if by_day else (lambda s: s.subject)
    split_folds = list(folds(windows, "by-day" if by_day else "loso"))
    for fold in tqdm(split_folds, desc=f"training per fold ({'+'.join(sorted({c[:3] for c in channels}))})", unit="fold",
                     disable=not progress):
        held_out = set((windows.days if by_day else windows.subjects)[fold.test].tolist())
        trained = train(windows.subset(fold.train), training, seed=seed, progress=False)
        model = ModelInput(windows.labels, list(channels), recipe.rate_hz, recipe.window, recipe.hop)
        yield [s for s in sessions if group_of(s) in held_out], SetFinder(model, lambda X, m=trained.model: predict(m, X))
        keras.backend.clear_session()


def artefact_finder(model_dirs: list[Path], channels: tuple[str, ...]) -> tuple[SetFinder, str] | None:
    try:
        folder = choose_artifact(model_dirs, list(channels))
    except LookupError:
        return None
    return SetFinder.served(WindowClassifier(folder)), str(folder)


def bench_folder(folder: Path, *, model_dirs: list[Path] | None, training: TrainingConfig, seed: int, plots: Path | None,
                 progress: bool, unseen: tuple[str, ...] = ()) -> dict:
    """Every channel variant; with `unseen` exercises (and no given model), one more run on all
    channels with models that never saw them: are their sets still found, and named unknown?"""
    sessions = [s for s in load_gym_folder(folder, progress=progress) if s.sets]
    out: dict = {"recordings": len(sessions)}
    variants = [(variant, channels, ()) for variant, channels in channel_variants(sessions).items()]
    present = sorted(set(unseen) & {t.exercise for s in sessions for t in s.sets})
    if present and model_dirs is None:
        variants.append((f"{variants[0][0]} without {'+'.join(present)}", variants[0][1], tuple(present)))
    for variant, channels, excluded in variants:
        results: list[RecordingResult] = []
        if model_dirs is None:
            for judged, finder in held_out_finders(sessions, channels, training=training, seed=seed, progress=progress,
                                                   unseen=excluded):
                results += evaluate_recordings(judged, channels, finder)
            split = "by day" if len({s.subject for s in sessions}) == 1 else "leave one subject out"
            stopping = "early stopping" if training.early_stopping else f"all {training.epochs} epochs"
            model_note = f"{training.arch} trained per fold ({split}, {stopping})"
        else:
            served = artefact_finder(model_dirs, channels)
            if served is None:
                out[variant] = {"skipped": f"no model reads only {', '.join(channels)}"}
                continue
            finder, model_note = served
            results = evaluate_recordings(sessions, channels, finder)
        out[variant] = {"channels": list(channels), "model": model_note, **score(results)}
        if plots:
            _plot_examples(sessions, results, channels, plots / folder.name / variant)
    return out


def _plot_examples(sessions: list[GymSession], results: list[RecordingResult], channels, out: Path, per_kind: int = 3) -> None:
    """Every continuous recording (more than one set), and the best and worst counted single sets."""
    out.mkdir(parents=True, exist_ok=True)
    by_name = {f"{s.dataset}/{s.name}": s for s in sessions}

    def count_error(r: RecordingResult) -> float:
        pairs = [(r.true_sets[i], r.found[j]) for i, j in match(r.true_sets, r.found, same_exercise=False).items()]
        errors = [abs(f.reps - t.reps) for t, f in pairs if t.reps is not None]
        return max(errors) if errors else np.inf

    single = sorted((r for r in results if len(r.true_sets) == 1), key=count_error)
    chosen = [r for r in results if len(r.true_sets) > 1] + single[:per_kind] + single[-per_kind:]
    for r in chosen:
        rec = by_name[r.recording].recording
        samples = rec.samples[:, [rec.channels.index(name) for name in channels]]
        name = r.recording.rsplit("/", 1)[-1]
        recording_png(samples, list(channels), rec.rate_hz, out / f"{name}.png", r.recording, true_sets=r.true_sets, found_sets=r.found)


def run(folders: list[Path], *, model_dirs: list[Path] | None = None, training: TrainingConfig = TrainingConfig(arch=GYM_ARCH),
        seed: int = 0, plots: Path | None = None, progress: bool = True, unseen: tuple[str, ...] = ()) -> dict:
    return {"datasets": {folder.name: bench_folder(folder, model_dirs=model_dirs, training=training, seed=seed, plots=plots,
                                                   progress=progress, unseen=unseen) for folder in folders}}


COLUMNS = (
    ("set_precision", "set P"), ("set_recall", "set R"), ("set_detection_precision", "any name P"),
    ("set_detection_recall", "any name R"), ("boundary_error_s_median", "bound s"),
    ("exercise_accuracy", "exer acc"), ("reps_within_1", "±1"), ("reps_exact", "exact"), ("reps_mae", "MAE"),
    ("reps_within_1_given_sets", "±1 true sets"), ("reps_mae_given_sets", "MAE true sets"),
    ("reps_within_1_whole_recording", "±1 whole rec"), ("reps_mae_whole_recording", "MAE whole rec"),
    ("reps_bias_whole_recording", "bias whole rec"), ("false_sets_per_hour", "false sets/h"),
    ("unseen_exercise_found", "unseen found"), ("unseen_exercise_named_unknown", "→ unknown"),
)


def table(results: dict) -> str:
    header = f"{'dataset':<32} {'channels':<22} {'sets':>5} " + " ".join(f"{title:>13}" for _, title in COLUMNS)
    lines = [header, "-" * len(header)]
    for dataset, variants in results["datasets"].items():
        for variant, scores in variants.items():
            if not isinstance(scores, dict):
                continue
            if "skipped" in scores:
                lines.append(f"{dataset:<32} {variant:<22} {scores['skipped']}")
                continue
            cells = " ".join(f"{_cell(scores.get(key)):>13}" for key, _ in COLUMNS)
            lines.append(f"{dataset:<32} {variant:<22} {scores['sets']:>5} {cells}")
    return "\n".join(lines)


def _cell(value) -> str:
    return "–" if value is None else f"{value:.3f}" if isinstance(value, float) else str(value)

