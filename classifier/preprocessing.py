"""Putting a recording into the shape a model expects: its rate, its channels, its scale."""

from __future__ import annotations

import functools
from fractions import Fraction

import numpy as np
from scipy import signal

STANDARD_GRAVITY = 9.80665  # m/s² per g
TO_PROJECT_UNITS = {"g": 1.0, "m/s2": 1 / STANDARD_GRAVITY, "mg": 1e-3, "deg/s": 1.0, "rad/s": 180 / np.pi}


def to_project_units(samples: np.ndarray, channels: list[str], units: dict[str, str]) -> np.ndarray:
    """Acceleration to g and angular rate to deg/s, the units of the protocol and the models.
    `units` names the source unit per sensor prefix, e.g. {"acc": "m/s2", "gyr": "rad/s"}."""
    factors = np.ones(len(channels), dtype=np.float64)
    for i, name in enumerate(channels):
        sensor = name.split("_")[0]
        if sensor in units:
            if units[sensor] not in TO_PROJECT_UNITS:
                raise ValueError(f"unknown unit {units[sensor]!r} for {name}; one of {', '.join(TO_PROJECT_UNITS)}")
            factors[i] = TO_PROJECT_UNITS[units[sensor]]
    return (samples * factors).astype(samples.dtype, copy=False)


def resample(samples: np.ndarray, from_hz: float, to_hz: float) -> np.ndarray:
    """Polyphase resampling along axis 0 (anti-aliased when going down)."""
    if from_hz == to_hz:
        return samples
    ratio = Fraction(to_hz / from_hz).limit_denominator(1000)
    # padtype="line" keeps a gravity offset from ringing at the ends of a recording; through a
    # single sample no line is defined (it gave NaN), and its value held is all there is to keep.
    padtype = "line" if len(samples) > 1 else "edge"
    dtype = samples.dtype if np.issubdtype(samples.dtype, np.floating) else np.dtype(np.float64)
    out = signal.resample_poly(samples, ratio.numerator, ratio.denominator, axis=0, padtype=padtype,
                               window=_anti_aliasing(ratio.numerator, ratio.denominator, dtype.str))
    return out.astype(samples.dtype, copy=False)


@functools.lru_cache(maxsize=64)
def _anti_aliasing(up: int, down: int, dtype: str) -> np.ndarray:
    """resample_poly's own low-pass filter (a Kaiser-windowed sinc, ten zero crossings either
    side, in the samples' precision), designed once instead of on every call: a live step
    resamples a few seconds, and designing it cost more than using it."""
    rate = max(up, down)
    return signal.firwin(2 * 10 * rate + 1, 1.0 / rate, window=("kaiser", 5.0)).astype(dtype)


def resampling_grid(from_hz: float, to_hz: float) -> tuple[int, int]:
    """(step, reach) of `resample` in input samples: a cut at a multiple of `step` keeps the
    resampled samples on the same grid, and a resampled sample depends only on the inputs within
    `reach` of it (resample_poly's filter spans ten zero crossings either side), so resampling
    from a cut at least `reach` before a sample gives that sample as resampling it all does."""
    if from_hz == to_hz:
        return 1, 0
    ratio = Fraction(to_hz / from_hz).limit_denominator(1000)
    return ratio.denominator, int(np.ceil(10 * max(ratio.numerator, ratio.denominator) / ratio.numerator)) + 1


def select_channels(samples: np.ndarray, have: list[str] | tuple[str, ...], want: list[str] | tuple[str, ...]) -> np.ndarray:
    missing = [name for name in want if name not in have]
    if missing:
        raise ValueError(f"the recording has no {', '.join(missing)} (it has {', '.join(have)})")
    return samples[..., [list(have).index(name) for name in want]]
