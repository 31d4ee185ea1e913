"""slnl-tf: SLnL-rFA skeleton-based action recognition in TensorFlow / Keras 3."""
import os

# TensorFlow's default CPU allocator gives large tensors back to the OS and faults their
# pages in again at every step. Where a page fault is slow (transparent huge pages only on
# request, as in some VMs) that made a training step 1.8x slower and batch-64 serving 1.6x; the BFC
# allocator keeps the memory (bench/RESULTS.md, change 13). TensorFlow reads this when it
# places its first tensor, so importing slnl_tf first is enough; a value already in the
# environment wins.
os.environ.setdefault("TF_CPU_ALLOCATOR_USE_BFC", "true")

__version__ = "0.1.0"
