import numpy as np

from slnl_tf.data import synthetic


def test_shapes_balance_and_absent_persons():
    clips, labels = synthetic.make_clips(40, 8, frames=16, seed=1)
    assert clips.shape == (40, 3, 16, 25, 2) and clips.dtype == np.float32
    assert np.bincount(labels, minlength=8).tolist() == [5] * 8
    second_person_present = np.abs(clips[..., 1]).reshape(40, -1).max(1) > 0
    assert 0 < second_person_present.sum() < 40


def test_class_decides_which_joints_move_and_how_fast():
    clips, labels = synthetic.make_clips(20, 10, frames=32, seed=2, noise=0.0)
    groups = synthetic.joint_groups(25)
    for clip, label in zip(clips, labels):
        person = clip[..., 0]  # (3, T, V)
        moving = np.ptp(person, axis=1).max(0) > 1e-6
        assert moving.tolist() == [j in groups[label % 5] for j in range(25)]
        spectrum = np.abs(np.fft.rfft(person[0, :, groups[label % 5][0]]))
        assert spectrum[1:].argmax() + 1 == 1 + label // 5


def test_same_seed_same_data():
    a, la = synthetic.make_clips(6, 3, frames=8, joints=18, seed=5)
    b, lb = synthetic.make_clips(6, 3, frames=8, joints=18, seed=5)
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(la, lb)


def test_raw_dataset_round_trips_through_the_ntu_reader(tmp_path):
    import glob

    from slnl_tf.data import ntu, splits

    synthetic.write_raw_dataset(str(tmp_path), 90, 6, frames=20, seed=1, log=lambda _: None)
    files = sorted(glob.glob(str(tmp_path / "*.skeleton")))
    assert len(files) == 90
    samples = [ntu.read_sample(f) for f in files]
    assert np.bincount([s.label for s in samples]).tolist() == [15] * 6
    assert all(15 <= s.data.shape[1] <= 30 for s in samples)
    train = sum(splits.split_of("ntu60_xsub", s.metadata) == "train" for s in samples)
    assert train == 60  # two training performers for each test performer
