"""NTU RGB+D 60 / 120 raw `.skeleton` files: parsing, body selection, writing.

File format (per file): frame count; per frame: body count; per body: a line of 10 body
values (`bodyID clippedEdges handLeftConfidence handLeftState handRightConfidence
handRightState isRestricted leanX leanY trackingState`), the joint count (25), then one
line of 12 values per joint (`x y z depthX depthY colorX colorY orientationW orientationX
orientationY orientationZ trackingState`). The format is a plain token stream, so any line
ending (the originals use CRLF) reads the same.
"""
import dataclasses
import re

import numpy as np

from slnl_tf.data.sample import Sample, SampleError, finite_float32, is_number

NUM_JOINTS = 25
NUM_PERSONS = 2  # the bodies NTU's benchmarks keep per clip
BODY_INFO_VALUES = 10
JOINT_VALUES = 12
# Offsets of x, y, z among a body's joint values: the other 9 of each joint (depth and colour
# pixels, orientation, tracking state) are not used, and parsing is most of a file's time,
# so they are not parsed (bench/RESULTS.md, change 19).
_XYZ_OFFSETS = (np.arange(NUM_JOINTS)[:, None] * JOINT_VALUES + np.arange(3)).ravel()
SPINE_JOINT = 1  # 0-based "middle of the spine"
SHOULDER_JOINTS = (4, 8)  # left, right shoulder
BODY_SELECTIONS = ("denoise", "motion", "first_two")
NAME_PATTERN = re.compile(r"S(\d{3})C(\d{3})P(\d{3})R(\d{3})A(\d{3})")

# Denoising thresholds of the CTR-GCN / SGN NTU preprocessing.
MIN_BODY_FRAMES = 12  # bodies tracked for <= 11 frames are noise
SPREAD_RATIO = 0.8  # a frame is noisy when the x-spread exceeds 0.8 of the y-spread
NOISY_FRAME_RATIO = 0.69754  # a body with at least this share of noisy frames is noise


def parse_name(name):
    """`SsssCcccPpppRrrrAaaa` -> dict of setup, camera, performer, replication, action."""
    match = NAME_PATTERN.fullmatch(name)
    if not match:
        raise ValueError(f"not an NTU sample name (SsssCcccPpppRrrrAaaa): {name!r}")
    return dict(zip(("setup", "camera", "performer", "replication", "action"), map(int, match.groups())))


@dataclasses.dataclass
class Body:
    """One tracked body: the frames it appears in, its slot in each, and its joints."""

    body_id: str
    frames: np.ndarray  # (n,) int frame indices
    slots: np.ndarray  # (n,) int position of the body within each frame's body list
    joints: np.ndarray  # (n, 25, 3) float32 x, y, z

    @property
    def motion(self):
        """Sum of the variances of x, y, z over all frames and joints (CTR-GCN's measure)."""
        return float(np.sum(np.var(self.joints.reshape(-1, 3), axis=0)))


def _integer(path, tokens, index, what):
    if index >= len(tokens):
        raise SampleError(path, f"truncated: file ends where the {what} was expected")
    try:
        return int(tokens[index])
    except ValueError:
        token = tokens[index].decode("ascii", "replace")
        raise SampleError(path, f"non-numeric token {token!r} where the {what} was expected")


def read_bodies(path):
    """Parses a `.skeleton` file into (frame count, [Body, ...]) in order of appearance."""
    try:
        with open(path, "rb") as f:
            tokens = f.read().split()
    except OSError as error:
        raise SampleError(path, f"cannot read: {error.strerror}")
    num_frames = _integer(path, tokens, 0, "frame count")
    if num_frames <= 0:
        raise SampleError(path, f"zero frames (frame count {num_frames})")
    position, joint_starts, records = 1, [], {}
    for frame in range(num_frames):
        num_bodies = _integer(path, tokens, position, f"body count of frame {frame}")
        position += 1
        for slot in range(num_bodies):
            body_id = tokens[position].decode("ascii", "replace") if position < len(tokens) else None
            joints = _integer(path, tokens, position + BODY_INFO_VALUES, f"joint count of frame {frame}")
            if joints != NUM_JOINTS:
                raise SampleError(path, f"wrong joint count {joints} in frame {frame} (expected {NUM_JOINTS})")
            start = position + BODY_INFO_VALUES + 1
            position = start + NUM_JOINTS * JOINT_VALUES
            if position > len(tokens):
                raise SampleError(path, f"truncated in frame {frame} of {num_frames}")
            joint_starts.append(start)
            records.setdefault(body_id, []).append((frame, slot, len(joint_starts) - 1))
    if position != len(tokens):
        raise SampleError(path, f"{len(tokens) - position} unexpected values after the last frame")
    starts = np.array(joint_starts, dtype=np.int64)
    used = [tokens[index] for index in (starts[:, None] + _XYZ_OFFSETS).ravel().tolist()]
    try:
        values = np.array(used, dtype=np.float64).reshape(-1, NUM_JOINTS, 3)
    except ValueError:
        bad = next(t for t in used if not is_number(t))
        raise SampleError(path, f"non-numeric token {bad.decode('ascii', 'replace')!r} in a joint line")
    values = finite_float32(path, values)
    bodies = [
        Body(body_id, np.array([r[0] for r in rows]), np.array([r[1] for r in rows]), values[[r[2] for r in rows]])
        for body_id, rows in records.items()
    ]
    return num_frames, bodies


