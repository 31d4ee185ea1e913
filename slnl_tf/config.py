"""The one config object the model is built from, with the paper's presets."""
import dataclasses
import json

from slnl_tf.layers.frequency_attention import VARIANTS
from slnl_tf.layers.non_local_attention import AXES
from slnl_tf.losses import LOSS_NAMES

NUM_STAGES = 6  # HCN's six convolution stages: M1 + M2 must equal this.
WEIGHT_FREE_FIELDS = ("dropout", "loss", "gamma", "margin")


@dataclasses.dataclass(frozen=True)
class ModelConfig:
    """Everything that shapes the network and its loss. Defaults: the NTU-60 setting.

    Values the paper does not state (docs/design.md) are marked "ours".
    """

    num_classes: int = 60
    frames: int = 64  # T after temporal sampling (HCN official).
    joints: int = 25  # V of the input skeleton.
    persons: int = 2  # M; persons share weights and are merged by max.
    channels: int = 3  # C: x, y, z (Kinetics: x, y, score).
    coordinate_systems: int = 3  # K (ours).
    skeleton_joints: int = 32  # V' after the skeleton transform (ours).
    stage_filters: tuple = (64, 32, 32, 64, 128, 256)  # HCN conv1..conv6.
    fc_units: int = 256  # HCN official fc7.
    m1: int = 3  # SLnL stages (the first M1 of the six; ours).
    m2: int = 3  # local stages.
    nonlocal_axes: tuple = AXES  # tSLnL, sSLnL, stSLnL in every SLnL block.
    nonlocal_subsample: bool = True  # keys/values max-pooled by 2 (ours, for cost).
    attention: str = "residual"  # rFA.
    frequency_bias: bool = True  # per-frequency bias in f_att (ours).
    dropout: float = 0.5  # HCN.
    loss: str = "smfl"
    gamma: float = 2.0
    margin: float = 0.4

    def __post_init__(self):
        object.__setattr__(self, "stage_filters", tuple(int(f) for f in self.stage_filters))
        object.__setattr__(self, "nonlocal_axes", tuple(self.nonlocal_axes))
        self.validate()

    def validate(self):
        problems = []
        for name in ("num_classes", "frames", "joints", "persons", "channels", "coordinate_systems",
                     "skeleton_joints", "fc_units"):
            if getattr(self, name) < 1:
                problems.append(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.frames < 2:
            problems.append(f"frames must be >= 2 (velocity is a frame difference), got {self.frames}")
        if len(self.stage_filters) != NUM_STAGES or min(self.stage_filters, default=0) < 1:
            problems.append(f"stage_filters must be {NUM_STAGES} positive widths, got {self.stage_filters}")
        if self.m1 < 0 or self.m2 < 0 or self.m1 + self.m2 != NUM_STAGES:
            problems.append(f"m1 + m2 must be {NUM_STAGES} with both >= 0, got m1={self.m1}, m2={self.m2}")
        if self.m1 and (not self.nonlocal_axes or any(a not in AXES for a in self.nonlocal_axes)):
            problems.append(f"nonlocal_axes must be a non-empty subset of {AXES}, got {self.nonlocal_axes}")
        if self.attention not in VARIANTS:
            problems.append(f"attention must be one of {VARIANTS}, got {self.attention!r}")
        if not 0 <= self.dropout < 1:
            problems.append(f"dropout must be in [0, 1), got {self.dropout}")
        if self.loss not in LOSS_NAMES:
            problems.append(f"loss must be one of {LOSS_NAMES}, got {self.loss!r}")
        if self.gamma < 0 or self.margin < 0:
            problems.append(f"gamma and margin must be >= 0, got gamma={self.gamma}, margin={self.margin}")
        if problems:
            raise ValueError("invalid model config: " + "; ".join(problems))

    def architecture_differences(self, other):
        """`["field: mine -> other's", ...]` for the fields that shape the weights (all but
        the dropout rate and the loss): what a checkpoint of one cannot be loaded into."""
        return [f"{f.name}: {getattr(self, f.name)} -> {getattr(other, f.name)}" for f in dataclasses.fields(self)
                if f.name not in WEIGHT_FREE_FIELDS and getattr(self, f.name) != getattr(other, f.name)]

    def replace(self, **changes):
        return dataclasses.replace(self, **changes)

    def to_dict(self):
        return dataclasses.asdict(self)

    def to_json(self):
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)

    @classmethod
    def from_dict(cls, values):
        unknown = set(values) - {f.name for f in dataclasses.fields(cls)}
        if unknown:
            raise ValueError(f"unknown model config keys: {sorted(unknown)}")
        return cls(**values)


PRESETS = {
    "ntu60": ModelConfig(),
    "ntu120": ModelConfig(num_classes=120),
    # Kinetics-skeleton: 18 OpenPose joints, (x, y, score) channels, 400 classes.
    "kinetics": ModelConfig(num_classes=400, joints=18),
}


def ablation_variants(config):
    """[(label, config)]: the paper's ablation rows (attention type, M1/M2 split, SLnL axis)
    applied to `config`."""
    from slnl_tf.layers.frequency_attention import VARIANTS

    rows = [(f"attention={variant}", config.replace(attention=variant)) for variant in VARIANTS]
    rows += [(f"M1={m1}, M2={6 - m1}", config.replace(m1=m1, m2=6 - m1)) for m1 in range(0, 5)]
    rows += [("tSLnL only (M1=1, M2=5)", config.replace(m1=1, m2=5, nonlocal_axes=("time",))),
             ("sSLnL only (M1=1, M2=5)", config.replace(m1=1, m2=5, nonlocal_axes=("space",)))]
    return rows
