import json

import numpy as np
import pytest
import tensorflow as tf

from slnl_tf.data import build, input as data_input, sources
from slnl_tf.data.sample import Sample, SampleError


class _ListSource:
    """An in-memory source for tests: items are indices into a list of samples."""

    def __init__(self, samples, split_of):
        self.samples, self.split_of = samples, split_of
        self.layout = {"channels": 3, "joints": 25, "persons": 2}
        self.num_classes = 10

    def items(self):
        return [sources.Item(self.split_of(i), s.name, f"memory[{i}]", i) for i, s in enumerate(self.samples)], []

    def read(self, item):
        return self.samples[item.index]


@pytest.fixture(scope="module")
def records_dir(tmp_path_factory):
    rng = np.random.default_rng(0)
    samples = [Sample(rng.normal(size=(3, 12, 25, 2)).astype(np.float32), i % 10, f"clip{i:03d}")
               for i in range(40)]
    out = tmp_path_factory.mktemp("records")
    build.build(_ListSource(samples, lambda i: "train" if i < 30 else "test"), str(out), storage_dtype="float32",
                files_per_shard=4, workers=1, progress=False, log=lambda _: None)
    return str(out), samples


def test_array_to_records_to_tf_data_returns_the_same_arrays(records_dir):
    out, samples = records_dir
    dataset = data_input.make_dataset(out, "test", batch_size=4, frames=12, training=False, eval_crop_ratio=1.0,
                                      keep_names=True)
    seen = {}
    for batch in dataset:
        for name, skeleton, label in zip(batch["name"].numpy(), batch["skeleton"].numpy(), batch["label"].numpy()):
            seen[name.decode()] = (skeleton, label)
    assert sorted(seen) == [f"clip{i:03d}" for i in range(30, 40)]
    for i in range(30, 40):
        skeleton, label = seen[f"clip{i:03d}"]
        np.testing.assert_allclose(skeleton, samples[i].data, atol=1e-6)
        assert label == samples[i].label


def test_training_batches_are_shuffled_cropped_and_repeated(records_dir):
    out, _ = records_dir
    dataset = data_input.make_dataset(out, "train", batch_size=8, frames=16, training=True, seed=1,
                                      rotation_degrees=10.0, scale_range=(0.9, 1.1), keep_names=True)
    batches = list(dataset.take(8))
    assert all(b["skeleton"].shape == (8, 3, 16, 25, 2) for b in batches)
    names = [n.decode() for b in batches for n in b["name"].numpy()]
    assert set(names) == {f"clip{i:03d}" for i in range(30)}  # 64 draws cover all 30 (repeat)
    first_epoch = names[:30]
    assert first_epoch != sorted(first_epoch)
    # Every iterator of the dataset yields the same stream: bench/measure.fed_training_rates
    # times training fed by it against the same batches from a cache.
    for batch, again in zip(batches, dataset.take(8)):
        np.testing.assert_array_equal(batch["skeleton"].numpy(), again["skeleton"].numpy())


def test_input_context_gives_each_pipeline_its_own_shards(records_dir):
    out, _ = records_dir
    names = []
    for pipeline in range(2):
        context = tf.distribute.InputContext(num_input_pipelines=2, input_pipeline_id=pipeline,
                                             num_replicas_in_sync=2)
        dataset = data_input.make_dataset(out, "test", batch_size=4, frames=12, training=False,
                                          input_context=context, keep_names=True)
        batches = list(dataset)
        assert all(b["skeleton"].shape[0] <= 2 for b in batches)  # per-replica batch 4 / 2
        names.append({n.decode() for b in batches for n in b["name"].numpy()})
    assert names[0] and names[1] and not names[0] & names[1]
    assert names[0] | names[1] == {f"clip{i:03d}" for i in range(30, 40)}


def test_missing_records_name_the_build_command(tmp_path):
    with pytest.raises(FileNotFoundError, match="python -m slnl_tf.data.build"):
        data_input.make_dataset(str(tmp_path), "train", batch_size=2, frames=8, training=True)
    with pytest.raises(FileNotFoundError, match="no split 'val'"):
        data_input.make_dataset(_records(tmp_path), "val", batch_size=2, frames=8, training=True)


