"""Preprocessing of a (C, T, V, M) clip for any joint layout, applied before records are
written and, from the manifest, to every file predict and the serving client read.

Steps, in order (each optional):
1. Centre (`center`): subtract the centre joint of the first person, either its position
   in the first frame where it appears, from every frame and person (`first_frame`, as
   CTR-GCN and SGN prepare NTU and NW-UCLA: the motion of the body and the distance between
   two persons are kept), or its position in each frame (`every_frame`, 2s-AGCN / HCN-pytorch:
   only the pose relative to the body is kept).
2. Align the view (`align_view`, 2s-AGCN): rotate every frame and person so that the first
   person's hip -> spine bone in the first frame points along +z, then turn about z so that
   its left -> right shoulder line lies along +x. Needs 3-D coordinates and those landmarks.
3. Normalise the scale (`scale`): divide the coordinates by one number per clip: `torso`,
   the first person's mean hip -> neck length over the frames it appears in (the body's
   size, so children and adults, or pixels and metres, come out alike); `extent`, half the
   largest range of any coordinate axis over the clip (the clip fits in [-1, 1] after
   centring, as CTR-GCN's NW-UCLA feeder scales).
4. Merge the persons (`merge_persons`): put the persons' joints side by side as one body of
   V * M joints, person 0's first, so that the spatial layers relate the joints of two
   interacting persons (`(C, T, V, M)` -> `(C, T, V * M, 1)`). Without it the trunk sees each
   person alone and only the max over persons joins them (HCN), which loses who did what to
   whom; on SBU's interactions merging lifted the position head from ~80 % to ~91 %
   (bench/RESULTS.md). The records and the model then have V * M joints and one person.
Absent joints and persons (all-zero) stay zero throughout; only the coordinate channels
are changed (Kinetics' score channel is kept).
"""
import dataclasses

import numpy as np

COORDINATES = ("x", "y", "z")
CENTERS = ("none", "first_frame", "every_frame")
SCALES = ("none", "torso", "extent")
# Landmark joints (0-based) of the layouts the readers know: the centre joint, and the
# joints that view alignment and the torso scale use.
LANDMARKS = {
    # NTU RGB+D (Kinect v2, 25 joints); CWBG is written in this layout.
    "ntu25": {"center": 1, "hip": 0, "spine": 1, "neck": 2, "left_shoulder": 4, "right_shoulder": 8},
    # NW-UCLA (Kinect v1, 20 joints): hip centre, spine, shoulder centre, head, left arm, ...
    "kinect20": {"center": 1, "hip": 0, "spine": 1, "neck": 2, "left_shoulder": 4, "right_shoulder": 8},
    # SBU (15 joints): head, neck, torso, left arm, right arm, left leg, right leg.
    "sbu15": {"center": 2, "hip": 2, "spine": 1, "neck": 1, "left_shoulder": 3, "right_shoulder": 6},
    # OpenPose-18 (Kinetics-skeleton), 2-D: the neck is the centre; no hip centre.
    "openpose18": {"center": 1, "neck": 1, "left_shoulder": 5, "right_shoulder": 2},
}
VIEW_LANDMARKS = ("hip", "spine", "left_shoulder", "right_shoulder")


