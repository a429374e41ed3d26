import json
from dataclasses import asdict
import os
import platform
from pathlib import Path

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

from bench import classifier as classifier_benchmark
from bench import ingest as ingest_benchmark
from bench import personal as personal_benchmark
from bench import pipeline as pipeline_benchmark
from bench import sets_reps as sets_reps_benchmark
from bench import web as web_benchmark
from classifier.memory import MemoryConfig
from classifier.plots import shots_png
from classifier.recipes import GYM_ARCH, journal_model_dirs
from classifier.training import TrainingConfig


def machine() -> dict:
    return {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version(),
            "processor": platform.processor() or platform.machine()}


class Command(BaseCommand):
    help = (
        "Benchmarks that users can run; each prints a table and can write JSON. They start what they "
        "need (embedded services, web server) unless pointed at a running stack."
    )

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="benchmark", required=True)
        ingest = sub.add_parser("ingest", help="N simulated watches at 50 Hz, one 50-sample frame per second each")
        ingest.add_argument("--watches", type=int, default=100, help="default: %(default)s")
        ingest.add_argument("--seconds", type=float, default=30.0, help="seconds streamed per watch (default: %(default)s)")
        ingest.add_argument("--url", help="ws:// URL of a running server (with --push: its http:// root; default: start one)")
        ingest.add_argument("--push", action="store_true",
                            help="push one Sensor Logger message a second per watch over HTTP instead of protocol v1 frames")
        ingest.add_argument("--web-processes", type=int, default=1,
                            help="uvicorn worker processes of the server it starts (WEB_CONCURRENCY; default: %(default)s)")
        classifier = sub.add_parser(
            "classifier",
            help="UCI HAR official split (our model beside the notebook models), gym leave-one-subject-out, "
                 "inference speed (LiteRT vs Keras)",
        )
        classifier.add_argument("--seeds", type=int, default=5, help="seeds for our model and the tutorial CNN (default: %(default)s)")
        classifier.add_argument("--baseline-seeds", type=int, default=1, help="seeds for the slow LSTM notebook models (default: %(default)s)")
        classifier.add_argument("--gym-seeds", type=int, default=3, help="seeds per gym dataset and channel set (default: %(default)s)")
        classifier.add_argument("--epochs", type=int, default=40,
                                help="all of them for UCI HAR (and the gym with --gym-fixed-epochs); at most, with early "
                                     "stopping, for the gym (default: %(default)s)")
        classifier.add_argument("--gym-fixed-epochs", action="store_true",
                                help="gym: fit every training person for --epochs with no validation split, as the UCI "
                                     "models are, instead of early stopping on a fifth of the training people")
        classifier.add_argument("--gym-one-arm", action="store_true",
                                help="gym: fit the windows as recorded only, not also their mirror images (the other "
                                     "arm's view), to measure what those add")
        classifier.add_argument("--gym-right-arm-frame", action="store_true",
                                help="gym: put every left-arm window in the right arm's frame (its mirror image) first, "
                                     "as the journal does for a device whose side is said; with --gym-one-arm, the "
                                     "alternative to fitting both arms' views")
        classifier.add_argument("--gym-datasets", nargs="+", choices=classifier_benchmark.GYM_DATASETS,
                                default=classifier_benchmark.GYM_DATASETS, help="gym: only these folders")
        classifier.add_argument("--lstm-epochs", type=int, default=30, help="at most, for the LSTMs, as in the notebooks (default: %(default)s)")
        classifier.add_argument("--only", nargs="+", choices=("uci_har", "gym", "inference", "uci_selection"),
                                default=("uci_har", "gym", "inference"),
                                help="run only these parts; uci_selection (not run by default) repeats the study on UCI's "
                                     "training people that chose the UCI recipe, with --gym-seeds seeds")
        classifier.add_argument("--plots", type=Path, help="write each run's report.json, confusion.png and curves.png under this folder")
        pipeline = sub.add_parser(
            "pipeline",
            help="N watches replay real workouts in real time through web server, Redis, Celery worker and "
                 "PostgreSQL; latency from a set's last sample (and from its last repetition) to its journal row's final count",
        )
        pipeline.add_argument("--watches", type=int, default=50, help="default: %(default)s")
        pipeline.add_argument("--seconds", type=float, default=120.0, help="seconds of each workout streamed (default: %(default)s)")
        pipeline.add_argument("--concurrency", type=int, default=2, help="worker processes (default: %(default)s)")
        pipeline.add_argument("--step-minutes", type=float, nargs="*", default=[2, 60],
                              help="first, time one step at the end of workouts this many minutes long (default: %(default)s)")
        web = sub.add_parser(
            "web",
            help="seed a year of training for N athletes (~10,000 sets each), then time the journal, workout, search "
                 "and progress pages and the sets API over HTTP against a production-settings server",
        )
        web.add_argument("--users", type=int, default=100, help="default: %(default)s (about a million sets)")
        web.add_argument("--days", type=int, default=365, help="days of training history (default: %(default)s)")
        web.add_argument("--requests", type=int, default=400, help="requests per page (default: %(default)s)")
        web.add_argument("--reseed", action="store_true", help="seed again even if the bench athletes exist")
        sets_reps = sub.add_parser(
            "sets-reps",
            help="find the sets of every recording and count their repetitions, scored against sets.csv; "
                 "a model is trained per left-out subject unless --model is given",
        )
        sets_reps.add_argument("--data", nargs="+", type=Path,
                               help="gym-format folders (default: every dataset in SHARED_DATA_DIR/gym)")
        sets_reps.add_argument("--model", help="an artefact folder, or 'default' for the committed journal models "
                                               "(picked by channels); scores every recording, trained on or not")
        sets_reps.add_argument("--epochs", type=int, default=40,
                               help="per fold: at most, with early stopping; all of them with --fixed-epochs (default: %(default)s)")
        sets_reps.add_argument("--fixed-epochs", action="store_true",
                               help="fit every training person for --epochs with no validation split, instead of early "
                                    "stopping on a fifth of the training people")
        sets_reps.add_argument("--seed", type=int, default=0, help="default: %(default)s")
        sets_reps.add_argument("--unseen", nargs="+", default=("sit_up",), metavar="EXERCISE",
                               help="also train without these exercises, to see their sets found and named unknown "
                                    "(default: %(default)s; only where a dataset has them)")
        sets_reps.add_argument("--plots", type=Path, help="write a PNG per continuous recording, and the best and worst counted sets, here")
        personal = sub.add_parser(
            "personal",
            help="how much an athlete's own labelled sets teach the journal: per person, a general model trained without "
                 "them, then their first k sets of each exercise taught (the athlete memory, last-layer fine-tuning, a "
                 "random forest on their sets alone) and their other sets scored; a one-lifter folder teaches from its "
                 "first three days and is scored on the later ones",
        )
        personal.add_argument("--data", nargs="+", type=Path,
                              help=f"gym-format folders (default: {', '.join(personal_benchmark.PERSONAL_FOLDERS)} in SHARED_DATA_DIR/gym)")
        personal.add_argument("--shots", nargs="+", type=int, default=[1, 2, 3, 5],
                              help="labelled sets per exercise to teach with; 0 (the general model) is always scored "
                                   "(default: %(default)s)")
        personal.add_argument("--seeds", type=int, default=3, help="general models (and forests) per person (default: %(default)s)")
        personal.add_argument("--epochs", type=int, default=40, help="each general model fits its people for this many (default: %(default)s)")
        personal.add_argument("--contrastive", type=float, default=0.0,
                              help="weight of a supervised contrastive loss on the general models' embedding beside the "
                                   "cross-entropy (classifier/training.py; the one-lifter folders are read by the served "
                                   "models, whatever this says) (default: %(default)s)")
        personal.add_argument("--ask-below", type=float, default=None,
                              help="the memory asks about a set named one of the athlete's exercises unless it is at least this "
                                   "close (cosine) to a set that taught it (MemoryConfig.novel_below; default: no such test)")
        personal.add_argument("--plot", type=Path, help="write the macro-F1 against k curves to this PNG")
        personal.add_argument("--new-exercise", action="store_true",
                              help="instead: each exercise in turn left out of the general model too, and taught by the "
                                   "person alone with k sets; its F1 and the others' macro-F1 (a model per person, "
                                   "exercise and seed: slow)")
        for each in (ingest, classifier, pipeline, web, sets_reps, personal):
            each.add_argument("--json", dest="json_path", type=Path, help="write the results to this file")

    def handle(self, *args, benchmark, json_path: Path | None = None, **options):
        if benchmark in ("ingest", "pipeline", "web"):  # they write to the database: bring its schema up to date first
            call_command("migrate", interactive=False, verbosity=0)
        runner = {"ingest": self.bench_ingest, "classifier": self.bench_classifier, "sets-reps": self.bench_sets_reps,
                  "pipeline": self.bench_pipeline, "web": self.bench_web, "personal": self.bench_personal}[benchmark]
        results = {"benchmark": benchmark, "machine": machine(), **runner(**options)}
        if json_path:
            json_path.parent.mkdir(parents=True, exist_ok=True)
            json_path.write_text(json.dumps(results, indent=2))
            self.stderr.write(f"wrote {json_path}")

    def bench_ingest(self, *, watches, seconds, url, push, web_processes, **_):
        self.stderr.write(f"bench ingest: {watches} {'Sensor Logger pushers' if push else 'watches'} × {seconds:g} s …")
        return self.print_pairs(ingest_benchmark.run(watches=watches, seconds=seconds, url=url, push=push,
                                                     web_processes=web_processes))

    def bench_pipeline(self, *, watches, seconds, concurrency, step_minutes, **_):
        self.stderr.write(f"bench pipeline: {watches} watches × {seconds:g} s in real time, {concurrency} worker processes …")
        return self.print_pairs(pipeline_benchmark.run(watches=watches, seconds=seconds, concurrency=concurrency,
                                                       step_minutes=tuple(step_minutes)))

    def bench_web(self, *, users, days, requests, reseed, verbosity, **_):
        self.stderr.write(f"bench web: {users} athletes × {days} days, {requests} requests per page …")
        results = web_benchmark.run(users=users, days=days, requests=requests, reseed=reseed, progress=verbosity > 0)
        self.stdout.write(web_benchmark.table(results))
        return results

    def bench_personal(self, *, data, shots, seeds, epochs, contrastive, ask_below, plot, new_exercise, verbosity, **_):
        folders = data or [Path(settings.SHARED_DATA_DIR) / "gym" / name for name in personal_benchmark.PERSONAL_FOLDERS]
        self.stderr.write(f"bench personal: {', '.join(f.name for f in folders)}, k = {shots}, {seeds} seed(s) …")
        training = TrainingConfig(arch=GYM_ARCH, epochs=epochs, early_stopping=False, contrastive=contrastive)
        memory = MemoryConfig(novel_below=ask_below)
        results, by_day = personal_benchmark.run(folders, shots=shots, seeds=list(range(seeds)), progress=verbosity > 0,
                                                 training=training, unseen_exercises=new_exercise, memory=memory)
        self.stdout.write(personal_benchmark.table(results))
        for name, summary in by_day.items():
            self.stdout.write(personal_benchmark.by_day_table(name, summary))
        if plot and not new_exercise:
            plot.parent.mkdir(parents=True, exist_ok=True)
            shots_png(results, plot, "An athlete's own sets: set macro-F1 against sets taught per exercise")
        return {"datasets": results, "by_day": by_day, "general_models": asdict(training), "memory": asdict(memory)}

    def print_pairs(self, results: dict) -> dict:
        width = max(map(len, results))
        for key, value in results.items():
            self.stdout.write(f"{key:<{width}}  {value}")
        return results

    def bench_classifier(self, *, seeds, baseline_seeds, gym_seeds, epochs, gym_fixed_epochs, gym_one_arm, gym_right_arm_frame,
                         gym_datasets, lstm_epochs, only, plots, verbosity, **_):
        self.stderr.write(f"bench classifier: {', '.join(only)} …")
        gym_training = TrainingConfig(arch=GYM_ARCH, epochs=epochs, early_stopping=not gym_fixed_epochs,
                                      mirror_arms=not gym_one_arm)
        results = classifier_benchmark.run(
            settings.SHARED_DATA_DIR, seeds=seeds, baseline_seeds=baseline_seeds, gym_seeds=gym_seeds, epochs=epochs,
            lstm_epochs=lstm_epochs, out=plots, progress=verbosity > 0, parts=only, gym_training=gym_training,
            gym_datasets=tuple(gym_datasets), gym_right_arm_frame=gym_right_arm_frame,
        )
        self.stdout.write(classifier_benchmark.table(results))
        return results

    def bench_sets_reps(self, *, data, model, epochs, fixed_epochs, seed, unseen, plots, verbosity, **_):
        folders = data or [settings.SHARED_DATA_DIR / "gym" / name for name in sets_reps_benchmark.GYM_FOLDERS]
        missing = [str(folder) for folder in folders if not (folder / "sessions.csv").is_file()]
        if missing:
            raise CommandError(f"not a gym-format folder (no sessions.csv): {', '.join(missing)}")
        model_dirs = None if model is None else journal_model_dirs() if model == "default" else [Path(model)]
        self.stderr.write(f"bench sets-reps: {', '.join(folder.name for folder in folders)} …")
        training = TrainingConfig(arch=GYM_ARCH, epochs=epochs, early_stopping=not fixed_epochs)
        results = sets_reps_benchmark.run(folders, model_dirs=model_dirs, training=training, seed=seed, plots=plots, progress=verbosity > 0,
                                     unseen=tuple(unseen))
        self.stdout.write(sets_reps_benchmark.table(results))
        return results
