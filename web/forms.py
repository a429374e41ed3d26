"""The website's forms. Exercise names are free text: a name the journal does not know yet
becomes a new exercise (and, through the correction, a label)."""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.contrib.auth.forms import UserCreationForm
from django.utils.text import slugify

from ingest.models import Device, Placement, Side
from ingest.recordings import IMPORTABLE_SUFFIXES
from journal.models import MAX_REPS, MAX_WEIGHT_KG, Workout


class SignupForm(UserCreationForm):
    email = forms.EmailField(required=False, help_text="Optional; only used to reset a forgotten password.")

    class Meta(UserCreationForm.Meta):
        fields = ["username", "email"]


class NameForm(forms.Form):
    """A set's exercise alone (a one-tap suggestion): the rest of the set stays as it is now."""

    exercise = forms.CharField(max_length=64, help_text="Pick one, or type a new name.")

    def clean_exercise(self):
        slug = slugify(self.cleaned_data["exercise"]).replace("-", "_")
        if not slug:
            raise forms.ValidationError("Give the exercise a name made of letters or digits.")
        return slug


class SetForm(NameForm):
    reps = forms.IntegerField(min_value=0, max_value=MAX_REPS)
    weight_kg = forms.FloatField(required=False, min_value=0, max_value=MAX_WEIGHT_KG, label="Weight (kg)")
    notes = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))


class SplitForm(forms.Form):
    """Where to split, written as the sets table shows times (m:ss or h:mm:ss), or in seconds."""

    at_s = forms.CharField(label="Split at (m:ss into the workout)")

    def clean_at_s(self) -> float:
        text = self.cleaned_data["at_s"].strip()
        try:
            parts = [float(part) for part in text.split(":")]
        except ValueError:
            parts = []
        if not 1 <= len(parts) <= 3 or any(p < 0 for p in parts) or any(p >= 60 for p in parts[1:]):
            raise forms.ValidationError(f"“{text}” is not a time into the workout: write it as 1:23, or 83 (seconds)")
        seconds = 0.0
        for part in parts:
            seconds = seconds * 60 + part
        return seconds


class WorkoutNotesForm(forms.ModelForm):
    class Meta:
        model = Workout
        fields = ["notes"]
        widgets = {"notes": forms.Textarea(attrs={"rows": 3, "placeholder": "How did it go?"})}


SIDE_CHOICES = [("", "arm not said"), *Side.choices]


class DeviceForm(forms.ModelForm):
    class Meta:
        model = Device
        fields = ["name", "side", "placement"]
        widgets = {"name": forms.TextInput(attrs={"placeholder": "e.g. Apple Watch"})}
        labels = {"side": "Arm", "placement": "Worn on the"}
        help_texts = {"side": "A left-arm recording is read as the mirror image the models know; not said: as recorded."}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["placement"].required = False  # a form that leaves it out means the wrist
        self.fields["side"].choices = SIDE_CHOICES

    def clean_placement(self) -> str:
        return self.cleaned_data["placement"] or Placement.WRIST


class ImportForm(forms.Form):
    file = forms.FileField(help_text="A gym-format CSV (t, acc_x … gyr_z; .csv or .csv.gz), as exported here, or a "
                                     "Sensor Logger zip export (the Apple Watch's wrist motion, or the phone's motion).")
    started_at = forms.DateTimeField(required=False, widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
                                     help_text="When the recording started; default: when a Sensor Logger export says, "
                                               "else now.")
    side = forms.ChoiceField(choices=SIDE_CHOICES, required=False, label="Arm",
                             help_text="The arm the device was on: an Apple Watch is usually on the left.")
    placement = forms.ChoiceField(choices=Placement.choices, initial=Placement.WRIST, required=False, label="Worn on the")

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if upload.size > settings.IMPORT_MAX_BYTES:
            raise forms.ValidationError(f"The file is {upload.size / 2**20:.0f} MB; at most "
                                        f"{settings.IMPORT_MAX_BYTES / 2**20:.0f} MB can be imported.")
        if not upload.name.lower().endswith(IMPORTABLE_SUFFIXES):
            raise forms.ValidationError("Only gym-format .csv or .csv.gz files, or Sensor Logger .zip exports, can be imported.")
        return upload
