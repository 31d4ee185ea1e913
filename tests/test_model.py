import keras
import numpy as np
import pytest
import tensorflow as tf

from slnl_tf.data import synthetic
from slnl_tf import losses, training
from slnl_tf.config import NUM_STAGES, PRESETS, ModelConfig
from slnl_tf.layers import FrequencyAttention, SLnLBlock
from slnl_tf.layers.frequency_attention import VARIANTS
from slnl_tf.model import OUTPUTS, build_losses, build_model
from slnl_tf.model_cost import attention_weights_per_clip, flops_per_clip, parameter_counts
from tiny_config import TINY


def _clips(config, n=8, seed=0):
    return synthetic.make_clips(n, config.num_classes, config.frames, config.joints, config.persons, seed=seed)


def test_outputs_are_three_float32_logit_heads():
    model = build_model(TINY)
    clips, _ = _clips(TINY)
    outputs = model(clips)
    assert sorted(outputs) == sorted(OUTPUTS)
    for logits in outputs.values():
        assert logits.shape == (8, TINY.num_classes) and logits.dtype == "float32"


def test_mixed_bfloat16_keeps_logits_and_fft_in_float32():
    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    model = build_model(TINY)
    outputs = model(_clips(TINY)[0])
    assert all(logits.dtype == "float32" for logits in outputs.values())
    fa = [layer for layer in model.layers if isinstance(layer, FrequencyAttention)]
    assert fa and all(layer.compute_dtype == "float32" for layer in fa)
    assert model.get_layer("stage5_conv").compute_dtype == "bfloat16"


def test_persons_share_weights_and_their_order_does_not_matter():
    model = build_model(TINY)
    clips, _ = _clips(TINY)
    clips[..., 1] = _clips(TINY, seed=9)[0][..., 0]  # two real persons everywhere
    direct = model(clips)
    swapped = model(clips[..., ::-1])
    for name in OUTPUTS:
        np.testing.assert_allclose(direct[name].numpy(), swapped[name].numpy(), rtol=1e-5, atol=1e-5)


def test_first_m1_stages_are_slnl_blocks():
    for m1 in range(NUM_STAGES + 1):
        model = build_model(TINY.replace(m1=m1, m2=NUM_STAGES - m1))
        blocks = [layer.name for layer in model.layers if isinstance(layer, SLnLBlock)]
        # stages 1-4 exist once per stream, stages 5-6 once.
        assert len(blocks) == sum(2 if stage < 4 else 1 for stage in range(m1))
        assert all(int(name.split("stage")[1][0]) <= m1 for name in blocks)


@pytest.mark.parametrize("variant", VARIANTS)
def test_attention_variants_build_and_differ_only_in_attention_parameters(variant):
    base = parameter_counts(build_model(TINY.replace(attention="none")))["total"]
    model = build_model(TINY.replace(attention=variant))
    attention = sum(layer.count_params() for layer in model.layers if isinstance(layer, FrequencyAttention))
    assert parameter_counts(model)["total"] == base + attention


def test_full_model_save_and_load_give_identical_outputs(tmp_path):
    model = build_model(TINY)
    clips, _ = _clips(TINY)
    path = str(tmp_path / "slnl.keras")
    model.save(path)
    restored = keras.saving.load_model(path)
    for name, logits in model(clips).items():
        np.testing.assert_array_equal(restored(clips)[name].numpy(), logits.numpy())


def test_flops_match_an_analytic_count_for_the_local_model():
    config = TINY.replace(m1=0, m2=NUM_STAGES, attention="none")
    model = build_model(config)
    analytic = 0
    for layer in model.layers:
        kind = type(layer).__name__
        if kind == "BroadcastBiasConv2D":
            _, height, width, filters = layer.output.shape
            outputs = height * width * filters * config.persons
            analytic += 2 * outputs * int(np.prod(layer.kernel.shape[:3])) + outputs  # + bias add
        elif kind == "Dense":
            analytic += 2 * int(np.prod(layer.kernel.shape)) + layer.kernel.shape[1]
        elif kind in ("CoordinateTransform", "SkeletonTransform"):
            rows = np.prod(layer.input.shape[1:]) // layer.kernel.shape[0]
            analytic += 2 * rows * int(np.prod(layer.kernel.shape)) * config.persons
    counted = flops_per_clip(model)
    # The profiler also counts bias adds and a few elementwise ops.
    assert analytic <= counted <= 1.02 * analytic


