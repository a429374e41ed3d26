"""Charts drawn on the server as SVG: no JavaScript library, no CDN, readable without scripts,
scaled by the browser to any screen. Text goes through `escape`; numbers are formatted here."""

from __future__ import annotations

import zlib
from collections.abc import Sequence

import numpy as np
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from journal.stats import Week

# Colour-blind safe (Okabe–Ito), dark enough for white text.
PALETTE = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#8a6d00", "#56B4E9", "#E69F00", "#444444"]
WIDTH = 1000
# Inside each drawing, so that it looks the same inline and as an <img> (which page CSS never reaches).
# A set's label sits above its block in dark text with a white halo (readable on any colour and
# over the signal); on a narrow screen, where the 1000-unit drawing shrinks to a third, only the
# set's number is shown, large (the table below names it).
STYLE = ("<style>.chart-bg{fill:#fff}.signal{fill:#9fb3c8}.rep{stroke:#fff;stroke-width:1.5}"
         ".set-label{fill:#1b1f24;font:600 17px system-ui,sans-serif;paint-order:stroke;stroke:#fff;stroke-width:4px}"
         ".set-label.narrow{display:none;font-size:38px}"
         "@media (max-width:600px){.set-label.wide{display:none}.set-label.narrow{display:inline}}"
         ".axis{fill:#57606a;font:13px system-ui,sans-serif}"
         ".bar{fill:#0b5cad}.volume{fill:none;stroke:#D55E00;stroke-width:2.5}</style>")
LABEL_CHARACTER_WIDTH = 11.5  # of .set-label at 17 px bold, generously: a label is shortened rather than overlap the next


def exercise_colour(slug: str) -> str:
    return PALETTE[zlib.crc32(slug.encode()) % len(PALETTE)]


def envelope(samples: np.ndarray, columns: int = WIDTH // 2) -> np.ndarray:
    """(columns, 2) min and max of the signal's magnitude per column: a drawing of any length's
    signal in a fixed number of points."""
    if len(samples) == 0:
        return np.empty((0, 2))
    magnitude = np.linalg.norm(samples, axis=1)
    edges = np.linspace(0, len(magnitude), min(columns, len(magnitude)) + 1).astype(int)
    return np.array([[magnitude[a:b].min(), magnitude[a:b].max()] for a, b in zip(edges[:-1], edges[1:])])


def timeline(sets: Sequence, duration_s: float, signal: np.ndarray | None = None, *, height: int = 150,
             title: str = "Sets over the workout") -> SafeString:
    """The workout as a band: each set a coloured block with its exercise and reps, a tick per
    repetition, and (when given) the signal's envelope behind."""
    duration_s = max(duration_s, max((s.end_s for s in sets), default=0.0), 1.0)
    x = lambda t: WIDTH * t / duration_s  # noqa: E731 (the one scale of this drawing)
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" class="chart timeline" viewBox="0 0 {WIDTH} {height + 20}" '
             f'role="img" aria-label="{escape(title)}">', f"<title>{escape(title)}</title>{STYLE}",
             f'<rect width="{WIDTH}" height="{height}" class="chart-bg"/>']
    if signal is not None and len(signal):
        top = float(signal[:, 1].max()) or 1.0
        columns = len(signal)
        upper = " ".join(f"{WIDTH * i / columns:.1f},{height * (1 - hi / top):.1f}" for i, (_, hi) in enumerate(signal))
        lower = " ".join(f"{WIDTH * i / columns:.1f},{height * (1 - lo / top):.1f}" for i, (lo, _) in reversed(list(enumerate(signal))))
        parts.append(f'<polygon points="{upper} {lower}" class="signal"/>')
    ordered = sorted(sets, key=lambda s: s.start_s)
    free_from = 0.0  # where the previous set's label ends
    for s, following in zip(ordered, [*ordered[1:], None]):
        left, right = x(s.start_s), x(s.end_s)
        colour = exercise_colour(s.exercise_id)
        number, label = s.ordinal + 1, f"{s.exercise.name} × {'?' if s.arm_still else s.reps}"
        parts.append(f'<g class="set"><title>Set {number}: {escape(label)}, {_clock(s.start_s)}–{_clock(s.end_s)}</title>'
                     f'<rect x="{left:.1f}" y="{height * 0.55:.1f}" width="{max(right - left, 2):.1f}" height="{height * 0.45:.1f}" '
                     f'fill="{colour}" opacity="0.85"/>')
        parts.extend(f'<line x1="{x(t):.1f}" x2="{x(t):.1f}" y1="{height * 0.55:.1f}" y2="{height:.1f}" class="rep"/>'
                     for t in s.rep_times_s)
        # The whole label where it fits between the previous label and the next set (the last set's
        # may move left of its block, never past the edge), else the set's number alone.
        limit = x(following.start_s) if following else WIDTH
        for wide in (f"{number}. {label}", str(number)):
            width = len(wide) * LABEL_CHARACTER_WIDTH
            label_x = max(free_from, min(left + 2, WIDTH - width))
            if label_x + width <= limit:
                break
        free_from = label_x + width + 6
        y = height * 0.55 - 8
        parts.append(f'<text x="{label_x:.1f}" y="{y:.1f}" class="set-label wide">{escape(wide)}</text>'
                     f'<text x="{min(left + 2, WIDTH - 24 * len(str(number))):.1f}" y="{y:.1f}" class="set-label narrow">{number}</text>')
        parts.append("</g>")
    for t in _ticks(duration_s):
        anchor = "start" if t == 0 else "middle"
        parts.append(f'<text x="{x(t):.1f}" y="{height + 16}" class="axis" text-anchor="{anchor}">{_clock(t)}</text>')
    parts.append("</svg>")
    return mark_safe("".join(parts))


