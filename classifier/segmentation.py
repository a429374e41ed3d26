"""From the classifier's window probabilities over time to exercise sets with rest between them.

A two-state hidden Markov model — resting or exercising — decoded with Viterbi: each window's
evidence is the classifier's probability of `rest` against the rest of its probability, and
changing state costs `switch_cost` nats, so a lone doubtful window does not split a set or
start one. Where the movement repeats at a gym period, `rest` is doubted whatever the classifier
says (`doubt_rest_where_it_repeats`): a lift of an exercise it never learned often looks like
rest to it. Runs of exercise shorter than `min_set_s` are dropped; rests shorter than
`min_rest_s` inside a set are a pause, not the end of the set. A set's exercise is the class
with the highest mean probability over its windows; below `unknown_below` the set is kept as
an unknown exercise for the person to name, not forced into the nearest known class.

Final mode decodes a whole recording at once. Live mode (`LiveSegmenter`) decodes as windows
arrive: a window's state is fixed once `live_lag_s` of later windows have been seen (fixed-lag
Viterbi); the windows after it are shown as the best path so far. On a finished recording the
two differ only where the best path needed more than `live_lag_s` of hindsight. A live decoder
keeps only the back-pointers of that lag, so its `state()` is small and a worker resumes it
in constant time however long the workout has run.
"""

from __future__ import annotations

from collections import deque
from dataclasses import asdict, dataclass

import numpy as np

REST = "rest"
UNKNOWN = "unknown"
RESTING, EXERCISING = 0, 1


@dataclass(frozen=True)
class SegmenterConfig:
    switch_cost: float = 6.0  # nats; about three confident windows of evidence to change state
    min_set_s: float = 5.0  # shorter bursts of movement are not a set (two quick repetitions are)
    min_rest_s: float = 10.0  # shorter rests inside a set are a pause in it
    unknown_below: float = 0.5  # mean probability of the best exercise under which a set is unknown
    live_lag_s: float = 10.0  # hindsight before a live decision is final
    # Where the movement repeats (reps.repetitiveness) the classifier's `rest` is doubted from the
    # first score and ruled out at the second: lifts its classes do not know often look like rest
    # to it. Chosen on the Apple Watch lifter's first three days (whole recordings within ±1,
    # acc+gyr, 16-s repetition window: 0.457 without → 0.657; 0.4–0.5 and 0.5–0.6 did as well
    # there or better, but merged two of Exermote's sets across a rest where the arm swung, or
    # found a false one).
    rest_doubted_from: float = 0.6
    rest_ruled_out_at: float = 0.7

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class SegmentedSet:
    start_s: float
    end_s: float
    exercise: str  # a class of the model, or "unknown"
    confidence: float  # mean probability of that exercise among the exercises, over the set's windows
    closed: bool  # False while a live set may still grow

    @property
    def duration_s(self) -> float:
        return self.end_s - self.start_s


@dataclass(frozen=True)
class WindowTiming:
    """Where window i lies in the recording: [i·hop_s, i·hop_s + window_s).

    A run of windows in one state starts half a hop before its first window's centre and ends
    half a hop after its last one's: between two states, the change is where the windows'
    majority changes. At the recording's edges nothing says the state changed, so a run there
    reaches the edge."""

    window_s: float
    hop_s: float

    def start_of_run(self, first: int) -> float:
        return 0.0 if first == 0 else first * self.hop_s + (self.window_s - self.hop_s) / 2

    def end_of_run(self, last: int, n_windows: int) -> float:
        end = last * self.hop_s + self.window_s
        return end if last == n_windows - 1 else end - (self.window_s - self.hop_s) / 2


def rest_evidence(probabilities: np.ndarray, labels: list[str]) -> np.ndarray:
    """(windows, 2) log-probabilities of resting and exercising. A model without a rest class
    sees every window as exercise."""
    p_rest = probabilities[:, labels.index(REST)] if REST in labels else np.zeros(len(probabilities))
    p_rest = np.clip(p_rest, 1e-4, 1 - 1e-4)
    return np.log(np.column_stack([p_rest, 1 - p_rest]))


def doubt_rest_where_it_repeats(probabilities: np.ndarray, labels: list[str], repetitiveness: np.ndarray,
                                config: SegmenterConfig = SegmenterConfig()) -> np.ndarray:
    """The classifier's window probabilities with `rest` scaled down where the movement repeats:
    the windows' evidence of exercise for the segmenter. An exercise's share among the exercises,
    which names a set, is unchanged."""
    if REST not in labels:
        return probabilities
    doubt = np.clip((repetitiveness - config.rest_doubted_from) / (config.rest_ruled_out_at - config.rest_doubted_from), 0, 1)
    fused = probabilities.copy()
    fused[:, labels.index(REST)] *= 1 - doubt
    return fused


