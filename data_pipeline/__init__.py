"""Readers, record writing and tf.data input for skeleton datasets."""