@dataclasses.dataclass(frozen=True)
class Preprocessing:
    """What is done to every clip of a dataset (see the module docstring).

    center_joint: the joint `center` uses (0-based; default: the layout's centre landmark).
    landmarks: joint indices by role (`LANDMARKS`), for align_view and the torso scale.
    coordinate_channels: how many leading channels are coordinates (3, or 2 for x, y, score).
    merge_persons: whether the persons become one body of V * M joints (step 4).
    """

    center: str = "none"
    center_joint: int = 0
    align_view: bool = False
    scale: str = "none"
    landmarks: tuple = ()  # ((role, joint), ...): hashable, so that a source stays picklable
    coordinate_channels: int = 3
    merge_persons: bool = False

    def __post_init__(self):
        if self.center not in CENTERS:
            raise ValueError(f"center must be one of {CENTERS}, got {self.center!r}")
        if self.scale not in SCALES:
            raise ValueError(f"scale must be one of {SCALES}, got {self.scale!r}")
        object.__setattr__(self, "landmarks", tuple(sorted(dict(self.landmarks).items())))
        roles = dict(self.landmarks)
        needed = (VIEW_LANDMARKS if self.align_view else ()) + (("hip", "neck") if self.scale == "torso" else ())
        missing = [role for role in needed if role not in roles]
        if missing:
            raise ValueError(f"align_view / scale=torso need the layout's {', '.join(missing)} joint(s) "
                             f"(give them as landmarks), have {sorted(roles)}")
        if self.align_view and self.coordinate_channels != 3:
            raise ValueError("align_view needs 3-D coordinates (x, y, z)")

    @property
    def is_identity(self):
        return self.center == "none" and not self.align_view and self.scale == "none" and not self.merge_persons

    def output_layout(self, layout):
        """The layout of a preprocessed clip, given the reader's (pre-merge) `layout`."""
        if not self.merge_persons:
            return dict(layout)
        return {**layout, "joints": layout["joints"] * layout["persons"], "persons": 1,
                "merged_persons": layout["persons"]}

    def input_layout(self, layout):
        """The reader's layout (what `apply` takes), given the layout it outputs."""
        if not self.merge_persons:
            return dict(layout)
        merged = layout["merged_persons"]
        rest = {k: v for k, v in layout.items() if k != "merged_persons"}
        return {**rest, "joints": layout["joints"] // merged, "persons": merged}

    def to_dict(self):
        return {"center": self.center, "center_joint": self.center_joint, "align_view": self.align_view,
                "scale": self.scale, "landmarks": dict(self.landmarks),
                "coordinate_channels": self.coordinate_channels, "merge_persons": self.merge_persons}

    @classmethod
    def from_dict(cls, values):
        return cls(**{**values, "landmarks": tuple(dict(values.get("landmarks", {})).items())})

    def apply(self, data):
        """The preprocessed float32 copy of a (C, T, V, M) clip ((C, T, V * M, 1) when merging)."""
        data = np.array(data, np.float64)
        if self.is_identity:
            return data.astype(np.float32)
        coordinates = data[: self.coordinate_channels]
        present = np.any(coordinates != 0, axis=0, keepdims=True)  # (1, T, V, M)
        roles = dict(self.landmarks)
        if self.center != "none":
            coordinates = (coordinates - self._origin(coordinates, present)) * present
        if self.align_view:
            coordinates = _aligned(coordinates, present, roles)
        if self.scale != "none":
            size = self._size(coordinates, present, roles)
            if size > 1e-9:
                coordinates = coordinates / size
        data[: self.coordinate_channels] = coordinates
        if self.merge_persons:
            channels, frames, joints, persons = data.shape
            data = data.transpose(0, 1, 3, 2).reshape(channels, frames, persons * joints, 1)
        return data.astype(np.float32)

    def _origin(self, coordinates, present):
        """The point to subtract: (C, 1, 1, 1) for first_frame, (C, T, 1, 1) for every_frame."""
        joint = coordinates[:, :, self.center_joint, :]  # (C, T, M)
        seen = present[0, :, self.center_joint, :]  # (T, M)
        # The first person with the joint in any frame (person 0 unless it is absent).
        person = int(np.argmax(seen.any(axis=0))) if seen.any() else 0
        if self.center == "first_frame":
            frame = int(np.argmax(seen[:, person])) if seen[:, person].any() else 0
            return joint[:, frame, person][:, None, None, None]
        return joint[:, :, person][:, :, None, None]

    def _size(self, coordinates, present, roles):
        if self.scale == "torso":
            return _torso_length(coordinates, present, roles)
        return _half_extent(coordinates, present)


def default_channel_names(channels, score=False):
    """x, y(, z), or x, y, score for 2-D keypoints with a confidence, then feature3, ..."""
    names = ["x", "y", "score"] if score else list(COORDINATES)
    return (names + [f"feature{index}" for index in range(3, channels)])[:channels]


def coordinate_channels(layout):
    """How many leading channels of a layout are coordinates (x, y, z in that order): the
    ones centring, scaling, rotation and scale augmentation move; a score or other feature
    is left as it is."""
    names = layout.get("channel_names") or default_channel_names(layout["channels"])
    count = 0
    while count < min(3, len(names)) and names[count] == COORDINATES[count]:
        count += 1
    return count


def _first_present_frame(present, joints, person=0):
    frames = np.flatnonzero(present[0][:, list(joints), person].all(axis=1))
    return int(frames[0]) if frames.size else None


def _aligned(coordinates, present, roles):
    frame = _first_present_frame(present, [roles[r] for r in VIEW_LANDMARKS])
    if frame is None:
        return coordinates
    first = coordinates[:, frame, :, 0]  # (3, V)
    spine = first[:, roles["spine"]] - first[:, roles["hip"]]
    if np.linalg.norm(spine) > 1e-6:
        coordinates = np.einsum("ij,jtvm->itvm", rotation_between(spine, np.array([0.0, 0.0, 1.0])), coordinates)
    first = coordinates[:, frame, :, 0]
    shoulders = first[:, roles["right_shoulder"]] - first[:, roles["left_shoulder"]]
    shoulders[2] = 0.0  # turn about z only, keeping the spine on z
    if np.linalg.norm(shoulders) > 1e-6:
        coordinates = np.einsum("ij,jtvm->itvm", rotation_between(shoulders, np.array([1.0, 0.0, 0.0])),
                                coordinates)
    return coordinates * present


def rotation_between(vector, target):
    """Rotation matrix turning direction `vector` onto `target` (Rodrigues)."""
    a = vector / np.linalg.norm(vector)
    b = target / np.linalg.norm(target)
    axis = np.cross(a, b)
    sin, cos = np.linalg.norm(axis), float(np.dot(a, b))
    if sin < 1e-8:
        if cos > 0:
            return np.eye(3)
        # Opposite directions: half a turn about any axis perpendicular to `a`.
        k = np.cross(a, [1.0, 0.0, 0.0] if abs(a[0]) < 0.9 else [0.0, 1.0, 0.0])
        k /= np.linalg.norm(k)
        return 2.0 * np.outer(k, k) - np.eye(3)
    k = axis / sin
    skew = np.array([[0, -k[2], k[1]], [k[2], 0, -k[0]], [-k[1], k[0], 0]])
    return np.eye(3) + sin * skew + (1 - cos) * skew @ skew


def _torso_length(coordinates, present, roles):
    hip, neck = roles["hip"], roles["neck"]
    both = present[0, :, hip, 0] & present[0, :, neck, 0]
    if not both.any():
        return 0.0
    return float(np.mean(np.linalg.norm(coordinates[:, both, neck, 0] - coordinates[:, both, hip, 0], axis=0)))


def _half_extent(coordinates, present):
    mask = np.broadcast_to(present, coordinates.shape)
    if not mask.any():
        return 0.0
    values = np.where(mask, coordinates, np.nan).reshape(len(coordinates), -1)
    return float(np.max(np.nanmax(values, axis=1) - np.nanmin(values, axis=1)) / 2.0)


def normalize_view(data):
    """2s-AGCN's NTU rule (the build's `--normalize`): centred on the first person's spine in
    every frame, then view-aligned."""
    return two_stream_agcn(3).apply(data)


def two_stream_agcn(coordinate_channels=3):
    return Preprocessing(center="every_frame", center_joint=LANDMARKS["ntu25"]["spine"], align_view=True,
                         landmarks=tuple(LANDMARKS["ntu25"].items()), coordinate_channels=coordinate_channels)
