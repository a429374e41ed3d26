"""`bench personal`: how much an athlete's own labelled sets teach the journal.

For every person of a gym folder with several people, a general model is trained without them
(leave one subject out, the journal's recipe); the person teaches with their first k sets of each
exercise (recording order) and their other sets are scored. A folder of one lifter is split by
day instead: the served journal model (which never saw the lifter) is the general model, the
earlier days teach and the later days are scored — the real case of an athlete whose exercises
no model knows. Methods, side by side on the same sets:

- general: the general model alone (k = 0);
- memory: the journal's athlete memory (classifier/memory.py): the general output layer taught
  the k sets, pulled back towards the general weights, new exercises as new classes;
- memory_both_arms: the same, taught each labelled window and its mirror image (the other arm's
  view, classifier/mirror.py), as the general models are trained;
- fine_tune: the same layer fitted to the k sets alone (no exemplars of the general model's
  classes), nothing pulling it back, 100 L-BFGS steps;
- forest: a random forest on hand-made window features (mean, sd, range, dominant frequency per
  axis) knowing only the k sets.

A one-lifter folder is also read day by day (`by_day`): each day named by a memory taught every
set of the days before it, as an athlete who labels after each workout teaches the journal.

A set is named by its windows' mean probability, as the journal names one. Set macro-F1 over the
exercises the person's scored sets hold (an unknown or untaught name counts wrong), mean ± sd
over people and seeds.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import keras
import numpy as np
from sklearn.ensemble import RandomForestClassifier
from tqdm import tqdm

from classifier.artifact import general_head
from classifier.evaluation import mean_sd
from classifier.gymformat import load_gym_folder
from classifier.memory import GeneralHead, MemoryConfig, teach
from classifier.mirror import mirror_images
from classifier.recipes import GYM_ARCH, GymRecipe, journal_model_dirs
from classifier.runtime import WindowClassifier, choose_artifact
from classifier.segmentation import REST, UNKNOWN
from classifier.splits import folds
from classifier.training import TrainingConfig, train
from classifier.windows import WindowSet
from classifier.workflows import as_the_journal_finds_it, named_sets
from journal.athlete_memory import TEACHING_SETS

PERSONAL_FOLDERS = ("barbell_metamotion", "spar_shoulder_physio_seglearn", "applewatch_gym_sensorlogger")
METHODS = ("general", "memory", "memory_both_arms", "fine_tune", "forest")
TEACHING_DAYS = 3  # a one-lifter folder teaches from its first three workout days


@dataclass(frozen=True)
class Person:
    """One person's labelled windows as a general model that never saw them reads them."""

    name: str
    seed: int
    windows: WindowSet  # only windows inside a labelled set
    embeddings: np.ndarray
    mirrored_embeddings: np.ndarray | None  # of each window's mirror image; None where the limb axis is unknown
    probabilities: np.ndarray  # the general model's
    head: GeneralHead  # its output layer, with exemplars of the windows it was trained on
    general_labels: list[str]
    teachable: np.ndarray  # bool per window: may teach (all of a person's; a lifter's earlier days)


def labelled_windows(folder: Path, *, progress: bool) -> WindowSet:
    sessions = [as_the_journal_finds_it(s) for s in load_gym_folder(folder, progress=progress)]
    recipe = GymRecipe()
    return recipe.windows([s for s in sessions if set(recipe.channels) <= set(s.recording.channels)])


def people(folder: Path, *, seeds: list[int], training: TrainingConfig, progress: bool) -> Iterator[Person]:
    windows = labelled_windows(folder, progress=progress)
    recipe = GymRecipe()
    if len(set(windows.subjects.tolist())) == 1:
        served = WindowClassifier(choose_artifact(journal_model_dirs(), list(recipe.channels)))
        mine = windows.subset(windows.sets != "")
        prediction = served.predict(mine.X)
        mirrored = served.predict(images).embeddings if (images := _mirror_images(mine)) is not None else None
        teaching_days = sorted(set(mine.days.tolist()))[:TEACHING_DAYS]
        for seed in seeds:  # the general model is the same; the forest's seed is not
            yield Person(mine.subjects[0], seed, mine, prediction.embeddings, mirrored, prediction.probabilities, served.head,
                         served.card.labels, np.isin(mine.days, teaching_days))
        return
    for seed in seeds:
        for fold in tqdm(list(folds(windows, "loso")), desc=f"{folder.name} seed {seed}", unit="person", disable=not progress):
            yield _held_out(windows, fold, training, seed)


