import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# TensorFlow has allocator statistics for the CPU only under its BFC allocator.
PROBE = """
import slnl_tf
import tensorflow as tf
tf.ones(1)
try:
    tf.config.experimental.get_memory_info("CPU:0")
    print("bfc")
except ValueError:
    print("default")
"""


@pytest.mark.parametrize("preset,expected", [(None, "bfc"), ("false", "default"), ("true", "bfc")])
def test_importing_the_package_selects_the_bfc_allocator_unless_the_environment_says(preset, expected):
    environment = {key: value for key, value in os.environ.items() if key != "TF_CPU_ALLOCATOR_USE_BFC"}
    if preset is not None:
        environment["TF_CPU_ALLOCATOR_USE_BFC"] = preset
    result = subprocess.run([sys.executable, "-c", PROBE], cwd=ROOT, env=environment, capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.split()[-1] == expected
