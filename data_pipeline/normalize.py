"""Optional 2s-AGCN-style view normalization of a (C=3, T, V, M) NTU clip before writing.

1. Centre: subtract, in every frame, the spine joint of the first person; joints that are
   absent (all-zero) stay zero.
2. Rotate all persons and frames so that the first person's hip -> spine bone in the first
   frame points along +z (2s-AGCN's "vertical"), then turn about z so that its left ->
   right shoulder line lies along +x.
"""
import numpy as np

from data_pipeline.ntu import SHOULDER_JOINTS, SPINE_JOINT

HIP_JOINT = 0


def _rotation_between(vector, target):
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


def normalize_view(data):
    """Returns the centred and rotated copy of a float32 (3, T, V, M) clip."""
    data = np.array(data, np.float64)
    present = np.any(data != 0, axis=0, keepdims=True)  # (1, T, V, M)
    center = data[:, :, SPINE_JOINT : SPINE_JOINT + 1, 0:1]  # (3, T, 1, 1)
    data = (data - center) * present
    first = data[:, 0, :, 0]  # (3, V) after centring
    spine = first[:, SPINE_JOINT] - first[:, HIP_JOINT]
    if np.linalg.norm(spine) > 1e-6:
        data = np.einsum("ij,jtvm->itvm", _rotation_between(spine, np.array([0.0, 0.0, 1.0])), data)
    first = data[:, 0, :, 0]
    shoulders = first[:, SHOULDER_JOINTS[1]] - first[:, SHOULDER_JOINTS[0]]
    shoulders[2] = 0.0  # turn about z only, keeping the spine on z
    if np.linalg.norm(shoulders) > 1e-6:
        data = np.einsum("ij,jtvm->itvm", _rotation_between(shoulders, np.array([1.0, 0.0, 0.0])), data)
    return (data * present).astype(np.float32)
