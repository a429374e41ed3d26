"""Counting the repetitions of a set from the raw signal, for any exercise, trained on none.

A set as a person records it holds more than the lift: picking the weights up, setting the
machine, waiting, putting them down. Where nothing else says where the lift is (the classifier
does not know the exercise, so its windows cannot tell the lift from the set-up), the counter
first finds **the lift**: the run of movements shaped like the set's own repetition, which it
learns from the stretch that repeats best (the autocorrelation of a sliding window is high at a
steady period whatever the exercise), and counts inside it only. Set-up and waiting hardly
repeat, and seldom move as a repetition of the lift does.

A repetition is one period of the set's dominant movement. The period comes from the
autocorrelation of all axes together (one axis may carry little of a movement another carries
well); the count from the peaks of the signal band-passed around that period and projected
onto its main axis. Peaks much weaker than the set's typical repetition (re-gripping,
a breath in a pause) are not counted, nor lone movements at either end that are out of rhythm
with the rest (picking the weight up, putting it down). A pause inside a set costs nothing: it
has no peaks.

The defaults were chosen on SPAR and barbell (protocol counts) and muvr's arm and chest
sessions; exermote and muvr's other sessions were left for the benchmark.
"""

from __future__ import annotations

import functools
from dataclasses import asdict, dataclass, fields

import numpy as np
from scipy import signal

from classifier.channels import ACC, GYRO


@dataclass(frozen=True)
class RepCounterConfig:
    min_period_s: float = 0.8  # faster than this is not a gym repetition
    max_period_s: float = 8.0  # slower than this is a pause, not a repetition
    movement_band_hz: tuple[float, float] = (0.15, 3.0)  # drops gravity's drift and tremor alike
    first_peak_ratio: float = 0.85  # the shortest lag whose correlation is this near the best: 2T also correlates
    rep_band: tuple[float, float] = (0.5, 2.5)  # band-pass around the repetition frequency, as multiples of it
    min_spacing: float = 0.6  # two repetitions are at least this many periods apart
    min_prominence: float = 0.2  # of the typical repetition's prominence
    lone_gap: float = 1.8  # a first/last peak this many periods from its neighbour is set-up, not a repetition
    still_below: tuple[float, float] = (3.0, 0.03)  # deg/s, g: movement std under these is a still arm (a squat turns the wrist 5–9 deg/s)
    half_period_below: float = -0.2  # an axis correlating with itself this negatively at a period says it is half of one
    # The lift: the most repetitive lift_core_s of the set gives the period and its cycles; a
    # stretch of one period that matches their mean in shape (normalised cross-correlation, all
    # axes, at least lift_match_above) and the typical cycle in size (its norm within
    # lift_match_size of it) is a repetition, and the lift is the chain of two or more through the
    # core, no two more than lift_gap_periods apart. Chosen on the Apple Watch lifter's first three
    # days by the most sets within ±1 (the counter alone over the whole recording, acc+gyr + gyr:
    # 0.800 + 0.857; sizes 0.5–2 0.800 + 0.829, 0.4–1.7 0.771 + 0.857, 0.5–1.5 the same as 0.5–1.7;
    # a 20 s core 0.829 + 0.771, 12 s 0.743 + 0.800, 24 s 0.771 + 0.657; a match from 0.6 or 0.4,
    # gaps of 2 or 3 periods no better), its four later days left out.
    lift_core_s: float = 16.0
    lift_match_above: float = 0.5
    lift_match_size: tuple[float, float] = (0.5, 1.7)
    lift_gap_periods: float = 2.5
    # The movement judged around an instant for the segmenter's evidence (`repetitiveness`): long
    # enough to hold two or three of a slow lifter's 4–6 s repetitions. Chosen on the Apple Watch
    # lifter's first three days (whole recordings within ±1, acc+gyr: 8 s 0.571, 12 s 0.600,
    # 16 s 0.657); a live set waits for half of it past its newest window.
    repetition_window_s: float = 16.0
    # A first or last turning point lower than this share of the set's typical one is the weight
    # being taken up or put down (a shallow swing that the band-pass makes prominent), not a
    # repetition. Chosen on the Apple Watch lifter's first three days: within ±1 0.571 → 0.686;
    # SPAR, barbell and Exermote unchanged.
    end_height_ratio: float = 0.3

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> RepCounterConfig:
        # A model card written by an older version may carry parameters since replaced: those are
        # left out, the rest read (the card's JSON makes tuples lists).
        known = {f.name for f in fields(cls)}
        return cls(**{key: tuple(value) if isinstance(value, list) else value for key, value in values.items() if key in known})


