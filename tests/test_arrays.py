import pickle

import numpy as np
import pytest

from data_pipeline import arrays
from data_pipeline.sample import Sample, SampleError
from shared_data import real_files

NPY_FILES = real_files("**/*.npy")


@pytest.mark.skipif(not NPY_FILES, reason="no real .npy arrays in shared/data")
@pytest.mark.parametrize("path", NPY_FILES, ids=lambda p: p.name)
def test_every_real_npy_is_read_with_its_valid_frames(path):
    clips = np.load(path, mmap_mode="r")
    names = [f"clip{i}" for i in range(len(clips))]
    samples = list(arrays.read_npy(path, names, [0] * len(clips)))
    assert all(isinstance(s, Sample) for s in samples)
    for sample, clip in zip(samples, clips):
        frames = sample.data.shape[1]
        np.testing.assert_array_equal(sample.data, clip[:, :frames])
        assert not np.any(clip[:, frames:]) and np.any(clip[:, frames - 1])


def test_real_preprocessed_examples_have_the_documented_lengths():
    path = [p for p in NPY_FILES if p.name == "preprocessed_examples_N3TVM.npy"]
    if not path:
        pytest.skip("preprocessed_examples_N3TVM.npy not in shared/data")
    samples = list(arrays.read_npy(path[0], list("abcd"), [0, 1, 2, 3]))
    assert [s.data.shape[1] for s in samples] == [104, 106, 50, 164]


def test_npy_with_pkl_labels_and_bad_clips(tmp_path):
    data = np.zeros((4, 3, 10, 25, 2), np.float32)
    data[0, :, :7] = 1.0
    data[1, 0, 4, 3, 0] = np.nan
    data[3, :, :10] = 2.0
    np.save(tmp_path / "x.npy", data)
    with open(tmp_path / "x.pkl", "wb") as f:
        pickle.dump((["a.skeleton", "b.skeleton", "c.skeleton", "d.skeleton"], [1, 2, 3, 60]), f)
    names, labels = arrays.read_name_label_pkl(tmp_path / "x.pkl")
    assert names == ["a", "b", "c", "d"]
    out = list(arrays.read_npy(tmp_path / "x.npy", names, labels, num_classes=60))
    assert isinstance(out[0], Sample) and out[0].data.shape == (3, 7, 25, 2) and out[0].label == 1
    assert isinstance(out[1], SampleError) and "non-finite" in str(out[1]) and "(b)" in str(out[1])
    assert isinstance(out[2], SampleError) and "zero frames" in str(out[2])
    assert isinstance(out[3], SampleError) and "out of range" in str(out[3])


def test_npy_shape_and_count_errors(tmp_path):
    np.save(tmp_path / "flat.npy", np.zeros((3, 4), np.float32))
    with pytest.raises(SampleError, match="expected \\(N, C, T, V, M\\)"):
        list(arrays.read_npy(tmp_path / "flat.npy", [], []))
    np.save(tmp_path / "x.npy", np.ones((2, 3, 4, 25, 2), np.float32))
    with pytest.raises(SampleError, match="2 clips but 1 names"):
        list(arrays.read_npy(tmp_path / "x.npy", ["a"], [0]))
    (tmp_path / "bad.pkl").write_bytes(b"not a pickle")
    with pytest.raises(SampleError, match="not a pickled"):
        arrays.read_name_label_pkl(tmp_path / "bad.pkl")


def test_pyskl_pickle(tmp_path):
    rng = np.random.default_rng(0)
    annotations = [
        {"frame_dir": "v1", "label": 5, "keypoint": rng.normal(size=(2, 8, 17, 2)).astype(np.float32),
         "keypoint_score": rng.uniform(size=(2, 8, 17)).astype(np.float32), "total_frames": 8},
        {"frame_dir": "v2", "label": 1, "keypoint": rng.normal(size=(1, 6, 25, 3)).astype(np.float32)},
        {"frame_dir": "v3", "keypoint": np.zeros((1, 6, 25, 3), np.float32)},
    ]
    with open(tmp_path / "a.pkl", "wb") as f:
        pickle.dump({"split": {"xsub_train": ["v1"], "xsub_val": ["v2"]}, "annotations": annotations}, f)
    out = list(arrays.read_pyskl(tmp_path / "a.pkl", num_classes=60))
    (_, first, split1), (_, second, split2), (name3, third, _) = out
    assert name3 == "v3"
    assert split1 == ["xsub_train"] and split2 == ["xsub_val"]
    assert first.data.shape == (3, 8, 17, 2)
    np.testing.assert_array_equal(first.data[2], annotations[0]["keypoint_score"].transpose(1, 2, 0))
    np.testing.assert_array_equal(second.data, annotations[1]["keypoint"].transpose(3, 1, 2, 0))
    assert isinstance(third, SampleError) and "missing key 'label'" in str(third)
