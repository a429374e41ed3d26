import json
from pathlib import Path

import numpy as np
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from classifier.gymformat import read_gym_csv
from classifier.plots import recording_png
from classifier.recipes import journal_model_dirs
from classifier.runtime import WindowClassifier, choose_artifact
from classifier.set_finder import FoundSet, SetFinder


class Command(BaseCommand):
    help = (
        "Find the exercise sets in one recording (a gym-format CSV, e.g. from export_recording) and count "
        "their repetitions: exercise, start, end, reps and the instant of each. --live replays the "
        "recording second by second as the watch would send it and prints each change of the sets."
    )

    def add_arguments(self, parser):
        parser.add_argument("recording", type=Path, help="gym-format CSV (.csv or .csv.gz): t, acc_*/gyr_* columns")
        parser.add_argument("--model", type=Path, help="artefact folder (default: the committed journal model that "
                                                       "reads the most of the recording's channels)")
        parser.add_argument("--live", action="store_true", help="replay second by second through the pipeline's live step")
        parser.add_argument("--plot", type=Path, help="write a PNG of the signal, the sets and the repetitions")
        parser.add_argument("--json", dest="json_path", type=Path, help="write the sets to this file")

    def handle(self, *args, recording: Path, model: Path | None, live: bool, plot: Path | None, json_path: Path | None, **options):
        try:
            rec = read_gym_csv(recording)
            folder = model or choose_artifact(journal_model_dirs(), rec.channels)
            served = WindowClassifier(folder)
        except (ValueError, FileNotFoundError, LookupError) as error:
            raise CommandError(str(error)) from error
        finder = SetFinder.served(served)
        self.stdout.write(f"{recording.name}: {rec.duration_s:.1f} s at {rec.rate_hz:g} Hz, {', '.join(rec.channels)}; "
                          f"model {folder}")
        found = self.replay(rec, finder) if live else finder.find(rec.samples, rec.channels, rec.rate_hz)
        self.stdout.write(describe(found))
        if plot:
            plot.parent.mkdir(parents=True, exist_ok=True)
            recording_png(rec.samples, rec.channels, rec.rate_hz, plot, recording.name, found_sets=found)
            self.stderr.write(f"wrote {plot}")
        if json_path:
            json_path.parent.mkdir(parents=True, exist_ok=True)
            json_path.write_text(json.dumps([as_dict(s) for s in found], indent=2))
            self.stderr.write(f"wrote {json_path}")

    def replay(self, rec, finder: SetFinder) -> list[FoundSet]:
        """The journal's live step, a second of samples at a time; each change of the sets printed."""
        shown: list[tuple] = []
        found: list[FoundSet] = []
        for sent, step in finder.replay(rec.samples, rec.channels, rec.rate_hz, batch=int(round(rec.rate_hz)),
                                        settle_s=settings.PIPELINE_SETTLE_SECONDS):
            found = step.sets
            summary = [(s.exercise, s.reps, s.closed) for s in found]
            if summary != shown:
                self.stdout.write(f"[{sent / rec.rate_hz:7.1f} s] " + "; ".join(
                    f"{s.exercise} {s.reps} reps{'' if s.closed else ' (open)'}" for s in found))
                shown = summary
        return found


def as_dict(found: FoundSet) -> dict:
    return {"start_s": round(found.start_s, 2), "end_s": round(found.end_s, 2), "exercise": found.exercise,
            "confidence": round(found.confidence, 3), "reps": found.reps, "rep_times_s": [round(t, 2) for t in found.rep_times_s]}


def describe(sets: list[FoundSet]) -> str:
    if not sets:
        return "no sets found"
    lines = [f"{'#':>3} {'start s':>8} {'end s':>8} {'exercise':<28} {'conf':>5} {'reps':>5}"]
    for i, s in enumerate(sets, 1):
        lines.append(f"{i:>3} {s.start_s:>8.1f} {s.end_s:>8.1f} {s.exercise:<28} {s.confidence:>5.2f} {s.reps:>5}")
    lines.append(f"{len(sets)} sets, {sum(s.reps for s in sets)} reps, "
                 f"{np.sum([s.duration_s for s in sets]):.0f} s of exercise")
    return "\n".join(lines)
