"""Readers, record writing and tf.data input for skeleton datasets."""
# slnl_tf first, in every process (converter workers too): it sets TensorFlow's environment
# and imports it without the native start-up noise.
import slnl_tf  # noqa: F401