def _held_out(windows: WindowSet, fold, training: TrainingConfig, seed: int, *, unseen: str | None = None) -> Person:
    """The fold's person, read by a general model trained on the other people (without any window
    of the exercise `unseen`)."""
    training_windows = windows.subset(fold.train)
    if unseen is not None:
        training_windows = training_windows.without_labels([unseen])
    model = train(training_windows, training, seed=seed, progress=False).model
    mine = windows.subset(fold.test)
    mine = mine.subset(mine.sets != "")
    reader = keras.Model(model.inputs, [model.output, model.layers[-1].input])
    probabilities, embeddings = reader.predict(mine.X, batch_size=1024, verbose=0)
    images = _mirror_images(mine)
    mirrored = reader.predict(images, batch_size=1024, verbose=0)[1] if images is not None else None
    head = general_head(model, training_windows)
    keras.backend.clear_session()
    return Person(fold.name, seed, mine, embeddings, mirrored, probabilities, head, training_windows.labels,
                  np.ones(len(mine), bool))


def _mirror_images(windows: WindowSet) -> np.ndarray | None:
    try:
        return mirror_images(windows)
    except ValueError:  # a limb axis unknown
        return None


def new_exercise(folder: Path, *, shots: list[int], seeds: list[int], training: TrainingConfig, progress: bool,
                 memory: MemoryConfig = MemoryConfig()) -> dict:
    """Each exercise E in turn left out of the general model's training altogether (and the person,
    as always); the person teaches E alone with their first k sets of it; E's F1 and the other
    exercises' macro-F1 on the person's other sets, beside the general model's on those others.
    {k: scores}, mean ± sd over people × exercises × seeds."""
    windows = labelled_windows(folder, progress=progress)
    runs: dict[int, list[dict]] = defaultdict(list)
    split_folds = list(folds(windows, "loso"))
    todo = [(seed, fold, exercise) for seed in seeds for fold in split_folds
            for exercise in sorted({windows.labels[i] for i in windows.y[fold.test]} - {REST})]
    for seed, fold, exercise in tqdm(todo, desc=f"{folder.name}, each exercise unseen", unit="model", disable=not progress):
        person = _held_out(windows, fold, training, seed, unseen=exercise)
        w = person.windows
        names = np.array([w.labels[i] for i in w.y])
        order = _sets_in_order(w)
        of_exercise = [s for s in order if names[w.sets == s][0] == exercise]
        exercises = [i for i, label in enumerate(person.general_labels) if label != REST]
        for k in shots:
            if not 0 < k < len(of_exercise):
                continue
            teaching = np.isin(w.sets, of_exercise[:k])
            scoring = ~teaching
            taught_memory = teach(person.general_labels, person.head, person.embeddings[teaching], names[teaching],
                                  w.sets[teaching], memory)
            taught = named_sets(w.sets[scoring], names[scoring], taught_memory.probabilities(person.embeddings[scoring]),
                                list(taught_memory.labels), taught_memory, person.embeddings[scoring])["per_exercise_f1"]
            general = named_sets(w.sets[scoring], names[scoring], person.probabilities[scoring][:, exercises],
                                 [person.general_labels[i] for i in exercises])["per_exercise_f1"]
            others = [e for e in taught if e != exercise]
            runs[k].append({"new_exercise_f1": taught[exercise], "others_macro_f1": float(np.mean([taught[e] for e in others])),
                            "others_macro_f1_general": float(np.mean([general[e] for e in others]))})
    return {str(k): {key: value for name in runs[k][0] for key, value in
                     zip((name, f"{name}_sd"), mean_sd([r[name] for r in runs[k]]))} | {"runs": len(runs[k])} for k in sorted(runs)}