def test_a_truncated_or_damaged_shard_or_manifest_is_named_with_the_rebuild_command(tmp_path):
    records = _records(tmp_path)
    manifest = json.loads((tmp_path / "r" / "manifest.json").read_text())
    manifest["options"].update(dataset="ntu60", benchmark="ntu60_xsub", raw_dir="/data/raw")
    (tmp_path / "r" / "manifest.json").write_text(json.dumps(manifest))
    command = f"python -m slnl_tf.data.build --dataset=ntu60 --benchmark=ntu60_xsub --raw_dir=/data/raw --out_dir={tmp_path}"
    shard = tmp_path / "r" / manifest["splits"]["train"]["shards"][0]
    whole = shard.read_bytes()
    shard.write_bytes(whole[:-7])
    with pytest.raises(FileNotFoundError, match=f"shard {shard} listed in .* has {len(whole) - 7} bytes, not the "
                                                f"{len(whole)} it was written with; rebuild the dataset with `{command}`"):
        data_input.make_dataset(records, "train", batch_size=1, frames=4, training=False)
    damaged = bytearray(whole)
    damaged[len(whole) // 2] ^= 0xFF
    shard.write_bytes(bytes(damaged))
    dataset = data_input.make_dataset(records, "train", batch_size=1, frames=4, training=False)
    with pytest.raises(tf.errors.DataLossError):
        list(dataset)
    assert data_input.data_loss_message(records, ["train"]) == (
        f"damaged records: {shard} (corrupted record at 12); rebuild the dataset with `{command}`")
    (tmp_path / "r" / "manifest.json").write_text("{")
    with pytest.raises(ValueError, match="manifest.json is damaged .*rebuild the dataset with"):
        data_input.read_manifest(records)


def _records(tmp_path):
    samples = [Sample(np.ones((3, 4, 25, 2), np.float32), 0, "a")]
    build.build(_ListSource(samples, lambda i: "train"), str(tmp_path / "r"), progress=False, log=lambda _: None)
    return str(tmp_path / "r")


def test_skipping_samples_resumes_the_training_stream_exactly(records_dir):
    # A resumed run skips records before parsing; the batches that follow are the ones an
    # uninterrupted stream yields there (augmentation seeds follow each sample's position).
    out, _ = records_dir

    def stream(skip):
        dataset = data_input.make_dataset(out, "train", batch_size=4, frames=8, training=True, seed=3,
                                          rotation_degrees=10.0, scale_range=(0.9, 1.1), skip_samples=skip)
        return [b["skeleton"].numpy() for b in dataset.take(6)]

    straight, resumed = stream(0), stream(3 * 4)
    for a, b in zip(straight[3:], resumed):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("channel_names", [None, ["x", "y"], ["x", "y", "score"], ["x", "y", "z"]])
def test_augmentation_moves_only_the_coordinate_channels_of_own_data(tmp_path, channel_names):
    # Every joint at x=1, y=0 (z=0 or a score of 0.5): a rotation keeps x^2 + y^2 = 1 and the
    # score; scaling is off so the radius is exact.
    channels = len(channel_names) if channel_names else 2
    raw = tmp_path / "mine"
    (raw / "clips").mkdir(parents=True)
    layout = {"joints": 4, "channels": channels, "class_names": ["a"]}
    if channel_names:
        layout["channel_names"] = channel_names
    (raw / "layout.json").write_text(json.dumps(layout))
    clip = np.zeros((channels, 12, 4, 1), np.float32)
    clip[0] = 1.0
    if channel_names == ["x", "y", "score"]:
        clip[2] = 0.5
    np.save(raw / "clips" / "a.npy", clip)
    (raw / "samples.csv").write_text("name,label,split\na,0,train\n")
    build.build(sources.CustomSource(str(raw)), str(tmp_path / "r"), progress=False, log=lambda _: None)
    batch = next(iter(data_input.make_dataset(str(tmp_path / "r"), "train", batch_size=1, frames=12, training=True,
                                              seed=3, rotation_degrees=40.0, crop_ratio=(1.0, 1.0))))
    skeleton = batch["skeleton"].numpy()[0, ..., 0]  # (C, T, V)
    x, y = skeleton[0], skeleton[1]
    np.testing.assert_allclose(x**2 + y**2 + (skeleton[2] ** 2 if channel_names == ["x", "y", "z"] else 0), 1.0,
                               rtol=2e-3)
    assert not np.allclose(x, 1.0)  # it did rotate
    if channel_names == ["x", "y", "score"]:
        np.testing.assert_allclose(skeleton[2], 0.5, rtol=1e-3)


def _custom_records(tmp_path, layout_extra):
    raw = tmp_path / "mine"
    (raw / "clips").mkdir(parents=True)
    (raw / "layout.json").write_text(json.dumps({"joints": 4, "channels": 3, "class_names": ["a"], **layout_extra}))
    clip = np.zeros((3, 6, 4, 1), np.float32)
    clip[:, :, 0] = 1.0  # joint 0 at (1, 1, 1); its partner, joint 1, at the origin
    np.save(raw / "clips" / "a.npy", clip)
    (raw / "samples.csv").write_text("name,label,split\na,0,train\n")
    build.build(sources.CustomSource(str(raw)), str(tmp_path / "r"), progress=False, log=lambda _: None)
    return str(tmp_path / "r")


def test_mirroring_uses_the_layouts_left_right_pairs(tmp_path):
    records = _custom_records(tmp_path, {"mirror_pairs": [[0, 1]]})
    batch = next(iter(data_input.make_dataset(records, "train", batch_size=1, frames=6, training=True, seed=0,
                                              crop_ratio=(1.0, 1.0), mirror_probability=1.0)))
    skeleton = batch["skeleton"].numpy()[0, ..., 0]  # (C, T, V)
    np.testing.assert_allclose(skeleton[:, :, 1], np.array([-1.0, 1.0, 1.0])[:, None] * np.ones((3, 6)), atol=1e-3)
    np.testing.assert_array_equal(skeleton[:, :, 0], 0.0)


def test_evaluation_mirroring_mirrors_every_clip_and_only_when_asked(tmp_path):
    records = _custom_records(tmp_path, {"mirror_pairs": [[0, 1]]})
    plain, mirrored = (next(iter(data_input.make_dataset(records, "train", batch_size=1, frames=6, training=False,
                                                         eval_crop_ratio=1.0, eval_mirror=flip)))["skeleton"].numpy()
                       for flip in (False, True))
    expected = plain[:, :, :, [1, 0, 2, 3]]  # (B, C, T, V, M): joints 0 and 1 swapped, x negated
    expected[:, 0] *= -1
    np.testing.assert_array_equal(mirrored, expected)
    assert plain[:, 0].any()


def test_mirroring_without_known_pairs_is_refused(tmp_path):
    records = _custom_records(tmp_path, {})
    with pytest.raises(ValueError, match="no left/right joint pairs known for a 4-joint layout"):
        data_input.make_dataset(records, "train", batch_size=1, frames=6, training=True, mirror_probability=0.5)
    with pytest.raises(ValueError, match="no --eval_mirror"):
        data_input.make_dataset(records, "train", batch_size=1, frames=6, training=False, eval_mirror=True)
    data_input.make_dataset(records, "train", batch_size=1, frames=6, training=False, mirror_probability=0.5)
    raw = tmp_path / "mine"
    (raw / "layout.json").write_text(json.dumps({"joints": 4, "channels": 3, "class_names": ["a"],
                                                 "mirror_pairs": [[0, 7]]}))
    with pytest.raises(SampleError, match="layout.json.*outside 0-3"):
        build.build(sources.CustomSource(str(raw)), str(tmp_path / "r2"), progress=False, log=lambda _: None)


def test_rotation_of_data_without_two_coordinates_is_refused(tmp_path):
    raw = tmp_path / "mine"
    (raw / "clips").mkdir(parents=True)
    (raw / "layout.json").write_text(json.dumps({"joints": 4, "channels": 2, "class_names": ["a"],
                                                 "channel_names": ["angle", "speed"]}))
    np.save(raw / "clips" / "a.npy", np.ones((2, 6, 4, 1), np.float32))
    (raw / "samples.csv").write_text("name,label,split\na,0,train\n")
    build.build(sources.CustomSource(str(raw)), str(tmp_path / "r"), progress=False, log=lambda _: None)
    with pytest.raises(ValueError, match="--rotation_degrees=0"):
        data_input.make_dataset(str(tmp_path / "r"), "train", batch_size=1, frames=6, training=True,
                                rotation_degrees=10.0)
