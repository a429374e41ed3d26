from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from classifier.architectures import ARCHITECTURES
from classifier.evaluation import confusion_text
from classifier.recipes import CHANNEL_SETS, GYM_HOP, GYM_RATE_HZ, GYM_WINDOW, GymRecipe
from classifier.splits import SPLITS
from classifier.training import TrainingConfig
from classifier.workflows import BUILTIN, load_training_data, train_evaluate_export


class Command(BaseCommand):
    help = (
        "Train a classifier, measure it on a split by person (or day) over several seeds, and export "
        "the model as an artefact (model.keras, model.tflite, card.json) with its evaluation "
        "(report.json, confusion.png, curves.png). Example: train_classifier barbell_metamotion "
        "--split loso --channels gyro --exclude rest --out models/barbell-gyro"
    )

    def add_arguments(self, parser):
        parser.add_argument("dataset", nargs="?", help=f"{', '.join(BUILTIN)}, or a folder name under SHARED_DATA_DIR/gym")
        parser.add_argument("--data", type=Path, nargs="+", metavar="FOLDER",
                            help="folders in the uniform gym format (sessions.csv, sets.csv, sessions/); several only with --from-labels")
        parser.add_argument("--from-labels", action="store_true",
                            help="learn from the journal's labelled recordings (plus any --data folders), hold out one person per "
                                 "dataset, score the active model on the same recordings, and register a model version "
                                 "(activate it in the admin or with activate_model)")
        parser.add_argument("--split", choices=SPLITS, help="official (uci_har, UEA: their default); loso (gym default), kfold, by-day, holdout (one person per dataset)")
        parser.add_argument("--arch", choices=ARCHITECTURES, default="res_cnn", help="default: %(default)s")
        parser.add_argument("--seeds", type=int, default=3, help="train and score with seeds 0..N-1 (default: %(default)s)")
        parser.add_argument("--epochs", type=int, default=TrainingConfig.epochs, help="at most; early stopping on validation subjects (default: %(default)s)")
        parser.add_argument("--no-early-stopping", dest="early_stopping", action="store_false",
                            help="fit every training subject for all --epochs, nothing held aside (bench classifier's UCI HAR recipe)")
        parser.add_argument("--channels", choices=CHANNEL_SETS, default="acc+gyro", help="gym data only (default: %(default)s)")
        parser.add_argument("--rate", type=float, default=GYM_RATE_HZ, help="Hz, gym data only (default: %(default)s)")
        parser.add_argument("--window", type=int, default=GYM_WINDOW, help="samples per window, gym data only (default: %(default)s)")
        parser.add_argument("--hop", type=int, default=GYM_HOP, help="samples between window starts, gym data only (default: %(default)s)")
        parser.add_argument("--exclude", nargs="+", default=[], metavar="LABEL", help="classes to leave out, e.g. rest")
        parser.add_argument("--out", type=Path, metavar="FOLDER", help="artefact folder to write (default: evaluate only)")

    def handle(self, *args, dataset, data, from_labels, split, arch, seeds, epochs, early_stopping, channels, rate, window, hop, exclude, out,
               **options):
        progress = options["verbosity"] > 0
        if from_labels:
            if not early_stopping:
                raise CommandError("--from-labels keeps early stopping (its held-out people score the model); drop --no-early-stopping")
            return self.from_labels(data or [], channels, epochs, seeds, progress)
        if bool(dataset) == bool(data) or (data and len(data) > 1):
            raise CommandError("give a dataset or one --data folder (several folders only with --from-labels)")
        data = data[0] if data else None
        try:
            source = load_training_data(settings.SHARED_DATA_DIR, dataset, data, GymRecipe(CHANNEL_SETS[channels], rate, window, hop),
                                        tuple(exclude), progress=progress)
            split = split or ("official" if source.official_test is not None else "loso")
            summary = train_evaluate_export(source, split=split, config=TrainingConfig(arch=arch, epochs=epochs, early_stopping=early_stopping),
                                            seeds=list(range(seeds)), out=out, progress=progress)
        except (ValueError, FileNotFoundError) as error:
            raise CommandError(str(error)) from error
        self.stdout.write(f"{arch} on {source.name} ({split} split), {seeds} seed(s): "
                          f"accuracy {summary['accuracy_mean']:.4f} ± {summary['accuracy_sd']:.4f}, "
                          f"macro-F1 {summary['macro_f1_mean']:.4f} ± {summary['macro_f1_sd']:.4f}, "
                          f"{summary['train_seconds_mean']:.0f} s per model")
        if "sets" in summary:
            self.stdout.write(f"per exercise set (windows voting): accuracy {summary['sets']['accuracy_mean']:.4f}, "
                              f"macro-F1 {summary['sets']['macro_f1_mean']:.4f} ± {summary['sets']['macro_f1_sd']:.4f}")
        self.stdout.write("")
        for label, f1 in summary["per_class_f1_mean"].items():
            self.stdout.write(f"  F1 {f1:.3f}  {label}" if f1 is not None else f"  F1   –    {label} (not in the test data)")
        self.stdout.write("\nheld-out windows, all seeds:\n" + confusion_text(summary["labels"], summary["confusion_summed"]))
        if out:
            self.stdout.write(f"\nartefact: {out}  (evaluation in {out / 'evaluation'})")

    def from_labels(self, folders, channels, epochs, seeds, progress):
        from journal.models import TrainingRun
        from journal.retraining import retrain

        if channels not in ("gyro", "acc+gyro"):
            raise CommandError("--from-labels trains journal models: --channels gyro or acc+gyro")
        run = TrainingRun.objects.create(datasets=[str(folder) for folder in folders], channels=channels, epochs=epochs,
                                         seeds=seeds)
        try:
            version = retrain(run, progress=progress)
        except ValueError as error:
            raise CommandError(str(error)) from None
        compared = version.comparison
        self.stdout.write(f"registered {version.name} ({version.path}); held out: {', '.join(compared['held_out'])}, "
                          f"{compared['windows']} windows")
        new, active = compared["new"], compared["active"]
        self.stdout.write(f"  {new['name']:<32} accuracy {new['accuracy']:.4f}  macro-F1 {new['macro_f1']:.4f}   "
                          f"(over {new['seeds']} seeds: {new['accuracy_mean']:.4f} ± {new['accuracy_sd']:.4f}, "
                          f"{new['macro_f1_mean']:.4f} ± {new['macro_f1_sd']:.4f})")
        self.stdout.write(f"  {active['name']:<32} accuracy {active['accuracy']:.4f}  macro-F1 {active['macro_f1']:.4f}")
        self.stdout.write("activate it with: manage.py activate_model " + version.path)