def test_attention_weights_per_clip_add_up_the_score_tensors():
    config = TINY.replace(nonlocal_subsample=False)
    model = build_model(config)
    blocks = [layer for layer in model.layers if isinstance(layer, SLnLBlock)]
    assert len(blocks) == 2 * config.m1  # stages 1..M1 in both streams
    scores = 0
    for block in blocks:
        x = np.random.default_rng(0).normal(size=(config.persons,) + tuple(block.input.shape[1:])).astype("float32")
        scores += sum(path(x, return_attention_scores=True)[1].numpy().size for path in block.non_local)
    assert attention_weights_per_clip(model) == scores
    assert attention_weights_per_clip(build_model(TINY.replace(m1=0, m2=6))) == 0


def test_slnl_and_fft_add_flops():
    local = flops_per_clip(build_model(TINY.replace(m1=0, m2=6, attention="none")))
    with_fft = flops_per_clip(build_model(TINY.replace(m1=0, m2=6, attention="residual")))
    slnl = flops_per_clip(build_model(TINY.replace(m1=3, m2=3, attention="none")))
    assert local < with_fft and local < slnl


@pytest.mark.parametrize(
    "change,message",
    [({"m1": 4, "m2": 3}, "m1 \\+ m2 must be 6"), ({"attention": "phase"}, "attention must be one of"),
     ({"loss": "hinge"}, "loss must be one of"), ({"frames": 1}, "frames must be >= 2"),
     ({"dropout": 1.0}, "dropout must be in"), ({"stage_filters": (8, 8)}, "stage_filters must be 6"),
     ({"nonlocal_axes": ("depth",)}, "nonlocal_axes")],
)
def test_config_validation_names_the_field(change, message):
    with pytest.raises(ValueError, match=message):
        TINY.replace(**change)


def test_config_dict_round_trip_and_presets():
    assert ModelConfig.from_dict(TINY.to_dict()) == TINY
    assert PRESETS["kinetics"].joints == 18 and PRESETS["ntu120"].num_classes == 120
    with pytest.raises(ValueError, match="unknown model config keys"):
        ModelConfig.from_dict({"depth": 3})


def test_trains_on_a_learnable_batch_under_xla():
    clips, labels = _clips(TINY, n=64, seed=3)
    model = build_model(TINY)
    # As training compiles it: the optimizer and the loss trackers built before the first
    # traced step, which would otherwise create them and be traced again (fit: 39-41 -> 24 s here).
    # The figures of fit's own epochs: evaluate and predict would each compile another XLA
    # program (7 and 5 of this test's 35 s on 2 cores).
    training.compile_model(model, TINY, keras.optimizers.Adam(3e-3), jit_compile=True,
                           metrics={"concat": [keras.metrics.SparseCategoricalAccuracy(name="top1")]})
    history = model.fit(clips, {name: labels for name in OUTPUTS}, batch_size=16, epochs=15, verbose=0).history
    assert np.all(np.isfinite(history["loss"]))
    assert history["loss"][-1] < 0.5 * history["loss"][0], history["loss"]
    assert history["concat_top1"][-1] > 0.6, history["concat_top1"]


def test_total_loss_is_the_sum_over_the_three_heads():
    clips, labels = _clips(TINY)
    model = build_model(TINY)
    model.compile(loss=build_losses(TINY), jit_compile=False)
    result = model.evaluate(clips, {name: labels for name in OUTPUTS}, verbose=0, return_dict=True)
    outputs = model(clips, training=False)
    smfl = losses.SoftMarginFocalLoss(TINY.gamma, TINY.margin)
    expected = sum(float(smfl(labels, outputs[name])) for name in OUTPUTS)
    np.testing.assert_allclose(result["loss"], expected, rtol=1e-5)
