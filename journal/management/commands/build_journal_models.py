import keras
from django.conf import settings
from django.core.management.base import BaseCommand

from classifier.artifact import export_serving
from classifier.card import CARD, KERAS_FILE, ModelCard
from classifier.recipes import CHANNEL_SETS, GYM_ARCH, GYM_HOP, JOURNAL_DATASETS, JOURNAL_MODELS, TRAINED_DIR, GymRecipe, load_gym_datasets
from classifier.training import TrainingConfig
from classifier.workflows import TrainingData, describe, train_evaluate_export


class Command(BaseCommand):
    help = (
        f"Rebuild the journal's committed models in {TRAINED_DIR.name}/ ({', '.join(JOURNAL_MODELS)}) from "
        f"{', '.join(JOURNAL_DATASETS)} in SHARED_DATA_DIR: exercises + rest, res_cnn, measured with "
        "one held-out subject per dataset, then trained on everyone; every training person fitted for --epochs "
        "(no early stopping: with so few people, holding some aside costs more than it saves — BENCHMARKS.md) "
        "on the windows and their mirror images (either wrist)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--seeds", type=int, default=1, help="seeds for the cross-validated card metrics (default: %(default)s)")
        parser.add_argument("--epochs", type=int, default=TrainingConfig.epochs, help="default: %(default)s")
        parser.add_argument("--export-only", action="store_true",
                            help="train nothing: write the served files (model.tflite, head.npz) again from the committed "
                                 "model.keras and its training windows, after a change of what a served model carries")

    def handle(self, *args, seeds, epochs, export_only, **options):
        progress = options["verbosity"] > 0
        sessions = load_gym_datasets(settings.SHARED_DATA_DIR, JOURNAL_DATASETS, progress=progress)
        for name, channels in JOURNAL_MODELS.items():
            windows = GymRecipe(channels=CHANNEL_SETS[channels]).windows(sessions)
            if export_only:
                export_serving(TRAINED_DIR / name, keras.saving.load_model(TRAINED_DIR / name / KERAS_FILE), windows)
                self.stdout.write(f"{name}: served files written from {KERAS_FILE}")
                continue
            self.stdout.write(f"{name}: {len(windows)} windows, {describe(windows)['windows_per_class']}")
            out = TRAINED_DIR / name
            # A rebuild is a new version: sets name the model that made them (journal-gyro@2).
            version = str(int(ModelCard.load(out).version) + 1) if (out / CARD).is_file() else "1"
            summary = train_evaluate_export(
                TrainingData("+".join(JOURNAL_DATASETS), windows, None, GYM_HOP), split="holdout",
                config=TrainingConfig(arch=GYM_ARCH, epochs=epochs, early_stopping=False), seeds=list(range(seeds)), out=out,
                card={"version": version}, progress=progress,
            )
            self.stdout.write(f"{name}: accuracy {summary['accuracy_mean']:.4f}, macro-F1 {summary['macro_f1_mean']:.4f} "
                              f"(windows), macro-F1 {summary['sets']['macro_f1_mean']:.4f} (sets) → {TRAINED_DIR / name}")
