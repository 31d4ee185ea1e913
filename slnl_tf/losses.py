"""Classification losses of the paper, computed from logits.

`p` is the softmax posterior of the true class. With `log p = log_softmax(logits)[y]`:

- cross entropy: `-log p`
- focal loss (Lin et al. 2017): `-(1 - p)^gamma log p`
- soft-margin term: `L_sm(p) = log(e^m + (1 - e^m) p) = m + log1p(-(1 - e^-m) p)`; the right
  form never leaves [0, m] and needs no clipping of p.
- soft-margin cross entropy: `L_sm + CE`, which equals cross entropy on the logits with
  m subtracted from the true class's logit (computed that way).
- soft-margin focal loss (SMFL): `L_sm + FL`.

`1 - p` is computed as `-expm1(log p)`, exact for p near 1. All losses take integer labels
(shape `(batch,)` or `(batch, 1)`) and logits `(batch, classes)`, compute in float32 and
average over the batch by default (Keras `reduction`).
"""
import keras
from keras import ops

LOSS_NAMES = ("ce", "focal", "smce", "smfl")

# Lower bound on (1 - p) inside the focal power: keeps d/dp (1 - p)^gamma finite for
# gamma < 1 when p rounds to 1; the loss changes by at most 1e-12^gamma * |log p| ~ 0.
_MIN_ONE_MINUS_P = 1e-12


def _true_class_log_probability(labels, logits, margin=0.0):
    logits = ops.cast(logits, "float32")
    labels = ops.reshape(ops.cast(labels, "int32"), (-1,))
    if margin:
        logits = logits - margin * ops.one_hot(labels, ops.shape(logits)[-1], dtype="float32")
    log_probs = ops.log_softmax(logits, axis=-1)
    return ops.take_along_axis(log_probs, labels[:, None], axis=-1)[:, 0]


def soft_margin_term(log_p, margin):
    """`log(e^m + (1 - e^m) p)` from log p, stable for p in [0, 1]."""
    return margin + ops.log1p(-(1.0 - ops.exp(-margin)) * ops.exp(log_p))


def _check_nonnegative(**values):
    for name, value in values.items():
        if not value >= 0:
            raise ValueError(f"{name} must be >= 0, got {value}")


@keras.saving.register_keras_serializable(package="slnl_tf")
class SoftMarginCrossEntropy(keras.losses.Loss):
    """Cross entropy with the true-class logit lowered by `margin` (m = 0: plain CE).

    Args:
        margin: m >= 0.
    """

    def __init__(self, margin=0.4, reduction="sum_over_batch_size", name="soft_margin_cross_entropy", dtype=None):
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        _check_nonnegative(margin=margin)
        self.margin = float(margin)

    def call(self, y_true, y_pred):
        return -_true_class_log_probability(y_true, y_pred, self.margin)

    def get_config(self):
        return {**super().get_config(), "margin": self.margin}


@keras.saving.register_keras_serializable(package="slnl_tf")
class CrossEntropy(SoftMarginCrossEntropy):
    """Sparse categorical cross entropy on logits."""

    def __init__(self, reduction="sum_over_batch_size", name="cross_entropy", dtype=None):
        super().__init__(margin=0.0, reduction=reduction, name=name, dtype=dtype)

    def get_config(self):
        config = super().get_config()
        del config["margin"]
        return config


@keras.saving.register_keras_serializable(package="slnl_tf")
class SoftMarginFocalLoss(keras.losses.Loss):
    """SMFL: `log(e^m + (1 - e^m) p) - (1 - p)^gamma log p`.

    Args:
        gamma: focusing parameter >= 0 (0: the soft-margin cross-entropy form).
        margin: m >= 0 (0: plain focal loss).
    """

    def __init__(
        self, gamma=2.0, margin=0.4, reduction="sum_over_batch_size", name="soft_margin_focal_loss", dtype=None
    ):
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        _check_nonnegative(gamma=gamma, margin=margin)
        self.gamma = float(gamma)
        self.margin = float(margin)

    def call(self, y_true, y_pred):
        log_p = _true_class_log_probability(y_true, y_pred)
        if self.gamma:
            one_minus_p = ops.maximum(-ops.expm1(log_p), _MIN_ONE_MINUS_P)
            loss = -ops.power(one_minus_p, self.gamma) * log_p
        else:
            loss = -log_p
        if self.margin:
            loss = loss + soft_margin_term(log_p, self.margin)
        return loss

    def get_config(self):
        return {**super().get_config(), "gamma": self.gamma, "margin": self.margin}


@keras.saving.register_keras_serializable(package="slnl_tf")
class FocalLoss(SoftMarginFocalLoss):
    """Focal loss `-(1 - p)^gamma log p` on logits (no alpha weighting, as in the paper)."""

    def __init__(self, gamma=2.0, reduction="sum_over_batch_size", name="focal_loss", dtype=None):
        super().__init__(gamma=gamma, margin=0.0, reduction=reduction, name=name, dtype=dtype)

    def get_config(self):
        config = super().get_config()
        del config["margin"]
        return config


def get_loss(name, gamma=2.0, margin=0.4):
    """The loss called `name` (one of LOSS_NAMES) with the parameters it uses."""
    if name == "ce":
        return CrossEntropy()
    if name == "focal":
        return FocalLoss(gamma)
    if name == "smce":
        return SoftMarginCrossEntropy(margin)
    if name == "smfl":
        return SoftMarginFocalLoss(gamma, margin)
    raise ValueError(f"loss must be one of {LOSS_NAMES}, got {name!r}")
