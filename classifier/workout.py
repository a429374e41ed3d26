"""A recording's exercise sets with their repetitions: segmentation and counting together, for a
whole recording (final) or as samples arrive (live). Both modes share every step after the
window states, so they differ only where the live decoder decided without enough hindsight."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from classifier.reps import RepCount, RepCounterConfig, count_reps
from classifier.segmentation import LiveSegmenter, SegmentedSet, SegmenterConfig, WindowTiming, segment
from classifier.windows import recording_windows

Probabilities = Callable[[np.ndarray], np.ndarray]  # (windows, length, channels) → (windows, classes)


@dataclass(frozen=True)
class SetsConfig:
    """Everything after the classifier; stored in a model card under "sets"."""

    segmenter: SegmenterConfig = field(default_factory=SegmenterConfig)
    reps: RepCounterConfig = field(default_factory=RepCounterConfig)

    def to_dict(self) -> dict:
        return {"segmenter": self.segmenter.to_dict(), "reps": self.reps.to_dict()}

    @classmethod
    def from_dict(cls, values: dict) -> SetsConfig:
        return cls(SegmenterConfig(**values.get("segmenter", {})), RepCounterConfig.from_dict(values.get("reps", {})))


@dataclass(frozen=True)
class ModelInput:
    """How the classifier reads a recording (from its card)."""

    labels: list[str]
    channels: list[str]
    rate_hz: float
    window: int
    hop: int

    @classmethod
    def from_card(cls, card) -> ModelInput:
        return cls(card.labels, card.channels, card.rate_hz, card.window, card.hop)

    @property
    def timing(self) -> WindowTiming:
        return WindowTiming(self.window / self.rate_hz, self.hop / self.rate_hz)

    def windows(self, samples: np.ndarray, channels: list[str], rate_hz: float) -> np.ndarray:
        return recording_windows(samples, channels, rate_hz, model_channels=self.channels, model_rate_hz=self.rate_hz,
                                 length=self.window, hop=self.hop)


@dataclass(frozen=True)
class ExerciseSet:
    start_s: float
    end_s: float
    exercise: str  # a class of the model, or "unknown"
    confidence: float
    closed: bool
    rep_times_s: tuple[float, ...]  # from the start of the recording

    @property
    def reps(self) -> int:
        return len(self.rep_times_s)

    @property
    def duration_s(self) -> float:
        return self.end_s - self.start_s


def analyze_recording(samples: np.ndarray, channels: list[str], rate_hz: float, model: ModelInput,
                      probabilities: Probabilities, config: SetsConfig = SetsConfig()) -> list[ExerciseSet]:
    """Final mode: every set of a whole recording, counted."""
    windows = model.windows(samples, channels, rate_hz)
    found = segment(probabilities(windows), model.labels, model.timing, config.segmenter) if len(windows) else []
    return [count_set(samples, channels, rate_hz, segmented, config.reps) for segmented in found]


def count_set(samples: np.ndarray, channels: list[str], rate_hz: float, segmented: SegmentedSet,
              config: RepCounterConfig = RepCounterConfig()) -> ExerciseSet:
    """Count the repetitions inside a segmented set and tighten its ends to them: the windows
    place a boundary to within a window, the repetitions to within half a period."""
    first = max(0, int(segmented.start_s * rate_hz))
    last = min(len(samples), int(np.ceil(segmented.end_s * rate_hz)))
    counted: RepCount = count_reps(samples[first:last], channels, rate_hz, config)
    times = tuple(float(t) + first / rate_hz for t in counted.times_s)
    start_s, end_s = segmented.start_s, segmented.end_s
    if counted.period_s is not None and len(times) >= 2:
        start_s = max(start_s, times[0] - counted.period_s / 2)
        if segmented.closed:
            end_s = min(end_s, times[-1] + counted.period_s / 2)
    return ExerciseSet(start_s, end_s, segmented.exercise, segmented.confidence, segmented.closed, times)


def count_live_set(samples: np.ndarray, channels: list[str], rate_hz: float, segmented: SegmentedSet,
                   config: RepCounterConfig = RepCounterConfig(), *, ongoing: bool, offset_s: float = 0.0) -> ExerciseSet:
    """A set as live mode shows it, counted on `samples` that begin `offset_s` into the recording.
    An open set still `ongoing` (the newest windows are exercise) is counted up to the newest
    sample, not its last classified window: a repetition shows as soon as its samples arrive.
    Once the newest windows are rest, it is counted to where its exercise ended, so walking
    away from the bar adds no repetitions while the set waits to be closed."""
    end_s = offset_s + len(samples) / rate_hz if ongoing and not segmented.closed else segmented.end_s
    local = dataclasses.replace(segmented, start_s=segmented.start_s - offset_s, end_s=end_s - offset_s)
    counted = count_set(samples, channels, rate_hz, local, config)
    return dataclasses.replace(counted, start_s=counted.start_s + offset_s, end_s=counted.end_s + offset_s,
                               rep_times_s=tuple(t + offset_s for t in counted.rep_times_s))


class LiveWorkout:
    """Live mode: add samples as the watch sends them, get the sets so far. An open set's count
    grows with it; a closed set is counted once and kept."""

    def __init__(self, model: ModelInput, probabilities: Probabilities, channels: list[str], rate_hz: float,
                 config: SetsConfig = SetsConfig()):
        self.model, self.probabilities, self.channels, self.rate_hz, self.config = model, probabilities, channels, rate_hz, config
        self.segmenter = LiveSegmenter(model.labels, model.timing, config.segmenter)
        self.samples = np.empty((0, len(channels)), np.float32)
        self.windows_done = 0
        self.counted: dict[tuple[float, float], ExerciseSet] = {}  # closed sets by their segmented span

    def add_samples(self, samples: np.ndarray) -> list[ExerciseSet]:
        self.samples = np.concatenate([self.samples, samples.astype(np.float32)])
        # Resampling sees only the samples so far, so a window is classified once the samples a
        # little past its end have arrived; the last partial second waits for the next call.
        self._classify(self.samples[: max(0, len(self.samples) - int(self.rate_hz))])
        return self._counted(self.segmenter.sets())

    def finish(self) -> list[ExerciseSet]:
        self._classify(self.samples)
        return self._counted(self.segmenter.finish())

    def _classify(self, samples: np.ndarray) -> None:
        windows = self.model.windows(samples, self.channels, self.rate_hz)[self.windows_done:]
        if len(windows):
            self.segmenter.push(self.probabilities(windows))
            self.windows_done += len(windows)

    def _counted(self, segmented: list[SegmentedSet]) -> list[ExerciseSet]:
        result = []
        ongoing = self.segmenter.exercising_now()
        for found in segmented:
            key = (found.start_s, found.end_s)
            counted = self.counted.get(key) or count_live_set(self.samples, self.channels, self.rate_hz, found,
                                                              self.config.reps, ongoing=ongoing)
            if found.closed:
                self.counted[key] = counted
            result.append(counted)
        return result
