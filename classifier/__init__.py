"""The ML core: signals, windows, datasets, Keras models, training, evaluation, export and the
LiteRT runtime. Nothing here imports Django; it works from a script or a notebook."""

import os

# Quiets most of TensorFlow's C++ start-up chatter (CPU features …), which no user can act on.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