@dataclass(frozen=True)
class RepCount:
    times_s: np.ndarray  # the instant of each repetition (its peak), from the start of the samples given
    period_s: float | None  # None when no rhythm was found
    # The arm wearing the sensor was as still as a resting one: another limb may have lifted (a
    # one-arm row with the other arm), and no count can be read from it.
    arm_still: bool = False

    @property
    def count(self) -> int:
        return len(self.times_s)


def count_reps(samples: np.ndarray, channels: list[str], rate_hz: float, config: RepCounterConfig = RepCounterConfig(), *,
               find_lift: bool = False) -> RepCount:
    """The repetitions in `samples` (samples, channels) — one set, or the part of it seen so far;
    with `find_lift`, only those inside the lift found in it (when nothing else says where the set
    begins and ends)."""
    filtered = _band_passed(samples, channels, rate_hz, config)
    none = RepCount(np.empty(0), None)
    if filtered is None:
        return none
    movement, sensors = filtered
    if all(movement[:, group].std() < floor for group, floor in sensors):
        return RepCount(np.empty(0), None, arm_still=True)  # its noise would otherwise be counted
    # Degrees per second and g weigh alike.
    movement = np.hstack([movement[:, group] / (movement[:, group].std() + 1e-9) for group, _ in sensors])
    lift = _lift(movement, rate_hz, config) if find_lift else slice(0, len(movement))
    period = _period(movement[lift], rate_hz, config)
    if period is None:
        return none
    nyquist_margin = 0.45 * rate_hz
    low, high = config.rep_band[0] / period, min(config.rep_band[1] / period, nyquist_margin)
    # Filtered whole (no edge of the lift rings) and projected on the lift's main axis; only the
    # lift's turning points count.
    around_rep = _zero_phase(_band_pass(low, high, rate_hz), movement)
    centred = around_rep - around_rep.mean(axis=0)
    main_axis = np.linalg.svd(centred[lift], full_matrices=False)[2][0]
    projected = (centred @ main_axis)[lift]
    # The sign of a principal axis is arbitrary, so both sides are counted. A repetition has a
    # turning point on each side, but a weak one (the slow half of a lift, a set cut off mid
    # movement) may fall under the prominence bar, so the side with more is kept (the stronger on
    # a tie); on the tuning sets this halved the bias against the side the SVD happens to pick.
    spacing = max(1, int(config.min_spacing * period * rate_hz))
    sides = [_turning_points(side, spacing, config.min_prominence) for side in (projected, -projected)]
    chosen = max((0, 1), key=lambda i: (len(sides[i][0]), sides[i][1]))
    side = projected if chosen == 0 else -projected
    peaks = _without_weak_ends(side, sides[chosen][0], config.end_height_ratio)
    times = peaks / rate_hz
    while len(times) > 2 and times[1] - times[0] > config.lone_gap * period:
        times = times[1:]
    while len(times) > 2 and times[-1] - times[-2] > config.lone_gap * period:
        times = times[:-1]
    return RepCount(times + lift.start / rate_hz, period)


def _without_weak_ends(side: np.ndarray, peaks: np.ndarray, ratio: float) -> np.ndarray:
    """`peaks` of `side` less those at either end under `ratio` of the median peak's height."""
    if len(peaks) > 2:
        bar = ratio * np.median(side[peaks])
        while len(peaks) > 2 and side[peaks[0]] < bar:
            peaks = peaks[1:]
        while len(peaks) > 2 and side[peaks[-1]] < bar:
            peaks = peaks[:-1]
    return peaks


