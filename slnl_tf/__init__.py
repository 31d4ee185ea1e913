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
# pages in again at every step. Where a page fault is slow (transparent huge pages only on
# request, as in some VMs) that made a training step 1.8x slower and batch-64 serving 1.6x; the BFC
# allocator keeps the memory (bench/RESULTS.md, change 13). TensorFlow reads this when it
# places its first tensor, so importing slnl_tf first is enough; a value already in the
# environment wins.
os.environ.setdefault("TF_CPU_ALLOCATOR_USE_BFC", "true")
# TensorFlow's Linux wheels turn their oneDNN kernels on by default only on CPUs with
# AVX512_VNNI, AVX512_BF16, AVX_VNNI or AMX (tensorflow/core/util/port.cc,
# DefaultOneDnnPolicy); elsewhere (AVX2 CPUs such as many AMD EPYCs) ops run on Eigen
# kernels compiled for AVX without FMA. There oneDNN trained the NTU config 1.6x faster and
# raised the matmul rate 1.2-1.4x (bench/RESULTS.md, change 18). TensorFlow reads this while
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

__version__ = "0.1.0"
