"""The SLnL-rFA building blocks, one Keras 3 layer per file."""
from slnl_tf.layers.broadcast_bias_conv2d import BroadcastBiasConv2D
from slnl_tf.layers.coordinate_transform import CoordinateTransform
from slnl_tf.layers.frame_difference import FrameDifference
from slnl_tf.layers.frequency_attention import FrequencyAttention
from slnl_tf.layers.non_local_attention import NonLocalAttention
from slnl_tf.layers.persons import CompactPersons, ExpandPersons, FoldPersons, MaxOverPersons
from slnl_tf.layers.skeleton_transform import SkeletonTransform
from slnl_tf.layers.slnl_block import SLnLBlock

__all__ = [
    "BroadcastBiasConv2D",
    "CompactPersons",
    "CoordinateTransform",
    "ExpandPersons",
    "FrameDifference",
    "FrequencyAttention",
    "FoldPersons",
    "MaxOverPersons",
    "NonLocalAttention",
    "SkeletonTransform",
    "SLnLBlock",
]
