"""The in-memory sample every reader produces, and the error every reader raises."""
import dataclasses
import json

import numpy as np


@dataclasses.dataclass
class Sample:
    """One clip.

    data: float32 `(C, T, V, M)`: channels, valid frames, joints, persons (absent = 0).
    label: 0-based class index.
    name: the sample's name, unique in its dataset (e.g. `S001C001P001R001A001`).
    metadata: reader-specific facts (setup, camera, ... for NTU; kept in the records).
    """

    data: np.ndarray
    label: int
    name: str
    metadata: dict = dataclasses.field(default_factory=dict)


class SampleError(ValueError):
    """A source file that cannot become a sample; the message names the file."""

    def __init__(self, path, problem):
        super().__init__(f"{path}: {problem}")
        self.path = str(path)
        self.problem = problem


def check_finite(path, values):
    """Raises SampleError naming the first non-finite value's position."""
    bad = ~np.isfinite(values)
    if bad.any():
        index = tuple(int(i) for i in np.argwhere(bad)[0])
        raise SampleError(path, f"non-finite value {values[index]} at index {index}")


PREPROCESSING_OVERFLOW = "values not finite after preprocessing (coordinates too large to centre or scale)"


def finite_float32(path, values):
    """`values` (any numeric array) as float32; SampleError naming the first value that is
    not finite or beyond float32's range (it would become inf)."""
    values = np.asarray(values)
    if values.dtype != np.float32:
        wide = values.astype(np.float64)
        check_finite(path, wide)
        beyond = np.abs(wide) > np.finfo(np.float32).max
        if beyond.any():
            index = tuple(int(i) for i in np.argwhere(beyond)[0])
            raise SampleError(path, f"value {wide[index]:g} at index {index} is beyond float32's range")
        values = wide.astype(np.float32)
    check_finite(path, values)
    return values


def load_json(path):
    """The JSON document at `path`; SampleError naming the file when it cannot be read or parsed."""
    try:
        with open(path) as f:
            return json.load(f)
    except OSError as error:
        raise SampleError(path, f"cannot read: {error.strerror}")
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise SampleError(path, f"unreadable JSON: {error}")


def is_number(token):
    """Whether a text token parses as a float."""
    try:
        float(token)
        return True
    except ValueError:
        return False
