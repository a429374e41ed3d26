"""Folders in the uniform gym format (../shared/data/README.md): sessions.csv, sets.csv and
sessions/*.csv.gz with t, acc_*, gyr_*, label, set_id. Any user-made folder in this format works.

A file is put on a uniform time grid at its median sampling interval: source jitter and short
gaps are smoothed over by linear interpolation, labels take the nearest sample's.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm import tqdm

from classifier.channels import ACC, SENSOR_CHANNELS
from classifier.mirror import limb_axis
from classifier.preprocessing import resample
from classifier.windows import WindowSet, cut_windows, window_starts

REST = "rest"


@dataclass(frozen=True)
class GymRecording:
    samples: np.ndarray  # float32 (samples, channels) on a uniform grid
    channels: list[str]
    rate_hz: float
    labels: np.ndarray  # str per sample; "" where the file has none
    set_ids: np.ndarray  # int per sample; -1 outside sets

    @property
    def duration_s(self) -> float:
        return len(self.samples) / self.rate_hz

    @classmethod
    def unlabelled(cls, samples: np.ndarray, channels: list[str], rate_hz: float) -> GymRecording:
        return cls(samples=samples, channels=channels, rate_hz=rate_hz,
                   labels=np.full(len(samples), ""), set_ids=np.full(len(samples), -1))


def read_gym_csv(path: Path | str) -> GymRecording:
    """A gym-format CSV (.csv or .csv.gz) on a uniform grid; a ValueError that says what is wrong
    with a file that is not one (corrupt or truncated gzip, not text, not numbers, no time axis)."""
    try:
        frame = pd.read_csv(path, dtype={"label": "string"})  # an unlabelled file's empty column stays text
    except (OSError, EOFError, zlib.error, UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError) as error:
        if isinstance(error, FileNotFoundError):
            raise
        raise ValueError(f"{path}: not a readable CSV file ({type(error).__name__}: {error})") from None
    if "t" not in frame.columns:
        raise ValueError(f"{path}: no 't' column; not a gym-format CSV")
    channels = [name for name in SENSOR_CHANNELS if name in frame.columns and frame[name].notna().any()]
    if not channels:
        raise ValueError(f"{path}: none of the channels {', '.join(SENSOR_CHANNELS)} has values")
    try:
        t = frame["t"].to_numpy(dtype=np.float64)
        values = frame[channels].to_numpy(dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"{path}: 't' and the channels must hold numbers") from None
    try:
        samples, rate_hz, grid = on_uniform_grid(t, values)
    except ValueError as error:
        raise ValueError(f"{path}: 't' {error}") from None
    nearest = np.clip(np.searchsorted(t, grid - 0.5 / rate_hz), 0, len(t) - 1)
    labels = frame["label"].fillna("").to_numpy(dtype=str) if "label" in frame else np.full(len(t), "")
    set_ids = pd.to_numeric(frame["set_id"], errors="coerce").fillna(-1).to_numpy(np.int64) if "set_id" in frame else np.full(len(t), -1)
    return GymRecording(samples=samples, channels=channels, rate_hz=rate_hz, labels=labels[nearest], set_ids=set_ids[nearest])


def on_uniform_grid(t: np.ndarray, values: np.ndarray, rate_hz: float | None = None) -> tuple[np.ndarray, float, np.ndarray]:
    """Samples at times `t` (s) on a uniform grid at `rate_hz` (default: their median interval's),
    by linear interpolation: (float32 samples, rate in Hz, the grid's times). A ValueError (that
    completes the sentence "'t' …") for times that are not strictly increasing, or so far apart
    that the grid would be mostly made up."""
    if len(t) < 2 or not np.isfinite(t).all() or np.any(np.diff(t) <= 0):
        raise ValueError("must be strictly increasing with at least two samples")
    rate_hz = rate_hz or float(np.round(1.0 / np.median(np.diff(t)), 3))
    if (t[-1] - t[0]) * rate_hz > 20 * len(t):  # gaps, or a stray time
        raise ValueError(f"spans {t[-1] - t[0]:g} s, far more than {len(t)} samples at {rate_hz:g} Hz cover")
    grid = np.arange(int(np.floor((t[-1] - t[0]) * rate_hz + 1e-9)) + 1) / rate_hz + t[0]
    samples = np.column_stack([np.interp(grid, t, values[:, i]) for i in range(values.shape[1])])
    # Finite values beyond float32 would become ±inf: kept as the largest float32 instead, so that
    # a check of the values says "out of range" for them, not "not a number".
    largest = np.finfo(np.float32).max
    samples = np.where(np.isfinite(samples), np.clip(samples, -largest, largest), samples)
    return samples.astype(np.float32), rate_hz, grid


def write_gym_csv(path: Path | str, recording: GymRecording) -> None:
    table = pd.DataFrame(recording.samples, columns=recording.channels)
    table.insert(0, "t", np.arange(len(recording.samples)) / recording.rate_hz)
    table["label"] = recording.labels
    table["set_id"] = pd.array(np.where(recording.set_ids >= 0, recording.set_ids, pd.NA), dtype="Int64")
    # float32 columns print their shortest exact form; a gzip header without a time makes the same
    # recording the same file, byte for byte.
    compression = {"method": "gzip", "mtime": 0} if str(path).endswith(".gz") else None
    table.to_csv(path, index=False, compression=compression)


@dataclass(frozen=True)
class TrueSet:
    """An exercise set as a dataset's sets.csv states it: the truth sets and reps are scored against."""

    set_id: int
    exercise: str
    start_s: float
    end_s: float
    reps: int | None  # None where the source has no count
    reps_source: str  # how the count was obtained (protocol value, logged, paced by an app …)
    rep_starts_s: tuple[float, ...] = ()  # every repetition's start, where the source has them


@dataclass(frozen=True)
class GymSession:
    """One recording of a dataset folder, with who did it and when, and its sets."""

    name: str  # the session_file without folder and extension
    dataset: str
    subject: str
    day: str
    recording: GymRecording
    sets: tuple[TrueSet, ...] = ()
    side: str = ""  # the arm the device was on, "left" or "right"; "" where the folder does not say


def load_gym_folder(folder: Path | str, *, progress: bool = True) -> list[GymSession]:
    folder = Path(folder)
    index_path = folder / "sessions.csv"
    if not index_path.is_file():
        raise FileNotFoundError(f"{folder} is not a gym-format folder: it has no sessions.csv")
    index = pd.read_csv(index_path, dtype=str).fillna("")
    sets = _true_sets(folder / "sets.csv")
    sessions = []
    for row in tqdm(index.itertuples(), total=len(index), desc=f"reading {folder.name}", unit="file", disable=not progress):
        day = getattr(row, "workout_date", "") or getattr(row, "recording_start_local", "")[:10]
        sessions.append(GymSession(
            name=Path(row.session_file).name.removesuffix(".gz").removesuffix(".csv"),
            dataset=getattr(row, "dataset", "") or folder.name,
            subject=f"{folder.name}/{row.subject or 'unknown'}",
            day=day,
            recording=read_gym_csv(folder / row.session_file),
            sets=sets.get(row.session_file, ()),
            side=_side(row),
        ))
    return sessions


def _side(row) -> str:
    """sessions.csv's `exercised_side` (SPAR), else the side its `placement` names ("left wrist")."""
    said = getattr(row, "exercised_side", "") or getattr(row, "placement", "")
    words = said.lower().replace("(", " ").split()
    sides = {"left", "right"} & set(words)
    return sides.pop() if len(sides) == 1 else ""


def _true_sets(path: Path) -> dict[str, tuple[TrueSet, ...]]:
    """sets.csv by session_file; a folder without one has no stated sets."""
    if not path.is_file():
        return {}
    table = pd.read_csv(path, dtype={"reps_source": str, "rep_starts_s": str})
    by_file: dict[str, list[TrueSet]] = {}
    for row in table.itertuples():
        rep_starts = getattr(row, "rep_starts_s", "")
        by_file.setdefault(row.session_file, []).append(TrueSet(
            set_id=int(row.set_id), exercise=row.exercise, start_s=float(row.start_s), end_s=float(row.end_s),
            reps=None if pd.isna(row.reps) else int(row.reps),
            reps_source="" if pd.isna(row.reps_source) else row.reps_source,
            rep_starts_s=tuple(float(t) for t in rep_starts.split(";")) if isinstance(rep_starts, str) and rep_starts else (),
        ))
    return {name: tuple(found) for name, found in by_file.items()}


def gym_windows(
    sessions: list[GymSession], *, rate_hz: float, channels: tuple[str, ...] | list[str], length: int, hop: int,
    labels: list[str] | None = None,
) -> WindowSet:
    """Windows whose samples all carry one label and lie in one set (windows across a set
    boundary are left out).

    `labels` fixes the classes and their order; windows of other labels are dropped. Without it,
    every label found becomes a class, in sorted order. Sessions lacking one of `channels` are skipped.
    """
    pieces = [
        _labelled_windows(session, rate_hz, channels, length, hop)
        for session in sessions if set(channels) <= set(session.recording.channels)
    ]
    classes = list(labels) if labels is not None else sorted({str(label) for _, _, found, _, _ in pieces for label in found})
    class_index = {label: i for i, label in enumerate(classes)}
    limb_axes = _limb_axes(sessions)
    columns: dict[str, list] = {name: [] for name in ("X", "y", "subjects", "sessions", "days", "starts", "sets", "limb_axes",
                                                      "sides")}
    for session, X, found, starts, set_ids in pieces:
        keep = np.isin(found, classes)
        columns["X"].append(X[keep])
        columns["y"].append(np.array([class_index[label] for label in found[keep]], dtype=np.int64))
        columns["subjects"].append(np.full(keep.sum(), session.subject))
        columns["sessions"].append(np.full(keep.sum(), f"{session.dataset}/{session.name}"))
        columns["days"].append(np.full(keep.sum(), session.day))
        columns["starts"].append(starts[keep])
        columns["sets"].append(np.array([f"{session.dataset}/{session.name}#{i}" if i >= 0 else "" for i in set_ids[keep]]))
        columns["limb_axes"].append(np.full(keep.sum(), limb_axes.get(session.dataset, -1)))
        columns["sides"].append(np.full(keep.sum(), session.side))
    if not sum(len(y) for y in columns["y"]):
        raise ValueError(f"no whole {length}-sample window with channels {', '.join(channels)} and a label in {classes}")
    merged = {name: np.concatenate(parts) for name, parts in columns.items()}
    return WindowSet(labels=classes, channels=list(channels), rate_hz=rate_hz, **merged)


def _limb_axes(sessions: list[GymSession]) -> dict[str, int]:
    """Each dataset's device axis along the arm (classifier.mirror), from its recordings with an
    accelerometer: one device, worn one way, per dataset."""
    acc_means: dict[str, list[np.ndarray]] = {}
    for session in sessions:
        rec = session.recording
        if set(ACC) <= set(rec.channels):
            acc_means.setdefault(session.dataset, []).append(rec.samples[:, [rec.channels.index(c) for c in ACC]].mean(axis=0))
    return {dataset: limb_axis(means) for dataset, means in acc_means.items()}


def _labelled_windows(session: GymSession, rate_hz: float, channels, length: int, hop: int):
    rec = session.recording
    samples = resample(rec.samples[:, [rec.channels.index(c) for c in channels]], rec.rate_hz, rate_hz)
    at_source = np.minimum(np.round(np.arange(len(samples)) * rec.rate_hz / rate_hz).astype(int), len(rec.labels) - 1)
    starts = window_starts(len(samples), length, hop)
    if not len(starts):
        return session, np.empty((0, length, len(channels)), np.float32), np.empty(0, str), starts, starts
    window_labels = np.lib.stride_tricks.sliding_window_view(rec.labels[at_source], length)[starts]
    window_sets = np.lib.stride_tricks.sliding_window_view(rec.set_ids[at_source], length)[starts]
    pure = ((window_labels == window_labels[:, :1]).all(axis=1) & (window_labels[:, 0] != "")
            & (window_sets == window_sets[:, :1]).all(axis=1))
    return session, cut_windows(samples, length, hop)[pure], window_labels[pure, 0], starts[pure], window_sets[pure, 0]
