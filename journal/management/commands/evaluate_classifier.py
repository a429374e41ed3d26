import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from classifier.workflows import evaluate_artifact


class Command(BaseCommand):
    help = (
        "Score a model artefact, served through LiteRT as in production, on a folder in the uniform "
        "gym format (e.g. recordings of people it never saw). Prints accuracy, macro-F1, per-class "
        "precision/recall/F1 and the confusion matrix."
    )

    def add_arguments(self, parser):
        parser.add_argument("--model", type=Path, required=True, help="artefact folder (card.json, model.tflite)")
        parser.add_argument("--data", type=Path, required=True, help="gym-format folder (sessions.csv, sessions/*.csv.gz)")
        parser.add_argument("--json", dest="json_path", type=Path, help="also write the results to this file")

    def handle(self, *args, model: Path, data: Path, json_path: Path | None, **options):
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
