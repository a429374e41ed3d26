"""A recording's exercise sets with their repetitions, by one `SetFinder`: for a whole recording
at once (`find`), or as samples arrive (`step`, resumable from a `LiveState` that any process
can store and hand back). Both modes share every step after the window states, so they differ
only where the live decoder decided without enough hindsight.

`step` is the live algorithm the journal's pipeline runs on every batch of frames; `replay`
drives it over a recording already whole, as `find_sets --live` and the tests do."""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from classifier.memory import ExerciseMemory
from classifier.preprocessing import resample, resampling_grid, select_channels
from classifier.reps import RepCount, RepCounterConfig, count_reps, repetitiveness
from classifier.segmentation import (UNKNOWN, LiveSegmenter, SegmentedSet, SegmenterConfig, WindowTiming,
                                     doubt_rest_where_it_repeats, rest_evidence, segment)
from classifier.windows import cut_windows, recording_windows

Probabilities = Callable[[np.ndarray], np.ndarray]  # (windows, length, channels) → (windows, classes)
Embeddings = Callable[[np.ndarray], np.ndarray]  # (windows, length, channels) → (windows, features)

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
class FoundSet:
    """A set the finder found (the journal stores it as an `ExerciseSet` row)."""

    start_s: float
    end_s: float
    exercise: str  # a class of the model, or "unknown"
    confidence: float
    closed: bool
    rep_times_s: tuple[float, ...]  # from the start of the recording
    # Where the live segmenter's windows put its start, before the repetitions tightened it: how a
    # later step knows the set again. None from the final pass, which segments differently.
    detected_start_s: float | None = None
    learned_from: int = 0  # the athlete's labelled sets of its exercise behind its name (0: the general model's)
    suggestions: tuple[str, ...] = ()  # an unknown set: the athlete's own exercises it is closest to
    arm_still: bool = False  # the sensor's arm did not move: no count can be read (reps.RepCount)

    @property
    def reps(self) -> int:
        return len(self.rep_times_s)

    @property
    def duration_s(self) -> float:
        return self.end_s - self.start_s


@dataclass(frozen=True)
class LiveState:
    """What one live step hands the next; an empty one starts a recording."""

    # (windows from the segmenter's origin on, classes): as pushed (rest doubted where the movement
    # repeats), then the classifier's own for the windows still waiting to be pushed
    probabilities: np.ndarray | None = None
    segmenter: dict | None = None  # LiveSegmenter.state()
    # The sets as the last step (or a final pass) counted them: a closed one stays as it is; an
    # open one too while it spans the same samples (`SetFinder._unchanged`).
    counted: tuple[FoundSet, ...] = ()


@dataclass(frozen=True)
class LiveStep:
    sets: list[FoundSet]  # every set so far, in time order
    state: LiveState  # for the next step
    first_needed_sample: int  # the earliest sample (at the recording's rate) a later step may still read


@functools.lru_cache(maxsize=32)
def _read_card(classifier) -> tuple[ModelInput, SetsConfig]:
    """A served model's input and sets configuration from its card: read once, not on every live step."""
    return ModelInput.from_card(classifier.card), SetsConfig.from_dict(classifier.card.sets)