def viterbi(evidence: np.ndarray, switch_cost: float) -> np.ndarray:
    """The most likely state of every window, given all of them."""
    decoder = _Decoder(switch_cost)
    for row in evidence:
        decoder.step(row)
    return decoder.best_path(len(evidence))


def segment(probabilities: np.ndarray, labels: list[str], timing: WindowTiming,
            config: SegmenterConfig = SegmenterConfig()) -> list[SegmentedSet]:
    """Final mode: the sets of a whole recording, all closed."""
    states = viterbi(rest_evidence(probabilities, labels), config.switch_cost)
    return sets_from_states(states, probabilities, labels, timing, config, decided=len(states), finished=True)


def sets_from_states(states: np.ndarray, probabilities: np.ndarray, labels: list[str], timing: WindowTiming,
                     config: SegmenterConfig, *, decided: int, finished: bool, first_window: int = 0) -> list[SegmentedSet]:
    """Sets from per-window states, of which the first `decided` are final; `states` and
    `probabilities` start at window `first_window` of the recording. Unless the recording has
    `finished`, a set is closed once `min_rest_s` of decided rest follows it: nothing later can
    then extend it."""
    exercise_index = [i for i, label in enumerate(labels) if label != REST]
    n_windows = first_window + len(states)
    sets = []
    for first, last in _exercise_runs(states, timing, config, first_window):
        closed = finished or (decided - 1 - last) * timing.hop_s >= config.min_rest_s
        mean = probabilities[first:last + 1][:, exercise_index].mean(axis=0)
        share = mean / max(mean.sum(), 1e-12)
        best = int(share.argmax())
        confidence = float(share[best])
        exercise = labels[exercise_index[best]] if confidence >= config.unknown_below else UNKNOWN
        sets.append(SegmentedSet(timing.start_of_run(first_window + first), timing.end_of_run(first_window + last, n_windows),
                                 exercise, confidence, closed))
    return sets


class LiveSegmenter:
    """Live mode: feed window probabilities as they are computed, read the sets so far.

    `forget_closed()` drops what the closed sets are made of (their probabilities and states):
    nothing can change a closed set, so a caller that has stored them keeps the segmenter's
    state, and its cost, to the open part of the recording. `origin` is the first window kept."""

    def __init__(self, labels: list[str], timing: WindowTiming, config: SegmenterConfig = SegmenterConfig()):
        self.labels, self.timing, self.config = labels, timing, config
        self.lag = max(0, round(config.live_lag_s / timing.hop_s))
        self.decoder = _Decoder(config.switch_cost, keep=self.lag + 1)
        self.origin = 0
        self.decided: list[int] = []  # of windows origin, origin + 1, …
        self.probabilities = np.empty((0, len(labels)), np.float32)  # likewise
        self.finished = False

    @classmethod
    def resume(cls, labels: list[str], timing: WindowTiming, config: SegmenterConfig, probabilities: np.ndarray,
               state: dict | None) -> LiveSegmenter:
        """The segmenter that had been pushed the windows up to the last of `probabilities` (those
        from its origin on), from the `state()` it had then; without one, by pushing them again."""
        segmenter = cls(labels, timing, config)
        if not state:
            segmenter.push(probabilities)
            return segmenter
        origin = state.get("origin", 0)
        if state["windows"] != origin + len(probabilities):
            raise ValueError(f"segmenter state of {state['windows']} windows from window {origin} "
                             f"given {len(probabilities)} probabilities")
        segmenter.origin = origin
        segmenter.probabilities = np.asarray(probabilities, np.float32)
        segmenter.decided = [int(c) for c in state["decided"]]
        segmenter.decoder.restore(state["windows"], state["scores"], state["back"])
        return segmenter

    def state(self) -> dict:
        """What `resume` needs besides the probabilities, as JSON: O(lag) plus a character a window kept."""
        return {"windows": self.decoder.seen, "origin": self.origin, "decided": "".join(map(str, self.decided)),
                "scores": self.decoder.scores.tolist(), "back": [row.tolist() for row in self.decoder.back]}

    @property
    def windows_seen(self) -> int:
        return self.decoder.seen

    @property
    def decided_until(self) -> int:
        """The first window whose state is not final yet."""
        return self.origin + len(self.decided)

    def push(self, probabilities: np.ndarray) -> None:
        """More windows' probabilities; `sets()` then says what they changed."""
        if self.finished:
            raise RuntimeError("this recording was finished; start a new LiveSegmenter")
        self.probabilities = np.concatenate([self.probabilities, probabilities.astype(np.float32)])
        for row in rest_evidence(probabilities, self.labels):
            self.decoder.step(row)
            if self.decoder.seen > self.lag:
                # the state of the window `lag` back on today's best path becomes final
                self.decided.append(int(self.decoder.best_path(self.lag + 1)[0]))

    def finish(self) -> list[SegmentedSet]:
        """The recording ended: the windows still open are decided on the whole best path."""
        undecided = self.decoder.seen - self.decided_until
        if undecided:
            self.decided.extend(self.decoder.best_path(undecided).tolist())
        self.finished = True
        return self.sets()

    def sets(self) -> list[SegmentedSet]:
        """The sets from `origin` on: every set until something is forgotten."""
        undecided = self.decoder.seen - self.decided_until
        tail = self.decoder.best_path(undecided) if undecided else np.empty(0, np.int8)
        states = np.concatenate([np.asarray(self.decided, np.int8), tail])
        return sets_from_states(states, self.probabilities, self.labels, self.timing, self.config,
                                decided=len(self.decided), finished=self.finished, first_window=self.origin)

    def forget_closed(self) -> None:
        """Drop the decided windows up to the end of the last stretch of decided rest that is at
        least `min_rest_s` long: no later run can bridge across it, so every set before it is
        closed (and every shorter burst dropped) for good."""
        rest = np.asarray(self.decided, np.int8) == RESTING
        edges = np.diff(np.concatenate([[0], rest.astype(np.int8), [0]]))
        stretches = zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1))
        ends = [end for start, end in stretches if (end - start) * self.timing.hop_s >= self.config.min_rest_s]
        if ends:
            cut = int(ends[-1])
            self.origin += cut
            self.decided = self.decided[cut:]
            self.probabilities = self.probabilities[cut:]

    def exercising_now(self) -> bool:
        """Whether the best path so far ends exercising: an open set still going on."""
        return bool(self.decoder.seen) and int(self.decoder.best_path(1)[0]) == EXERCISING