def _turning_points(x: np.ndarray, spacing: int, min_prominence: float) -> tuple[np.ndarray, float]:
    """Peaks at least `spacing` apart and not much weaker than the typical one, and that typical prominence."""
    peaks, properties = signal.find_peaks(x, distance=spacing, prominence=0)
    if not len(peaks):
        return peaks, 0.0
    prominence = properties["prominences"]
    typical = float(np.median(np.sort(prominence)[-max(1, len(prominence) // 2):]))
    return peaks[prominence >= min_prominence * typical], typical


def _band_passed(samples: np.ndarray, channels: list[str], rate_hz: float,
                 config: RepCounterConfig) -> tuple[np.ndarray, list[tuple[list[int], float]]] | None:
    """The samples of the gyroscope and accelerometer band-passed to the movement band, with each
    sensor's columns in them and its still-arm floor; None when there is no such sensor or too
    few samples to filter."""
    sensors = [(sensor, floor) for sensor, floor in zip((GYRO, ACC), config.still_below) if set(sensor) <= set(channels)]
    if not sensors or len(samples) < 3 * rate_hz * config.min_period_s:
        return None
    low, high = config.movement_band_hz
    band = _band_pass(low, min(high, 0.45 * rate_hz), rate_hz)
    if len(samples) <= _filtfilt_padding(band):
        return None
    columns = [channels.index(name) for sensor, _ in sensors for name in sensor]
    filtered = _zero_phase(band, samples[:, columns] - samples[:, columns].mean(axis=0))
    return filtered, [(list(range(3 * i, 3 * i + 3)), floor) for i, (_, floor) in enumerate(sensors)]


def repetitiveness(samples: np.ndarray, channels: list[str], rate_hz: float, centres_s: np.ndarray,
                   config: RepCounterConfig = RepCounterConfig()) -> np.ndarray:
    """For each instant of `centres_s` (seconds from the first sample), how strongly the movement
    of the `repetition_window_s` around it repeats at a gym period: the best unbiased autocorrelation of
    all axes together, ~1 for a steady lift, low for set-up, waiting and walking off; 0 where the
    arm is still or the samples are shorter than the window. A window at either end of the
    samples is moved inwards to fit. It knows no exercise, so it can tell a lift from rest where
    the classifier cannot."""
    scores = np.zeros(len(centres_s))
    if not len(centres_s):
        return scores
    # Only the samples judged (half a window either side of the instants) and as much again for
    # the filter to settle: a live step judges a few new windows at the end of a long tail.
    margin_s = config.repetition_window_s
    first = max(0, int((np.min(centres_s) - margin_s) * rate_hz))
    samples = samples[first:int((np.max(centres_s) + margin_s) * rate_hz)]
    centres_s = np.asarray(centres_s) - first / rate_hz
    filtered = _band_passed(samples, channels, rate_hz, config)
    step = max(1, int(rate_hz // LIFT_RATE_HZ))
    coarse_hz = rate_hz / step
    window = int(config.repetition_window_s * coarse_hz)
    if filtered is None or len(filtered[0]) // step < window:
        return scores
    movement, sensors = filtered
    coarse = movement[::step]
    starts = np.clip(np.round(np.asarray(centres_s) * coarse_hz).astype(int) - window // 2, 0, len(coarse) - window)
    views = np.lib.stride_tricks.sliding_window_view(coarse, window, axis=0)[starts]  # (instants, axes, samples)
    views = views - views.mean(axis=2, keepdims=True)
    spread = [(views[:, group].std(axis=(1, 2)), floor) for group, floor in sensors]
    moving = np.any([sd >= floor for sd, floor in spread], axis=0)
    for (group, _), (sd, _) in zip(sensors, spread):
        views[:, group] /= sd[:, None, None] + 1e-9
    scores[moving] = _best_repetition(views[moving], coarse_hz, config)
    return scores


LIFT_RATE_HZ = 10.0  # the movement band ends at 3 Hz: judging repetition needs no more


def _lift(movement: np.ndarray, rate_hz: float, config: RepCounterConfig) -> slice:
    """The samples of the lift: the chain of repetitions matched to the set's own (see
    RepCounterConfig), or the whole movement when no rhythm or no such chain is found in it —
    then the counter's own checks decide. All of it at LIFT_RATE_HZ: a live step recounts an open
    set every second."""
    step = max(1, int(rate_hz // LIFT_RATE_HZ))
    coarse, coarse_hz = movement[::step], rate_hz / step
    whole = slice(0, len(movement))
    core = _most_repetitive(coarse, coarse_hz, config)
    period = _period(coarse[core], coarse_hz, config)
    if period is None:
        return whole
    length = max(2, int(round(period * coarse_hz)))
    # The core's cycles, each cut where its own period starts (a period is seldom a whole number
    # of samples: cut every `length` samples, they drift in phase and their mean cancels out).
    starts = np.floor(np.arange(0, len(coarse[core]) - length + 1, period * coarse_hz)).astype(int) + core.start
    centre = (core.start + core.stop) // 2
    chain = _matched_chain(coarse, [coarse[i:i + length] for i in starts], centre, config)
    if len(chain):
        # Matched again with the repetitions found: their starts are where each matched best.
        again = _matched_chain(coarse, [coarse[i:i + length] for i in chain], centre, config)
        chain = again if len(again) else chain
    if not len(chain):
        return whole
    return slice(int(chain[0] * step), min(len(movement), int((chain[-1] + length) * step)))


def _most_repetitive(movement: np.ndarray, rate_hz: float, config: RepCounterConfig) -> slice:
    """The `lift_core_s` of `movement` (every second) whose autocorrelation peaks highest at a gym
    period; all of it when shorter."""
    window, hop = int(config.lift_core_s * rate_hz), max(1, int(rate_hz))
    if len(movement) < window + hop:
        return slice(0, len(movement))
    starts = np.arange(0, len(movement) - window + 1, hop)
    views = np.lib.stride_tricks.sliding_window_view(movement, window, axis=0)[starts]  # (windows, axes, samples)
    best = int(starts[np.argmax(_best_repetition(views - views.mean(axis=2, keepdims=True), rate_hz, config))])
    return slice(best, best + window)


def _matched_chain(movement: np.ndarray, cycles: list[np.ndarray], centre: int, config: RepCounterConfig) -> np.ndarray:
    """The starts of the stretches of `movement` that match the `cycles` (each (samples, axes),
    one length) in shape — their mean — and in size — the typical cycle's, not their mean's,
    which is smaller wherever they differ —, `min_spacing` of a cycle apart at least, chained
    while no two are more than `lift_gap_periods` of it apart: the chain of two or more that
    reaches `centre` (the longest if none does); empty when there is none."""
    length = len(cycles[0])
    if len(movement) < length:
        return np.empty(0, int)
    template = np.mean(cycles, axis=0)
    template -= template.mean(axis=0)
    typical = float(np.median([np.linalg.norm(c - c.mean(axis=0)) for c in cycles]))
    views = np.lib.stride_tricks.sliding_window_view(movement, length, axis=0)  # (starts, axes, samples)
    views = views - views.mean(axis=2, keepdims=True)
    norms = np.linalg.norm(views, axis=(1, 2))
    size = norms / max(typical, 1e-12)
    shape = np.einsum("sal,la->s", views, template) / np.maximum(norms * np.linalg.norm(template), 1e-12)
    low, high = config.lift_match_size
    matches, _ = signal.find_peaks(np.where((size >= low) & (size <= high), shape, -1.0), height=config.lift_match_above,
                                   distance=max(1, int(config.min_spacing * length)))
    chains = [chain for chain in np.split(matches, np.flatnonzero(np.diff(matches) > config.lift_gap_periods * length) + 1)
              if len(chain) >= 2]
    if not chains:
        return np.empty(0, int)
    return max(chains, key=lambda chain: (chain[0] - length <= centre <= chain[-1] + 2 * length, len(chain)))


def _best_repetition(views: np.ndarray, rate_hz: float, config: RepCounterConfig) -> np.ndarray:
    """(windows,) the highest unbiased autocorrelation of each centred window (windows, axes,
    samples), all axes together, at a lag between the shortest gym period and half the window."""
    window = views.shape[2]
    spectrum = np.fft.rfft(views, n=2 * window, axis=2)
    correlation = np.fft.irfft(np.abs(spectrum) ** 2, axis=2)[:, :, :window].sum(axis=1)  # (windows, lags)
    correlation /= np.maximum(correlation[:, :1], 1e-12)
    correlation *= window / (window - np.arange(window))  # unbiased: a long lag has fewer products
    lags = np.arange(window) / rate_hz
    usable = (lags >= config.min_period_s) & (lags <= min(config.max_period_s, window / rate_hz / 2))
    return correlation[:, usable].max(axis=1) if usable.any() else np.zeros(len(views))


@functools.lru_cache(maxsize=256)
def _band_pass(low_hz: float, high_hz: float, rate_hz: float) -> tuple[np.ndarray, np.ndarray]:
    """Second-order Butterworth band-pass sections and their step-response initial state
    (`sosfilt_zi`); designing them costs more than using them."""
    sos = signal.butter(2, [low_hz, high_hz], btype="band", fs=rate_hz, output="sos")
    return sos, signal.sosfilt_zi(sos)


def _zero_phase(band: tuple[np.ndarray, np.ndarray], x: np.ndarray) -> np.ndarray:
    """`signal.sosfiltfilt(sos, x, axis=0)` — odd extension at its default length, forward and
    backward from the extension's first sample — with the initial state designed once in
    `_band_pass` instead of on every call: on a live step's short signals that design cost as
    much as the filtering."""
    sos, zi = band
    edge = _filtfilt_padding(band)
    ext = np.concatenate([2 * x[:1] - x[edge:0:-1], x, 2 * x[-1:] - x[-2:-edge - 2:-1]])
    state = zi[:, :, None]  # (sections, 2, columns)
    forward, _ = signal.sosfilt(sos, ext, axis=0, zi=state * ext[0])
    backward, _ = signal.sosfilt(sos, forward[::-1], axis=0, zi=state * forward[-1])
    return backward[::-1][edge:-edge]


def _filtfilt_padding(band: tuple[np.ndarray, np.ndarray]) -> int:
    """The samples sosfiltfilt pads either end with by default: three times its taps."""
    sos = band[0]
    return 3 * (2 * len(sos) + 1 - min(int((sos[:, 2] == 0).sum()), int((sos[:, 5] == 0).sum())))


def _period(movement: np.ndarray, rate_hz: float, config: RepCounterConfig) -> float | None:
    """The shortest lag at which all axes together correlate nearly as well as at their best lag —
    unless one axis turns the other way there: a lift that twists the wrist at the top and again
    at the bottom repeats on the twisting axes twice a repetition, while an axis that moves one
    way up and the other way down is then at its opposite. The period is then the peak near twice
    that lag."""
    n = len(movement)
    # Each axis's autocorrelation at lags 0 … n-1, all axes in one FFT (zero-padded: no wrap-around).
    per_axis = np.fft.irfft(np.abs(np.fft.rfft(movement.T, n=2 * n, axis=1)) ** 2, n=2 * n, axis=1)[:, :n]
    correlation = per_axis.sum(axis=0)
    if correlation[0] <= 0:
        return None
    correlation = correlation / correlation[0]
    lags = np.arange(n) / rate_hz
    peaks, _ = signal.find_peaks(correlation)
    peaks = peaks[(lags[peaks] >= config.min_period_s) & (lags[peaks] <= config.max_period_s)]
    if not len(peaks) or correlation[peaks].max() <= 0:
        return None
    period = peaks[correlation[peaks] >= config.first_peak_ratio * correlation[peaks].max()][0]
    own = per_axis[:, period] / np.maximum(per_axis[:, 0], 1e-12)
    if own.min() < config.half_period_below:
        doubled = peaks[(np.abs(peaks - 2 * period) <= 0.15 * 2 * period) & (correlation[peaks] > 0)]
        if len(doubled):
            period = doubled[np.argmax(correlation[doubled])]
    return float(lags[period])
