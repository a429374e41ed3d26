import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from classifier.workflows import evaluate_artifact, evaluate_personal


class Command(BaseCommand):
    help = (
        "Score a model artefact, served through LiteRT as in production, on a folder in the uniform "
        "gym format (e.g. recordings of people it never saw). Prints accuracy, macro-F1, per-class "
        "precision/recall/F1 and the confusion matrix. With --personal, as one athlete's journal would: an athlete "
        "memory taught from a folder of their labelled sets names --data's sets."
    )

    def add_arguments(self, parser):
        parser.add_argument("--model", type=Path, required=True, help="artefact folder (card.json, model.tflite)")
        parser.add_argument("--data", type=Path, required=True, help="gym-format folder (sessions.csv, sessions/*.csv.gz)")
        parser.add_argument("--personal", type=Path, metavar="TEACH_FOLDER",
                            help="a gym-format folder of one athlete's labelled sets (exercises the model does not know "
                                 "included): score --data's sets with the athlete memory taught from them, beside the model alone")
        parser.add_argument("--json", dest="json_path", type=Path, help="also write the results to this file")

    def handle(self, *args, model: Path, data: Path, personal: Path | None, json_path: Path | None, **options):
        if personal:
            return self.personal(model, data, personal, json_path, progress=options["verbosity"] > 0)
        try:
            evaluation, coverage = evaluate_artifact(model, data, progress=options["verbosity"] > 0)
        except (ValueError, FileNotFoundError, LookupError) as error:
            raise CommandError(str(error)) from error
        self.stdout.write(f"{model} on {data}: {coverage['windows']} windows, accuracy {evaluation.accuracy:.4f}, "
                          f"macro-F1 {evaluation.macro_f1:.4f}")
        if coverage["sets"]:
            self.stdout.write(f"per exercise set ({sum(map(sum, coverage['sets']['confusion']))} sets, windows voting): "
                              f"accuracy {coverage['sets']['accuracy']:.4f}, macro-F1 {coverage['sets']['macro_f1']:.4f}")
        if coverage["skipped_unknown_labels"]:
            skipped = ", ".join(f"{label} ({n})" for label, n in coverage["skipped_unknown_labels"].items())
            self.stdout.write(f"left out, classes the model does not know: {skipped}")
        self.stdout.write("\n" + evaluation.per_class_text() + "\n\n" + evaluation.confusion_text())
        if json_path:
            json_path.parent.mkdir(parents=True, exist_ok=True)
            json_path.write_text(json.dumps({"model": str(model), "data": str(data), **coverage, **evaluation.to_dict()}, indent=2))
            self.stderr.write(f"wrote {json_path}")

    def personal(self, model: Path, data: Path, teach_folder: Path, json_path: Path | None, *, progress: bool):
        try:
            results = evaluate_personal(model, data, teach_folder, progress=progress)
        except (ValueError, FileNotFoundError, LookupError) as error:
            raise CommandError(str(error)) from error
        taught = ", ".join(f"{exercise} ({n})" for exercise, n in results["sets_taught"].items())
        self.stdout.write(f"memory taught from {teach_folder}: {taught}")
        self.stdout.write(f"{'':<16} {'sets':>5} {'set accuracy':>13} {'set macro-F1':>13} {'window acc':>11}")
        for name, scores in (("with the memory", results), ("model alone", results["general"])):
            self.stdout.write(f"{name:<16} {scores['sets']:>5} {scores['accuracy']:>13.4f} {scores['macro_f1']:>13.4f} "
                              f"{scores['window_accuracy']:>11.4f}")
        if json_path:
            json_path.parent.mkdir(parents=True, exist_ok=True)
            json_path.write_text(json.dumps(results, indent=2))
            self.stderr.write(f"wrote {json_path}")