def _exercise_runs(states: np.ndarray, timing: WindowTiming, config: SegmenterConfig, first_window: int = 0) -> list[tuple[int, int]]:
    """(first, last) index into `states` of every set: exercising runs, pauses shorter than
    min_rest_s bridged, then runs shorter than min_set_s dropped (`states` begin at window
    `first_window` of the recording)."""
    edges = np.diff(np.concatenate([[RESTING], states, [RESTING]]))
    runs = list(zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1) - 1))
    merged: list[tuple[int, int]] = []
    for first, last in runs:
        if merged and (first - merged[-1][1] - 1) * timing.hop_s < config.min_rest_s:
            merged[-1] = (merged[-1][0], last)
        else:
            merged.append((first, last))
    n_windows = first_window + len(states)
    return [(first, last) for first, last in merged
            if timing.end_of_run(first_window + last, n_windows) - timing.start_of_run(first_window + first) >= config.min_set_s]


class _Decoder:
    """Viterbi one window at a time, keeping the last `keep` back-pointers (all, without `keep`)
    for tracing the best path back that far."""

    def __init__(self, switch_cost: float, keep: int | None = None):
        self.transition = np.array([[0.0, -switch_cost], [-switch_cost, 0.0]])  # [from, to]
        self.scores = np.zeros(2)
        self.back: deque[np.ndarray] = deque(maxlen=keep)
        self.seen = 0  # windows stepped through

    def restore(self, seen: int, scores: list[float], back: list[list[int]]) -> None:
        self.seen, self.scores = seen, np.asarray(scores, float)
        self.back.extend(np.asarray(row, np.int64) for row in back)

    def step(self, evidence: np.ndarray) -> None:
        if not self.seen:
            self.scores = evidence.copy()
            self.back.append(np.array([RESTING, EXERCISING]))
        else:
            candidates = self.scores[:, None] + self.transition
            self.back.append(candidates.argmax(axis=0))
            self.scores = candidates.max(axis=0) + evidence
        self.seen += 1

    def best_path(self, length: int) -> np.ndarray:
        """The best path's states for the last `length` windows (at most the back-pointers kept)."""
        if length > len(self.back):
            raise ValueError(f"{length} windows back, but only {len(self.back)} back-pointers are kept")
        path = np.empty(length, dtype=np.int8)
        state = int(self.scores.argmax())
        for k, pointers in zip(range(length), reversed(self.back)):
            path[length - 1 - k] = state
            state = int(pointers[state])
        return path
