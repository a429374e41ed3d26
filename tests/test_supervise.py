"""config.supervise starts a crashed process again and stops with a stop signal."""

import signal
import subprocess
import sys
import time

CRASH_ONCE = """
import pathlib, sys
marker = pathlib.Path(sys.argv[1])
if not marker.exists():
    marker.write_text("crashed once")
    sys.exit(3)
"""


def test_a_crashed_process_is_started_again(tmp_path):
    result = subprocess.run([sys.executable, "-m", "config.supervise", sys.executable, "-c", CRASH_ONCE, str(tmp_path / "m")],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0
    assert "exited with 3; starting it again" in result.stderr


def test_a_stop_signal_is_passed_on_and_ends_the_supervision():
    process = subprocess.Popen([sys.executable, "-m", "config.supervise", sys.executable, "-c", "import time; time.sleep(60)"])
    time.sleep(1)
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=30) != 0  # the child died of the signal and was not started again
