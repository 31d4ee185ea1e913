"""The tiny model config the tests train in seconds."""
from slnl_tf.config import ModelConfig

TINY = ModelConfig(
    num_classes=4,
    frames=16,
    coordinate_systems=2,
    skeleton_joints=8,
    stage_filters=(8, 8, 8, 8, 16, 16),
    fc_units=16,
    m1=3,
    m2=3,
    dropout=0.1,
)