@dataclass(frozen=True)
class SetFinder:
    """A classifier and what comes after it: finds and counts the sets of any recording."""

    model: ModelInput
    probabilities: Probabilities
    config: SetsConfig = SetsConfig()
    # An athlete's memory names every set from its windows' embeddings (classifier/memory.py);
    # without one, the general model's segmentation names it.
    memory: ExerciseMemory | None = None
    embeddings: Embeddings | None = None

    @classmethod
    def served(cls, classifier, memory: ExerciseMemory | None = None) -> SetFinder:
        """The finder of a served model (a `runtime.WindowClassifier`), as its card says, for an
        athlete with `memory` (a memory needs the artefact's embedding output)."""
        embeddings = (lambda windows: classifier.predict(windows).embeddings) if classifier.embedding is not None else None
        model, config = _read_card(classifier)
        return cls(model, classifier.predict_proba, config, memory if embeddings is not None else None, embeddings)

    def find(self, samples: np.ndarray, channels: list[str], rate_hz: float) -> list[FoundSet]:
        """Final mode: every set of a whole recording, counted."""
        windows = self.model.windows(samples, channels, rate_hz)
        if not len(windows):
            return []
        evidence = self._evidence(self.probabilities(windows), 0, samples, 0.0, channels, rate_hz)
        found = segment(evidence, self.model.labels, self.model.timing, self.config.segmenter)
        return [self._named(count_set(samples, channels, rate_hz, segmented, self.config.reps), samples, 0, channels, rate_hz)
                for segmented in found]

    def _named(self, found: FoundSet, samples: np.ndarray, first_sample: int, channels: list[str], rate_hz: float) -> FoundSet:
        """The set named by the athlete's memory from the windows of its span (`samples` begin at
        sample `first_sample` of the recording): the same windows live and final once the span is."""
        if self.memory is None:
            return found
        first = max(0, int(round(found.start_s * rate_hz)) - first_sample)
        windows = self.model.windows(samples[first:max(first, int(round(found.end_s * rate_hz)) - first_sample)], channels,
                                     rate_hz)
        if not len(windows):
            return found
        naming = self.memory.name(self.embeddings(windows))
        return dataclasses.replace(found, exercise=naming.exercise, confidence=naming.confidence,
                                   learned_from=naming.learned_from, suggestions=naming.suggestions)

    def _evidence(self, probabilities: np.ndarray, first_window: int, samples: np.ndarray, offset_s: float,
                  channels: list[str], rate_hz: float) -> np.ndarray:
        """The classifier's probabilities of windows `first_window`, … with `rest` doubted where
        the movement around each window's centre repeats; `samples` begin `offset_s` into the
        recording."""
        timing = self.model.timing
        centres_s = (first_window + np.arange(len(probabilities))) * timing.hop_s + timing.window_s / 2 - offset_s
        scores = repetitiveness(samples, channels, rate_hz, centres_s, self.config.reps)
        return doubt_rest_where_it_repeats(probabilities, self.model.labels, scores, self.config.segmenter)

    @property
    def _windows_waiting(self) -> int:
        """How many newer windows arrive before the movement judged around a window has: half the
        repetition window past its centre."""
        timing = self.model.timing
        return max(0, int(np.ceil((self.config.reps.repetition_window_s - timing.window_s) / 2 / timing.hop_s)))

    def step(self, state: LiveState, samples: np.ndarray, first_sample: int, channels: list[str], rate_hz: float, *,
             settle_s: float, finished: bool = False) -> LiveStep:
        """Live mode: the sets once the recording's samples from `first_sample` (at most the previous
        step's `first_needed_sample`) to the newest one have arrived. The windows they complete are
        classified and pushed into the segmenter resumed from `state`; an open set's count grows with
        it; a closed set is counted once and kept. The newest `settle_s` of samples wait for the
        next step (resampling needs a little of what follows a window: the journal's
        PIPELINE_SETTLE_SECONDS). With `finished`, the recording ended: every window is
        classified and decided on the whole best path."""
        timing = self.model.timing
        known = state.probabilities if state.probabilities is not None else np.empty((0, len(self.model.labels)), np.float32)
        pushed = state.segmenter["windows"] - state.segmenter.get("origin", 0) if state.segmenter else len(known)
        segmenter = LiveSegmenter.resume(self.model.labels, timing, self.config.segmenter, known[:pushed], state.segmenter)
        # Windows are classified as soon as they lie in the samples; each is pushed once the
        # movement judged around it has arrived too (so that it is judged on the same samples as
        # in a final pass). Until then it waits, classified, in the state: `pending`.
        pending = known[pushed:]
        new = self._new_windows(samples, first_sample, channels, rate_hz, segmenter.windows_seen + len(pending),
                                settle_s=0.0 if finished else settle_s)
        if len(new):
            pending = np.concatenate([pending, self.probabilities(new)])
        ready = len(pending) if finished else max(0, len(pending) - self._windows_waiting)
        if ready:
            segmenter.push(self._evidence(pending[:ready], segmenter.windows_seen, samples, first_sample / rate_hz, channels,
                                          rate_hz))
            pending = pending[ready:]
        segmented = segmenter.finish() if finished else segmenter.sets()
        until_s = self._counted_until(segmenter, pending, (first_sample + len(samples)) / rate_hz)
        sets = self._counted(segmented, until_s, state.counted, segmenter.origin * timing.hop_s, samples, first_sample,
                             channels, rate_hz)
        open_starts = [s.start_s for s in segmented if not s.closed]
        # A window back for resampling, and the movement judged around the next window.
        needed_s = (min(open_starts + [segmenter.decided_until * timing.hop_s]) - timing.window_s
                    - self.config.reps.repetition_window_s)
        segmenter.forget_closed()  # counted now: the next step keeps them as they are
        return LiveStep(sets, LiveState(np.concatenate([segmenter.probabilities, pending]), segmenter.state(), tuple(sets)),
                        max(0, int(needed_s * rate_hz)))

    def _counted_until(self, segmenter: LiveSegmenter, pending: np.ndarray, newest_s: float) -> float | None:
        """How far an open set still going on at the segmenter's newest window is counted: the
        windows after it (`pending`) are read by the classifier alone — to the newest sample while
        the newest says exercise (a repetition shows as soon as its samples arrive), else to the
        end of the last that does, so walking away from the bar adds no repetitions while the set
        waits. None when the segmenter's best path ends resting: an open set then ends where its
        exercise did."""
        if not segmenter.exercising_now():
            return None
        evidence = rest_evidence(pending, self.model.labels)
        exercising = np.flatnonzero(evidence[:, 1] > evidence[:, 0])
        if not len(pending) or (len(exercising) and exercising[-1] == len(pending) - 1):
            return newest_s
        last = segmenter.windows_seen + (exercising[-1] if len(exercising) else -1)
        return last * self.model.timing.hop_s + self.model.timing.window_s

    def _new_windows(self, samples: np.ndarray, first_sample: int, channels: list[str], rate_hz: float, done: int, *,
                     settle_s: float) -> np.ndarray:
        """Windows `done`, `done`+1, … that lie wholly in the samples received, less the last
        `settle_s` (at least the resampling filter's reach). Window k starts at sample k·hop of the
        model's rate: the same windows whatever the sizes of the batches they arrived in. Only the samples from window `done` on (and the
        resampling filter's reach before it) are resampled, from a sample on the resampling's grid:
        a live step's tail holds an open set, seconds long."""
        model = self.model
        grid, reach = resampling_grid(rate_hz, model.rate_hz)
        reached = int(done * model.hop * rate_hz / model.rate_hz) - reach
        cut = max(reached // grid * grid, -(-first_sample // grid) * grid)
        at_model_rate = resample(select_channels(samples[cut - first_sample:], channels, model.channels).astype(np.float32),
                                 rate_hz, model.rate_hz)
        offset = int(round(cut * model.rate_hz / rate_hz))
        # Settling covers the filter's reach too: a window's samples then depend on no sample
        # missing yet, nor on where the samples given begin (padtype "line" fits both ends).
        settle = max(int(round(settle_s * model.rate_hz)), int(np.ceil(reach * model.rate_hz / rate_hz))) if settle_s else 0
        usable = len(at_model_rate) - settle
        first = done * model.hop - offset
        if first < 0:
            raise RuntimeError(f"window {done} starts before the samples given (from sample {first_sample})")
        return cut_windows(at_model_rate[first:max(first, usable)], model.window, model.hop)

    def _counted(self, segmented: list[SegmentedSet], until_s: float | None, counted: tuple[FoundSet, ...], origin_s: float,
                 samples: np.ndarray, first_sample: int, channels: list[str], rate_hz: float) -> list[FoundSet]:
        """Every set counted (`samples` begin at sample `first_sample` of the recording). A set an
        earlier step counted is kept as it was while nothing can have changed it (`_unchanged`): a
        closed one's samples may be gone, and an open set waiting to close is recounted on no new
        sample. Closed sets before `origin_s`, which the segmenter has let go of, are kept without
        it — a final pass's too (a watch that came back after it); a final pass's set after
        `origin_s` is counted afresh by the live segmenter."""
        by_start = {round(s.detected_start_s, 3): s for s in counted if s.detected_start_s is not None}
        found = [s for s in counted if s.closed and (s.end_s if s.detected_start_s is None else s.detected_start_s) < origin_s]
        for s in segmented:
            end_s = _counted_end(s, until_s)
            earlier = by_start.get(round(s.start_s, 3))
            if earlier is None or not self._unchanged(earlier, s, end_s):
                now = count_set(samples, channels, rate_hz, s, self.config.reps, end_s=end_s, first_sample=first_sample)
                earlier = self._named(dataclasses.replace(now, detected_start_s=s.start_s), samples, first_sample, channels,
                                      rate_hz)
            found.append(earlier)
        return found

    def _unchanged(self, earlier: FoundSet, segmented: SegmentedSet, end_s: float) -> bool:
        """Whether an earlier step's count of a set found again stands: a closed set's does; an
        open one's while it is counted to the same end (from the same start) and named from the
        same windows — its own, or, counted on past them, the same name."""
        if segmented.closed or earlier.closed:
            return segmented.closed and earlier.closed
        if round(earlier.end_s, 3) != round(end_s, 3):
            return False
        return end_s == segmented.end_s or (self.memory is None and (earlier.exercise, earlier.confidence)
                                            == (segmented.exercise, segmented.confidence))

    def replay(self, samples: np.ndarray, channels: list[str], rate_hz: float, *, batch: int,
               settle_s: float) -> Iterator[tuple[int, LiveStep]]:
        """The live steps of a recording sent `batch` samples at a time, each with the number of
        samples sent so far; the last one is the finished recording's. Only the samples a later
        step still needs are kept, as in the journal."""
        state, first = LiveState(), 0
        for end in range(batch, len(samples) + batch, batch):
            end = min(end, len(samples))
            step = self.step(state, samples[first:end], first, channels, rate_hz, settle_s=settle_s,
                             finished=end == len(samples))
            yield end, step
            state, first = step.state, min(step.first_needed_sample, end)


def count_set(samples: np.ndarray, channels: list[str], rate_hz: float, segmented: SegmentedSet,
              config: RepCounterConfig = RepCounterConfig(), *, end_s: float | None = None, first_sample: int = 0) -> FoundSet:
    """Count the repetitions inside a segmented set and tighten its ends to them: the windows
    place a boundary to within a window, the repetitions to within half a period. The windows of
    an exercise the classifier does not know cannot tell its lift from the set-up and waiting
    around it: there, the repetitions find the lift (reps.py).

    `samples` begin at sample `first_sample` of the recording (a live step's tail); the set's
    samples are found by their index in the recording, so a live step counts exactly the samples
    a final pass counts. An open set still going on is counted to `end_s` (`SetFinder._counted_until`),
    past its last decided window: a repetition shows as soon as its samples arrive."""
    end_s = segmented.end_s if end_s is None else end_s
    first = max(first_sample, int(segmented.start_s * rate_hz))
    last = int(np.ceil(end_s * rate_hz)) - first_sample
    counted: RepCount = count_reps(samples[first - first_sample:max(0, last)], channels, rate_hz, config,
                                   find_lift=segmented.exercise == UNKNOWN)
    times = tuple(float(t) + first / rate_hz for t in counted.times_s)
    start_s = segmented.start_s
    if counted.period_s is not None and len(times) >= 2:
        start_s = max(start_s, times[0] - counted.period_s / 2)
        if segmented.closed:
            end_s = min(end_s, times[-1] + counted.period_s / 2)
    return FoundSet(start_s, end_s, segmented.exercise, segmented.confidence, segmented.closed, times,
                    arm_still=counted.arm_still)


def _counted_end(segmented: SegmentedSet, until_s: float | None) -> float:
    """Where a live step counts a set to: an open set still going on, to `until_s`."""
    return max(until_s, segmented.end_s) if until_s is not None and not segmented.closed else segmented.end_s