def score_person(person: Person, shots: list[int], memory_config: MemoryConfig = MemoryConfig()) -> dict[str, dict[int, dict]]:
    """Each method's scores for this person at each k (general at k = 0 only)."""
    w = person.windows
    names = np.array([w.labels[i] for i in w.y])
    order = _sets_in_order(w)
    exercise_of = {s: names[w.sets == s][0] for s in order}
    teachable = {s for s in order if person.teachable[w.sets == s][0]}
    general_labels = [label for label in person.general_labels if label != REST]
    general_columns = [person.general_labels.index(label) for label in general_labels]
    results: dict[str, dict[int, dict]] = defaultdict(dict)
    for k in shots:
        taught: dict[str, list[str]] = defaultdict(list)
        for s in order:
            if s in teachable and len(taught[exercise_of[s]]) < k:
                taught[exercise_of[s]].append(s)
        teaching = {s for sets in taught.values() for s in sets}
        scored = [s for s in order if s not in teachable] if not person.teachable.all() else [s for s in order if s not in teaching]
        if not scored:  # every set of theirs taught: nothing left to score at this k
            continue
        scoring = np.isin(w.sets, scored)

        def score(probabilities: np.ndarray, labels: list[str], memory=None) -> dict:
            named = named_sets(w.sets[scoring], names[scoring], probabilities, labels, memory, person.embeddings[scoring])
            return {"sets": named["sets"], "set_macro_f1": named["macro_f1"], "set_accuracy": named["accuracy"],
                    "set_accuracy_of_known": named["accuracy_of_nameable"], "window_accuracy": named["window_accuracy"]}

        general = score(person.probabilities[scoring][:, general_columns], general_labels)
        if k == 0:
            results["general"][0] = general
            continue
        teach_rows = np.isin(w.sets, list(teaching))
        taught_views = {"one": (person.embeddings[teach_rows], names[teach_rows], w.sets[teach_rows])}
        if person.mirrored_embeddings is not None:
            # each set's mirror image a set of its own: the memory keeps each taught set's mean embedding
            mirrored_sets = np.char.add(w.sets[teach_rows].astype(str), "~mirrored")
            taught_views["both"] = tuple(np.concatenate([view, extra]) for view, extra in zip(
                taught_views["one"], (person.mirrored_embeddings[teach_rows], names[teach_rows], mirrored_sets)))
        for method, arms, config in (("memory", "one", memory_config), ("memory_both_arms", "both", memory_config),
                                     ("fine_tune", "one", MemoryConfig(pull=0.0, max_iterations=100, replay=False))):
            if arms not in taught_views:
                continue
            memory = teach(person.general_labels, person.head, *taught_views[arms], config)
            results[method][k] = score(memory.probabilities(person.embeddings[scoring]), list(memory.labels), memory) | {
                "general_on_the_same_sets": general}
        forest = RandomForestClassifier(n_estimators=300, random_state=person.seed, n_jobs=-1)
        forest.fit(window_features(w.X[teach_rows]), names[teach_rows])
        results["forest"][k] = score(forest.predict_proba(window_features(w.X[scoring])), list(forest.classes_)) | {
            "general_on_the_same_sets": general}
    return results


def _by_day_summary(runs: list[dict]) -> dict:
    """A one-lifter folder read day by day, over seeds (`_by_day`): set accuracy over all the days'
    sets; of the sets whose exercise an earlier day held; and that share, the most any method
    taught by earlier days can name."""
    first = runs[0]
    summary = {"sets": first["sets"], "nameable": first["nameable"], "ceiling": first["nameable"] / first["sets"],
               "days": [{key: value for key, value in day.items() if key not in ("memory", "forest")} for day in first["days"]]}
    for method in ("memory", "forest"):
        right = [r[method]["right"] for r in runs]
        summary[method] = {"set_accuracy": float(np.mean(right)) / first["sets"],
                           "set_accuracy_sd": float(np.std(right)) / first["sets"],
                           "set_accuracy_of_known": float(np.mean(right)) / first["nameable"],
                           # right, or unknown where no earlier day held the exercise (the journal then asks)
                           "set_accuracy_asking": float(np.mean([r[method]["right_or_asked"] for r in runs])) / first["sets"],
                           "per_day": [float(np.mean([r["days"][i][method] for r in runs])) for i in range(len(first["days"]))]}
    return summary


