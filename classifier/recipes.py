"""How the gym data is windowed for training, and the journal's own models: which data, which
channels, which rate and window. `build_journal_models` rebuilds the committed artefacts."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from classifier.channels import ACC, GYRO
from classifier.gymformat import GymSession, gym_windows, load_gym_folder
from classifier.windows import WindowSet

# 25 Hz is the MetaMotion gyro's own rate and the slowest wrist set; 4 s holds one to two
# repetitions of a lift; a window starts every second, in training as in a live recording.
GYM_RATE_HZ = 25.0
GYM_WINDOW = 100
GYM_HOP = 25
GYM_ARCH = "res_cnn"  # the journal's models and everything that measures or retrains them (the served width)

CHANNEL_SETS = {"gyro": GYRO, "acc": ACC, "acc+gyro": ACC + GYRO}

# The sets with a gyroscope (muvr has none). Exermote is upper-arm, not wrist, but it is the only
# continuous stream of sets *and rests* with a gyroscope: the journal needs `rest` from somewhere.
JOURNAL_DATASETS = ("barbell_metamotion", "spar_shoulder_physio_seglearn", "exermote_upperarm")
JOURNAL_MODELS = {"journal-gyro": "gyro", "journal-acc-gyro": "acc+gyro"}
TRAINED_DIR = Path(__file__).parent / "trained"  # where the journal models are committed


@dataclass(frozen=True)
class GymRecipe:
    channels: tuple[str, ...] = ACC + GYRO
    rate_hz: float = GYM_RATE_HZ
    window: int = GYM_WINDOW
    hop: int = GYM_HOP

    def windows(self, sessions: list[GymSession], *, exclude: tuple[str, ...] = ()) -> WindowSet:
        windows = gym_windows(sessions, rate_hz=self.rate_hz, channels=self.channels, length=self.window, hop=self.hop)
        return windows.without_labels(exclude)


def load_gym_datasets(data_dir: Path | str, names: tuple[str, ...] | list[str], *, progress: bool = True) -> list[GymSession]:
    return [session for name in names for session in load_gym_folder(Path(data_dir) / "gym" / name, progress=progress)]


def journal_model_dirs() -> list[Path]:
    return [TRAINED_DIR / name for name in JOURNAL_MODELS]
