import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# TensorFlow has allocator statistics for the CPU only under its BFC allocator (or under
# oneDNN's, which the probe turns off: it would answer "bfc" either way).
ALLOCATOR_PROBE = """
import slnl_tf
import tensorflow as tf
tf.ones(1)
try:
    tf.config.experimental.get_memory_info("CPU:0")
    print("bfc")
except ValueError:
    print("default")
"""
ONEDNN_PROBE = """
import slnl_tf
import tensorflow as tf
from tensorflow.python.util import _pywrap_util_port
assert slnl_tf.onednn_enabled() is bool(_pywrap_util_port.IsMklEnabled())  # what the bench records
print("on" if _pywrap_util_port.IsMklEnabled() else "off")
"""
# TensorFlow imported first, as a user's script may: too late to turn oneDNN on.
LATE_IMPORT_PROBE = """
import warnings
import tensorflow as tf
from tensorflow.python.util import _pywrap_util_port
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    import slnl_tf
warned = any("import slnl_tf first" in str(warning.message) for warning in caught)
print(("on" if _pywrap_util_port.IsMklEnabled() else "off") + "," + ("warned" if warned else "silent"))
"""


def _probe(program, variable, preset, others=None):
    environment = {key: value for key, value in os.environ.items() if key != variable}
    environment.update(others or {})
    if preset is not None:
        environment[variable] = preset
    result = subprocess.run([sys.executable, "-c", program], cwd=ROOT, env=environment, capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout.split()[-1]


@pytest.mark.parametrize("preset,expected", [(None, "bfc"), ("false", "default"), ("true", "bfc")])
def test_importing_the_package_selects_the_bfc_allocator_unless_the_environment_says(preset, expected):
    assert _probe(ALLOCATOR_PROBE, "TF_CPU_ALLOCATOR_USE_BFC", preset, {"TF_ENABLE_ONEDNN_OPTS": "0"}) == expected


@pytest.mark.parametrize("preset,expected", [(None, "on"), ("0", "off"), ("1", "on")])
def test_importing_the_package_turns_onednn_on_unless_the_environment_says(preset, expected):
    assert _probe(ONEDNN_PROBE, "TF_ENABLE_ONEDNN_OPTS", preset) == expected


def test_importing_the_package_after_tensorflow_warns_where_onednn_stayed_off():
    # On CPUs where TensorFlow turns oneDNN on itself nothing is lost and nothing is said.
    enabled, said = _probe(LATE_IMPORT_PROBE, "TF_ENABLE_ONEDNN_OPTS", None).split(",")
    assert said == ("silent" if enabled == "on" else "warned")