def _by_day(person: Person, config: MemoryConfig) -> dict:
    """Each day after the first named by a memory and by a forest taught every set of the days
    before it (the newest TEACHING_SETS of each exercise, as the journal teaches)."""
    w = person.windows
    names = np.array([w.labels[i] for i in w.y])
    order = _sets_in_order(w)
    exercise_of = {s: names[w.sets == s][0] for s in order}
    day_of = {s: w.days[w.sets == s][0] for s in order}
    days, right, nameable, total = [], defaultdict(int), 0, 0
    for day in sorted(set(day_of.values()))[1:]:
        newest: dict[str, list[str]] = defaultdict(list)
        for s in reversed([s for s in order if day_of[s] < day]):
            if len(newest[exercise_of[s]]) < TEACHING_SETS:
                newest[exercise_of[s]].append(s)
        teach_rows = np.isin(w.sets, [s for sets in newest.values() for s in sets])
        scoring = w.sets == np.array([s for s in order if day_of[s] == day])[:, None]  # (sets, windows)
        truth = [exercise_of[s] for s in order if day_of[s] == day]
        memory = teach(person.general_labels, person.head, person.embeddings[teach_rows], names[teach_rows], w.sets[teach_rows],
                       config)
        forest = RandomForestClassifier(n_estimators=300, random_state=person.seed, n_jobs=-1)
        forest.fit(window_features(w.X[teach_rows]), names[teach_rows])
        named = {"memory": [memory.name(person.embeddings[rows]).exercise for rows in scoring],
                 "forest": [_forest_name(forest, w.X[rows], memory.config.unknown_below) for rows in scoring]}
        known = sum(name in newest for name in truth)
        row = {"day": str(day), "sets": len(truth), "nameable": known}
        for method, guesses in named.items():
            right[method] += (named_right := sum(a == b for a, b in zip(truth, guesses)))
            # the journal cannot know a name never taught: asking ("unknown") is its right answer there
            right[f"{method}_open"] += named_right + sum(a not in newest and b == UNKNOWN for a, b in zip(truth, guesses))
            row[method] = named_right / len(truth)
        days.append(row)
        nameable, total = nameable + known, total + len(truth)
    return {"sets": total, "nameable": nameable, "days": days,
            **{m: {"right": right[m], "right_or_asked": right[f"{m}_open"]} for m in ("memory", "forest")}}


def _forest_name(forest: RandomForestClassifier, X: np.ndarray, unknown_below: float) -> str:
    """A set's exercise by the forest's mean probability over its windows, unknown below the memory's threshold."""
    mean = forest.predict_proba(window_features(X)).mean(axis=0)
    return forest.classes_[mean.argmax()] if mean.max() >= unknown_below else UNKNOWN


def by_day_table(name: str, summary: dict) -> str:
    lines = [f"{name}, day by day (each day taught by all the days before it)",
             f"{'day':<12} {'sets':>5} {'an earlier day held':>20} {'memory':>8} {'forest':>8}"]
    for i, day in enumerate(summary["days"]):
        lines.append(f"{day['day']:<12} {day['sets']:>5} {day['nameable']:>20} {summary['memory']['per_day'][i]:>8.3f} "
                     f"{summary['forest']['per_day'][i]:>8.3f}")
    memory, forest = summary["memory"], summary["forest"]
    lines += [f"{'all':<12} {summary['sets']:>5} {summary['nameable']:>20} {memory['set_accuracy']:>8.3f} {forest['set_accuracy']:>8.3f}"
              f"   (of the nameable: memory {memory['set_accuracy_of_known']:.3f}, forest {forest['set_accuracy_of_known']:.3f}; "
              f"the most any can name: {summary['ceiling']:.3f})",
              f"{'':<12} right or asking where nothing earlier could say: memory {memory['set_accuracy_asking']:.3f}, "
              f"forest {forest['set_accuracy_asking']:.3f}"]
    return "\n".join(lines)


def _sets_in_order(w: WindowSet) -> list[str]:
    """A person's sets in recording order: by day, recording, and start within it."""
    return sorted(set(w.sets.tolist()), key=lambda s: (w.days[w.sets == s][0], w.sessions[w.sets == s][0], w.starts[w.sets == s][0]))


def window_features(X: np.ndarray) -> np.ndarray:
    """Per axis: mean, sd, range and the dominant frequency bin of the window."""
    spectrum = np.abs(np.fft.rfft(X - X.mean(axis=1, keepdims=True), axis=1))[:, 1:]
    return np.concatenate([X.mean(axis=1), X.std(axis=1), X.max(axis=1) - X.min(axis=1), spectrum.argmax(axis=1)], axis=1)


