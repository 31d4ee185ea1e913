import os
import sys

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# Before any test module imports TensorFlow, as the project's commands do: the package sets
# TensorFlow's environment (oneDNN, the CPU allocator); it imports no TensorFlow itself.
import slnl_tf  # noqa: E402,F401


# An expensive fixture shared by several tests (a trained run, an export) is session-scoped
# (a module fixture is rebuilt whenever a test of another module ran in between on the
# worker) and its tests share an xdist_group, which `make test`'s --dist loadgroup keeps on
# one worker, so it is built once.
@pytest.fixture(autouse=True)
def _xdist_group_holds(request):
    # pytest-xdist marks a grouped test by a suffix on its node id; where pytest drops it
    # (pytest 9.2: pytest-dev/pytest-xdist#1386) the groups are silently split and their
    # shared fixtures built once per worker.
    if (getattr(request.config.option, "loadgroup", False) and request.node.get_closest_marker("xdist_group")
            and "@" not in request.node.nodeid):
        pytest.fail("--dist loadgroup did not keep this test in its xdist_group (pytest-dev/pytest-xdist#1386): "
                    "install the pytest version setup.py pins")


@pytest.fixture(autouse=True)
def _fresh_keras_state():
    # Imported here, not at module level, so that pytest-xdist's controller process never
    # loads TensorFlow (whose start-up messages would otherwise follow pytest's summary).
    import keras

    keras.mixed_precision.set_global_policy("float32")
    keras.utils.set_random_seed(0)
    yield
    keras.mixed_precision.set_global_policy("float32")
    # Without clear_session's gc.collect: a full collection after every test took 15-20 % of
    # the in-process tests' time (five layer and model files: 179-181 -> 143-165 s on 2 cores)
    # at the same peak memory; Python's own collector still frees the cycles.
    keras.backend.clear_session(free_memory=False)
    # Op determinism, once a test enabled it, would stay on for the worker's later tests, and
    # under it Keras runs jit_compile=True models without XLA (with only a warning).
    from tensorflow.python.framework import config as tf_config

    tf_config.disable_op_determinism()


def pytest_collection_modifyitems(config, items):
    # `make test`'s scheduler hands out the xdist groups first, then the other tests in
    # collection order: a test of minutes collected late (test_sbu_recipe.py) could run alone at
    # the end while the other worker idled. Those marked slow go first.
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)
