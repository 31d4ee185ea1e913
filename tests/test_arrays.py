import pickle

import numpy as np
import pytest

from slnl_tf.data import arrays
from slnl_tf.data.sample import Sample, SampleError
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
    with pytest.raises(SampleError, match="bad.pkl: not a readable pickle"):
        arrays.read_name_label_pkl(tmp_path / "bad.pkl")
    with open(tmp_path / "dict.pkl", "wb") as f:
        pickle.dump({"names": ["a"]}, f)
    with pytest.raises(SampleError, match="dict.pkl: not a pickled \\(names, integer labels\\) pair"):
        arrays.read_name_label_pkl(tmp_path / "dict.pkl")


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
    assert first.metadata["channel_names"] == ["x", "y", "score"] and second.metadata["channel_names"] == ["x", "y", "z"]


class _RunsCode:
    """Unpickling this calls os.system: what a crafted .pkl would do."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        import os

        return os.system, (f"touch {self.marker}",)


@pytest.mark.parametrize("kind", ["labels", "pyskl"])
def test_a_pickle_that_would_run_code_is_refused_naming_the_file(tmp_path, kind):
    marker = tmp_path / "ran"
    payload = ([_RunsCode(marker)], [0]) if kind == "labels" else {"annotations": [_RunsCode(marker)]}
    path = tmp_path / "crafted.pkl"
    path.write_bytes(pickle.dumps(payload))
    with pytest.raises(SampleError, match=f"{path}.*refused to load posix.system"):
        if kind == "labels":
            arrays.read_name_label_pkl(path)
        else:
            list(arrays.read_pyskl(path))
    assert not marker.exists()


@pytest.mark.parametrize("protocol", [2, 4, 5])
def test_the_restricted_unpickler_reads_what_the_formats_hold(tmp_path, protocol):
    content = {"names": ["a", "b"], "labels": [np.int64(1), 2], "arrays": [np.ones((2, 3), np.float16)],
               "nested": {"score": np.float32(0.5), "text": np.array(["x", "y"])}}
    (tmp_path / "ok.pkl").write_bytes(pickle.dumps(content, protocol=protocol))
    loaded = arrays.load_pickle(tmp_path / "ok.pkl")
    assert loaded["names"] == ["a", "b"] and loaded["labels"] == [1, 2] and loaded["nested"]["score"] == 0.5
    np.testing.assert_array_equal(loaded["arrays"][0], content["arrays"][0])
    np.testing.assert_array_equal(loaded["nested"]["text"], ["x", "y"])


def test_a_label_file_with_a_text_label_names_the_file(tmp_path):
    path = tmp_path / "val_label.pkl"
    path.write_bytes(pickle.dumps((["a", "b"], [0, "walk"])))
    with pytest.raises(SampleError, match=f"{path}.*integer labels"):
        arrays.read_name_label_pkl(path)


def test_bad_pyskl_annotations_are_each_named_and_the_rest_read(tmp_path):
    good = {"frame_dir": "ok", "label": 1, "keypoint": np.ones((1, 4, 17, 2), np.float32)}
    annotations = [
        {**good, "frame_dir": "short_score", "keypoint_score": np.ones((1, 4, 5), np.float32)},
        {**good, "frame_dir": "text_label", "label": "walk"},
        "not an annotation",
        good,
    ]
    path = tmp_path / "a.pkl"
    path.write_bytes(pickle.dumps({"split": {"xsub_train": ["ok"]}, "annotations": annotations}))
    out = list(arrays.read_pyskl(path, num_classes=60))
    problems = [str(entry) for _, entry, _ in out[:3]]
    assert f"{path}[0] (short_score): keypoint_score shape (1, 4, 5) is not keypoint's" in problems[0]
    assert f"{path}[1] (text_label): keypoint, keypoint_score and label must be numeric" in problems[1]
    assert f"{path}[2]: an annotation must be a dict" in problems[2]
    assert isinstance(out[3][1], Sample) and out[3][2] == ["xsub_train"]