def run(folders: list[Path], *, shots: list[int], seeds: list[int], training: TrainingConfig = TrainingConfig(arch=GYM_ARCH, early_stopping=False),
        progress: bool = True, unseen_exercises: bool = False, memory: MemoryConfig = MemoryConfig()) -> tuple[dict, dict]:
    """({dataset: {method: {k: {set_macro_f1, set_macro_f1_sd, set_accuracy, window_accuracy, runs}}}}: mean and sd
    over people × seeds, {one-lifter dataset: read day by day}). With `unseen_exercises`, instead
    {dataset: {"new_exercise": {k: …}}} (`new_exercise`) for the folders of several people, and no days."""
    shots = sorted({0, *shots})
    results, by_day = {}, {}
    if unseen_exercises:
        for folder in folders:
            if len(set(labelled_windows(folder, progress=False).subjects.tolist())) > 1:
                results.setdefault(folder.name, {})["new_exercise"] = new_exercise(
                    folder, shots=[k for k in shots if k], seeds=seeds, training=training, progress=progress, memory=memory)
        return results, by_day
    for folder in folders:
        per_run, days = [], []
        for person in people(folder, seeds=seeds, training=training, progress=progress):
            per_run.append(score_person(person, shots, memory))
            if not person.teachable.all():  # a one-lifter folder, split by day: also read day by day
                days.append(_by_day(person, memory))
        dataset = {}
        for method in METHODS:
            scored = [[r[method][k] for r in per_run if k in r.get(method, {})] for k in shots]
            dataset[method] = {str(k): _summary(runs) for k, runs in zip(shots, scored) if runs}
        results[folder.name] = dataset
        if days:
            by_day[folder.name] = _by_day_summary(days)
    return results, by_day


def _summary(runs: list[dict]) -> dict:
    f1, f1_sd = mean_sd([r["set_macro_f1"] for r in runs])
    accuracy, accuracy_sd = mean_sd([r["set_accuracy"] for r in runs])
    return {"set_macro_f1": f1, "set_macro_f1_sd": f1_sd, "set_accuracy": accuracy, "set_accuracy_sd": accuracy_sd,
            "window_accuracy": mean_sd([r["window_accuracy"] for r in runs])[0], "runs": len(runs),
            # of the sets whose exercise the method can name (a one-lifter's later days hold exercises the earlier never did)
            "set_accuracy_of_known": mean_sd(known)[0] if (known := [r["set_accuracy_of_known"] for r in runs
                                                                     if r["set_accuracy_of_known"] is not None]) else None,
            "sets_scored": int(np.mean([r["sets"] for r in runs]))} | ({
                # the general model on exactly the sets this method was scored on (k sets of each exercise fewer than at k = 0)
                "general_on_the_same_sets": {"set_macro_f1": mean_sd([r["general_on_the_same_sets"]["set_macro_f1"] for r in runs])[0],
                                             "set_accuracy": mean_sd([r["general_on_the_same_sets"]["set_accuracy"] for r in runs])[0]}}
                if "general_on_the_same_sets" in runs[0] else {})


def table(results: dict) -> str:
    lines = []
    for dataset, methods in results.items():
        if "new_exercise" in methods:
            lines += [f"{dataset}: each exercise unseen by the general model, taught by the person alone",
                      f"{'k':>3} {'new exercise F1':>18} {'others macro-F1':>18} {'others, general':>18} {'runs':>5}"]
            for k, r in methods["new_exercise"].items():
                lines.append(f"{k:>3} {r['new_exercise_f1']:>11.3f}±{r['new_exercise_f1_sd']:.3f} "
                             f"{r['others_macro_f1']:>11.3f}±{r['others_macro_f1_sd']:.3f} "
                             f"{r['others_macro_f1_general']:>11.3f}±{r['others_macro_f1_general_sd']:.3f} {r['runs']:>5}")
            lines.append("")
            continue
        ks = sorted({int(k) for scores in methods.values() for k in scores})
        header = f"{dataset:<32} {'method':<16} " + " ".join(f"{'k=' + str(k):>22}" for k in ks)
        lines += [header, "-" * len(header)]
        for method, scores in methods.items():
            cells = [f"{s['set_macro_f1']:.3f}±{s['set_macro_f1_sd']:.3f} ({s['set_accuracy']:.3f})" if (s := scores.get(str(k))) else "–"
                     for k in ks]
            lines.append(f"{'':<32} {method:<16} " + " ".join(f"{cell:>22}" for cell in cells))
        same = [f"{g['set_macro_f1']:.3f} ({g['set_accuracy']:.3f})" if (g := methods["memory"].get(str(k), {}).get("general_on_the_same_sets"))
                else "–" for k in ks]
        lines.append(f"{'':<32} {'general*':<16} " + " ".join(f"{cell:>22}" for cell in same))
        lines.append("")
        lines.append("cells: set macro-F1 ± sd over people × seeds (set accuracy); general*: the general model on the sets "
                     "scored at that k")
    return "\n".join(lines)