def weekly_bars(weeks: Sequence[Week], *, height: int = 220, title: str = "Reps per week") -> SafeString:
    """Reps per week as bars, with the week's volume as a line when loads were entered."""
    if not weeks:
        return mark_safe("")
    top_reps = max(w.reps for w in weeks) or 1
    top_volume = max(w.volume_kg for w in weeks)
    step = WIDTH / len(weeks)
    top, plot = 22, height - 24  # the drawing's bars run from y=top to y=plot
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" class="chart bars" viewBox="0 0 {WIDTH} {height}" '
             f'role="img" aria-label="{escape(title)}">', f"<title>{escape(title)}</title>{STYLE}"]
    for i, week in enumerate(weeks):
        bar = (plot - top) * week.reps / top_reps
        parts.append(f'<rect x="{i * step + 1:.1f}" y="{plot - bar:.1f}" width="{max(step - 2, 1):.1f}" height="{bar:.1f}" class="bar">'
                     f"<title>Week of {week.start:%d %b %Y}: {week.sets} sets, {week.reps} reps"
                     f"{f', {week.volume_kg:g} kg' if week.volume_kg else ''}</title></rect>")
    if top_volume:
        points = " ".join(f"{(i + 0.5) * step:.1f},{plot - (plot - top) * w.volume_kg / top_volume:.1f}" for i, w in enumerate(weeks))
        parts.append(f'<polyline points="{points}" class="volume"/>')
    label_every = max(1, len(weeks) // 8)
    for i in range(0, len(weeks), label_every):
        anchor = "start" if i == 0 else "middle"
        parts.append(f'<text x="{max((i + 0.5) * step, 2):.1f}" y="{height - 6}" class="axis" text-anchor="{anchor}">'
                     f'{weeks[i].start:%d %b}</text>')
    parts.append(f'<text x="4" y="15" class="axis">{top_reps} reps</text></svg>')
    return mark_safe("".join(parts))


def _ticks(duration_s: float) -> list[float]:
    steps = (10, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200)
    step = next((s for s in steps if duration_s / s <= 8), steps[-1])
    return [float(t) for t in np.arange(0, duration_s + 1e-9, step)][:9]


def _clock(t: float) -> str:
    minutes, seconds = divmod(int(t), 60)
    return f"{minutes // 60}:{minutes % 60:02d}:{seconds:02d}" if minutes >= 60 else f"{minutes}:{seconds:02d}"
