"""slnl-tf: SLnL-rFA skeleton-based action recognition in TensorFlow / Keras 3."""
__version__ = "0.1.0"
