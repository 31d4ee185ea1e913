"""slnl-tf: SLnL-rFA skeleton-based action recognition in TensorFlow / Keras 3."""
import os
import sys
import warnings


def onednn_enabled():
    """Whether TensorFlow runs its oneDNN kernels in this process (None where it cannot say).
    Imports TensorFlow."""
    try:  # TensorFlow's own test utilities ask this private module; without it, nothing to say
        from tensorflow.python.util._pywrap_util_port import IsMklEnabled
    except ImportError:
        return None
    return bool(IsMklEnabled())


# TensorFlow's default CPU allocator gives large tensors back to the OS and faults their
# pages in again at every step, slow where page faults are (some VMs); the BFC allocator
# keeps the memory (bench/RESULTS.md, change 13). TensorFlow reads this when it
# places its first tensor, so importing slnl_tf first is enough; a value already in the
# environment wins.
os.environ.setdefault("TF_CPU_ALLOCATOR_USE_BFC", "true")
# TensorFlow's Linux wheels turn their oneDNN kernels on by default only on CPUs with
# AVX512_VNNI, AVX512_BF16, AVX_VNNI or AMX (tensorflow/core/util/port.cc,
# DefaultOneDnnPolicy); elsewhere (AVX2 CPUs such as many AMD EPYCs) ops run on Eigen
# kernels compiled for AVX without FMA, slower than oneDNN's (bench/RESULTS.md, change 18). TensorFlow reads this while
# it is imported, so slnl_tf has to come first; a value already in the environment wins.
if "TF_ENABLE_ONEDNN_OPTS" not in os.environ and "tensorflow" in sys.modules:
    if onednn_enabled() is False:
        warnings.warn(
            "tensorflow was imported before slnl_tf, so its oneDNN kernels stay off on this CPU "
            "(training about 1.6x slower where measured): import slnl_tf first, or set "
            "TF_ENABLE_ONEDNN_OPTS=1 in the environment",
            stacklevel=2,
        )
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

__version__ = "0.1.0"


def _import_tensorflow_quietly():
    """Imports TensorFlow and Keras and lists the devices with the process's stderr (file
    descriptor 2) pointed at /dev/null: their native start-up lines (absl's pre-init warning,
    the oneDNN notice, CUDA probes on a machine without a GPU) come before
    TF_CPP_MIN_LOG_LEVEL applies and say nothing a user can act on.
    SLNL_TF_VERBOSE=1 in the environment keeps them; an import error still raises."""
    if os.environ.get("SLNL_TF_VERBOSE") or "tensorflow" in sys.modules:
        import keras  # noqa: F401
        return
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 2)
            import keras  # noqa: F401 (imports tensorflow, the backend)
            import tensorflow

            # The first device query probes CUDA, which logs an error on a machine without a GPU.
            tensorflow.config.list_physical_devices()
    finally:
        os.dup2(saved, 2)
        os.close(saved)


_import_tensorflow_quietly()

# Every custom object registered with Keras, so that keras.saving.load_model reads any
# slnl_tf model (best.keras) once slnl_tf is imported.
from slnl_tf import layers, losses, optimizers  # noqa: E402,F401


def load_model(path, compile=True):
    """A saved slnl_tf model (`best.keras`, or any `.keras` file of this project); with
    `compile=False`, for inference only (no optimizer or losses restored)."""
    import keras

    return keras.saving.load_model(path, compile=compile)
