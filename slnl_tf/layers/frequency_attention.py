"""Residual frequency attention (rFA) and the paper's ablation variants."""
import math

import keras
from keras import ops

VARIANTS = ("none", "amplitude", "shared", "dependent", "residual")
TRANSFORMS = ("fft", "matmul")

# Number of attention networks (f_att) each variant owns; documented in docs/design.md and
# checked by tests: none < amplitude == shared < dependent == residual.
ATTENTION_NETWORKS = {"none": 0, "amplitude": 1, "shared": 1, "dependent": 2, "residual": 2}


@keras.saving.register_keras_serializable(package="slnl_tf")
class FrequencyAttention(keras.layers.Layer):
    """Attention on the 2-D spectrum (time x joints) of every channel.

    `F = fft2(X)` over the (T, V) plane of each channel, `F = F_re + j F_im`. An attention
    network `f_att` turns a spectrum part into a mask in (0, 1):
    `f_att(P)[c, u, w] = sigmoid(sum_c' W[c', c] P[c', u, w] + B[c, u, w])`, i.e. a
    channel-mixing 1x1 map plus a learned bias per channel and frequency, so the layer can
    learn both content-dependent and fixed frequency selection. Variants (`variant`):

    - `none`: identity, no weights.
    - `amplitude`: one mask from `|F|`, applied to both parts; output `ifft2(F M)`.
    - `shared`: one f_att applied to `F_re` and to `F_im` separately (shared weights).
    - `dependent`: separate f_att for `F_re` and `F_im`; output `real(ifft2(F'))`.
    - `residual` (rFA, the paper's choice): `dependent` plus the input, `X + real(ifft2(F'))`.

    The FFT and the masks are always computed in float32 (the layer's dtype policy is
    float32 whatever the global policy), which keeps the spectrum exact under
    mixed_bfloat16 / mixed_float16 and XLA; the output is float32 and the next layer casts.

    `transform="matmul"` computes the same 2-D DFT and its inverse as products with constant
    cosine and sine matrices (T x T and V x V): real arithmetic only, which LiteRT runs with
    its builtin ops (it has no complex FFT2D); "fft" is faster in TensorFlow. The weights
    are the same in both forms.

    Args:
        variant: one of `none`, `amplitude`, `shared`, `dependent`, `residual`.
        frequency_bias: whether f_att has the per-frequency bias `B` (else one bias per
            channel).
        transform: `fft` (tf.signal) or `matmul` (the DFT as matrix products).

    Shapes:
        input `(batch, T, V, C)` -> output `(batch, T, V, C)` (float32).
    """

    def __init__(self, variant="residual", frequency_bias=True, transform="fft", **kwargs):
        kwargs.pop("dtype", None)
        super().__init__(dtype="float32", **kwargs)
        if variant not in VARIANTS:
            raise ValueError(f"variant must be one of {VARIANTS}, got {variant!r}")
        if transform not in TRANSFORMS:
            raise ValueError(f"transform must be one of {TRANSFORMS}, got {transform!r}")
        self.variant = variant
        self.frequency_bias = frequency_bias
        self.transform = transform

    def build(self, input_shape):
        _, frames, joints, channels = input_shape
        bias_shape = (channels, frames, joints) if self.frequency_bias else (channels, 1, 1)
        self.attention_networks = []
        for index in range(ATTENTION_NETWORKS[self.variant]):
            # The kernel is applied as (C_out, C_in) @ (B, C_in, T*V).
            kernel = self.add_weight(
                name=f"attention_{index}_kernel", shape=(channels, channels), initializer="glorot_uniform"
            )
            bias = self.add_weight(name=f"attention_{index}_bias", shape=bias_shape, initializer="zeros")
            self.attention_networks.append((kernel, bias))

    @staticmethod
    def _dft_matrices(length):
        """cos and sin of 2 pi n k / length, float32 `(length, length)` (both symmetric)."""
        angles = 2.0 * math.pi * ops.cast(ops.outer(ops.arange(length), ops.arange(length)) % length, "float32")
        angles = angles / float(length)
        return ops.cos(angles), ops.sin(angles)

    def _spectrum(self, planes):
        """(real, imag) of fft2 of real `(batch, C, T, V)` planes."""
        if self.transform == "fft":
            return ops.fft2((planes, ops.zeros_like(planes)))
        cos_t, sin_t = self._dft_matrices(planes.shape[2])
        cos_v, sin_v = self._dft_matrices(planes.shape[3])
        by_cos, by_sin = ops.matmul(planes, cos_v), ops.matmul(planes, sin_v)
        real = ops.matmul(cos_t, by_cos) - ops.matmul(sin_t, by_sin)
        imag = -(ops.matmul(sin_t, by_cos) + ops.matmul(cos_t, by_sin))
        return real, imag

    def _inverse_real(self, real, imag):
        """The real part of ifft2(real + j imag), `(batch, C, T, V)`."""
        if self.transform == "fft":
            return ops.ifft2((real, imag))[0]
        frames, joints = real.shape[2], real.shape[3]
        cos_t, sin_t = self._dft_matrices(frames)
        cos_v, sin_v = self._dft_matrices(joints)
        first = ops.matmul(real, cos_v) - ops.matmul(imag, sin_v)
        second = ops.matmul(real, sin_v) + ops.matmul(imag, cos_v)
        return (ops.matmul(cos_t, first) - ops.matmul(sin_t, second)) / float(frames * joints)

    def _mask(self, part, network):
        kernel, bias = self.attention_networks[network]
        batch, channels, frames, joints = ops.shape(part)
        mixed = ops.matmul(kernel, ops.reshape(part, (batch, channels, frames * joints)))
        return ops.sigmoid(ops.reshape(mixed, (batch, channels, frames, joints)) + bias)

    def attention_masks(self, inputs):
        """The spectrum and the masks applied to it: (real, imag, real mask, imag mask),
        each float32 `(batch, C, T, V)` with frequencies in FFT order (no masks: None)."""
        planes = ops.transpose(ops.cast(inputs, "float32"), (0, 3, 1, 2))  # fft2 works on (T, V)
        real, imag = self._spectrum(planes)
        if self.variant == "none":
            return real, imag, None, None
        if self.variant == "amplitude":
            mask = self._mask(ops.sqrt(real * real + imag * imag + 1e-12), 0)
            return real, imag, mask, mask
        return real, imag, self._mask(real, 0), self._mask(imag, 0 if self.variant == "shared" else 1)

    def call(self, inputs):
        if self.variant == "none":
            return inputs
        real, imag, real_mask, imag_mask = self.attention_masks(inputs)
        attended = ops.transpose(self._inverse_real(real * real_mask, imag * imag_mask), (0, 2, 3, 1))
        inputs = ops.cast(inputs, "float32")
        return inputs + attended if self.variant == "residual" else attended

    def compute_output_shape(self, input_shape):
        return input_shape

    def fft_flops(self, input_shape):
        """FLOPs of the forward and inverse 2-D FFT per example, 5 N log2 N per transform."""
        if self.variant == "none":
            return 0
        _, frames, joints, channels = input_shape
        points = frames * joints
        return int(2 * channels * 5 * points * math.log2(points))

    def get_config(self):
        config = super().get_config()
        config.pop("dtype", None)
        config.update(variant=self.variant, frequency_bias=self.frequency_bias, transform=self.transform)
        return config