def _noisy_frame_share(body):
    spread = body.joints.max(axis=1) - body.joints.min(axis=1)  # (n, 3)
    return float(np.mean(spread[:, 0] > SPREAD_RATIO * spread[:, 1]))


def denoise(bodies):
    """CTR-GCN / SGN denoising for files with several bodies; returns (kept, dropped notes).

    Drops bodies tracked for fewer than 12 frames, then bodies whose frames are mostly
    noisy (x-spread > 0.8 y-spread in >= 69.754 % of them). A filter that would drop every
    body is skipped, so a sample is never lost to denoising.
    """
    notes = []
    if len(bodies) <= 1:
        return bodies, notes
    long_enough = [b for b in bodies if len(b.frames) >= MIN_BODY_FRAMES]
    if long_enough and len(long_enough) < len(bodies):
        notes.append(f"dropped {len(bodies) - len(long_enough)} short bodies")
        bodies = long_enough
    if len(bodies) > 1:
        plausible = [b for b in bodies if _noisy_frame_share(b) < NOISY_FRAME_RATIO]
        if plausible and len(plausible) < len(bodies):
            notes.append(f"dropped {len(bodies) - len(plausible)} wide (noisy) bodies")
            bodies = plausible
    return bodies, notes


def to_array(num_frames, bodies, selection="denoise", max_persons=NUM_PERSONS):
    """(C=3, T, V=25, M=max_persons) float32 from parsed bodies, frames without any
    selected body removed; returns (array, notes)."""
    if selection not in BODY_SELECTIONS:
        raise ValueError(f"body selection must be one of {BODY_SELECTIONS}, got {selection!r}")
    array = np.zeros((3, num_frames, NUM_JOINTS, max_persons), np.float32)
    present = np.zeros(num_frames, bool)
    notes = []
    if selection == "first_two":
        # ST-GCN: person m of a frame is the m-th body listed in that frame.
        for body in bodies:
            for person in range(max_persons):
                keep = body.slots == person
                array[..., person][:, body.frames[keep]] = body.joints[keep].transpose(2, 0, 1)
                present[body.frames[keep]] = True
    else:
        if selection == "denoise":
            bodies, notes = denoise(bodies)
        ranked = sorted(bodies, key=lambda b: b.motion, reverse=True)[:max_persons]
        for person, body in enumerate(ranked):
            array[..., person][:, body.frames] = body.joints.transpose(2, 0, 1)
            present[body.frames] = True
    return array[:, present], notes


def read_array(path, selection="denoise", max_persons=NUM_PERSONS):
    """A `.skeleton` file of any name as (data (C, T, V, M) float32, frames in the file,
    bodies in the file, denoising notes); SampleError if unusable."""
    num_frames, bodies = read_bodies(path)
    if not bodies:
        raise SampleError(path, "no skeleton in any frame")
    data, notes = to_array(num_frames, bodies, selection, max_persons)
    return data, num_frames, len(bodies), notes


def read_sample(path, selection="denoise", max_persons=NUM_PERSONS):
    """A `.skeleton` file as a Sample (label = action - 1); SampleError if unusable."""
    import os

    name = os.path.basename(str(path)).split(".")[0]
    try:
        metadata = parse_name(name)
    except ValueError as error:
        raise SampleError(path, str(error))
    data, num_frames, body_count, notes = read_array(path, selection, max_persons)
    metadata.update(frames_in_file=num_frames, bodies_in_file=body_count)
    if notes:
        metadata["denoising"] = "; ".join(notes)
    return Sample(data, metadata["action"] - 1, name, metadata)


def write_skeleton_file(path, frames, line_ending="\r\n"):
    """Writes the raw format. `frames`: per frame a list of (body_id, joints), joints
    `(25, 3)` x, y, z (the other joint values are written as zeros) or `(25, 12)`."""
    lines = [str(len(frames))]
    for bodies in frames:
        lines.append(str(len(bodies)))
        for body_id, joints in bodies:
            joints = np.asarray(joints, np.float64)
            if joints.shape[1] == 3:
                joints = np.concatenate([joints, np.zeros((len(joints), JOINT_VALUES - 3))], axis=1)
            lines.append(f"{body_id} 0 1 1 1 1 0 0.0 0.0 2")
            lines.append(str(len(joints)))
            lines.extend(" ".join(f"{v:.7g}" for v in row) for row in joints)
    with open(path, "w", newline="") as f:
        f.write(line_ending.join(lines) + line_ending)
