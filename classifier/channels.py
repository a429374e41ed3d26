"""The sensor channel names shared by the watch protocol, the datasets and the models (kept
import-light: the web process reads them without loading SciPy)."""

ACC = ("acc_x", "acc_y", "acc_z")  # g, gravity included
GYRO = ("gyr_x", "gyr_y", "gyr_z")  # deg/s
SENSOR_CHANNELS = ACC + GYRO
