"""Parameter, FLOP and attention-weight counts of a built model, per clip."""
import numpy as np
import tensorflow as tf
from tensorflow.python.profiler import model_analyzer, option_builder
from tensorflow.python.util import deprecation

from slnl_tf.layers import CompactPersons, FrequencyAttention, SLnLBlock


def parameter_counts(model):
    """Trainable parameters in total and per top-level layer group (stream / head)."""
    groups = {}
    for layer in model.layers:
        group = layer.name.split("_")[0] if layer.name.startswith(("position", "velocity")) else "concat"
        groups[group] = groups.get(group, 0) + layer.count_params()
    return {"total": int(sum(np.prod(w.shape) for w in model.trainable_weights)), **groups}


def flops_per_clip(model):
    """Forward FLOPs for one clip (batch 1, inference mode).

    Convolutions and matmuls are counted by the TensorFlow profiler, which counts a
    multiply-add as 2 FLOPs; FFTs, which it does not count, are added as 5 N log2 N per
    transform. Elementwise ops count as the profiler counts them (mostly not at all).
    Every person slot is counted, so the model must compute them all: the profiler cannot
    count a model built with `skip_absent_persons`, whose batch inside depends on the data.
    """
    if any(isinstance(layer, CompactPersons) for layer in model.layers):
        raise ValueError(f"model {model.name!r} skips absent persons; count the FLOPs of the same config built "
                         "without skip_absent_persons (the weights do not matter)")
    spec = tf.TensorSpec((1,) + tuple(model.input_shape[1:]), tf.float32)
    graph = tf.function(lambda x: model(x, training=False), autograph=False).get_concrete_function(spec).graph
    options = option_builder.ProfileOptionBuilder.float_operation()
    options["output"] = "none"
    with deprecation.silence():  # the profiler is TF1 API and says so on every call
        profiled = model_analyzer.profile(graph, options=options).total_float_ops
    fft = sum(
        layer.fft_flops((None,) + tuple(layer.input.shape[1:])) * model.input_shape[-1]
        for layer in model.layers
        if isinstance(layer, FrequencyAttention)
    )
    return int(profiled + fft)


def attention_weights_per_clip(model):
    """Non-local attention weights (query-key pairs) for one clip, over all SLnL blocks,
    non-local paths and persons: the elements of the score tensors a forward pass makes."""
    persons = model.input_shape[-1]
    return int(sum(
        path.attention_weight_count(layer.input.shape) * persons
        for layer in model.layers if isinstance(layer, SLnLBlock)
        for path in layer.non_local
    ))
