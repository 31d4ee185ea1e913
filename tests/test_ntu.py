import numpy as np
import pytest

from slnl_tf.data import ntu
from slnl_tf.data.sample import SampleError
from shared_data import real_files

RAW_FILES = real_files("ntu/raw/*.skeleton")


def _pose(rng, offset=(0.0, 0.0, 3.0), width=0.3, height=1.0):
    joints = rng.uniform(-0.5, 0.5, size=(25, 3)) * [width, height, 0.2]
    return joints + offset


def _moving_body(rng, frames, amplitude):
    base = _pose(rng)
    return [base + amplitude * np.sin(t / 3.0) for t in range(frames)]


def _write(tmp_path, name, frames, line_ending="\r\n"):
    path = tmp_path / f"{name}.skeleton"
    ntu.write_skeleton_file(path, frames, line_ending)
    return path


@pytest.mark.skipif(not RAW_FILES, reason="no real NTU raw files in shared/data")
@pytest.mark.parametrize("path", RAW_FILES, ids=lambda p: p.name)
def test_every_real_raw_file_is_read(path):
    sample = ntu.read_sample(path)
    meta = ntu.parse_name(path.stem)
    assert sample.name == path.stem and sample.label == meta["action"] - 1
    assert sample.data.dtype == np.float32 and sample.data.shape[0] == 3 and sample.data.shape[2:] == (25, 2)
    assert 0 < sample.data.shape[1] <= sample.metadata["frames_in_file"]
    assert np.all(np.isfinite(sample.data))
    # The first frame's first joint is the first joint line of the file.
    lines = path.read_bytes().split(b"\r\n" if b"\r\n" in path.read_bytes() else b"\n")
    first_joint = np.array(lines[4].split()[:3], np.float32)
    num_frames, bodies = ntu.read_bodies(path)
    np.testing.assert_array_equal(bodies[0].joints[0, 0], first_joint)
    assert num_frames == int(lines[0])
    for selection in ntu.BODY_SELECTIONS:
        assert ntu.read_sample(path, selection).data.shape[1] > 0


def test_real_two_person_file_keeps_both_people():
    two = [p for p in RAW_FILES if p.stem == "S001C003P008R002A058"]
    if not two:
        pytest.skip("handshaking sample not in shared/data")
    sample = ntu.read_sample(two[0])
    assert sample.metadata["frames_in_file"] == 70 and sample.data.shape[1] == 70
    assert np.all(np.abs(sample.data).reshape(-1, 2).max(0) > 0)


def test_parse_name():
    assert ntu.parse_name("S017C003P020R001A059") == dict(setup=17, camera=3, performer=20, replication=1, action=59)
    with pytest.raises(ValueError, match="not an NTU sample name"):
        ntu.parse_name("clip_001")


@pytest.mark.parametrize("line_ending", ["\r\n", "\n"])
def test_values_read_match_values_written(tmp_path, line_ending):
    rng = np.random.default_rng(0)
    frames = [[("72057594037931101", _pose(rng))] for _ in range(20)]
    sample = ntu.read_sample(_write(tmp_path, "S001C002P003R002A013", frames, line_ending))
    assert sample.label == 12 and sample.metadata["camera"] == 2
    written = np.stack([f[0][1] for f in frames])  # (T, 25, 3)
    np.testing.assert_allclose(sample.data[..., 0], written.transpose(2, 0, 1), rtol=1e-6)
    assert not sample.data[..., 1].any()


def test_line_endings_do_not_change_the_result(tmp_path):
    rng = np.random.default_rng(1)
    frames = [[("1", _pose(rng)), ("2", _pose(rng, offset=(1, 0, 3)))] for _ in range(15)]
    (tmp_path / "crlf").mkdir()
    (tmp_path / "lf").mkdir()
    a = ntu.read_sample(_write(tmp_path / "crlf", "S001C001P001R001A001", frames, "\r\n"))
    b = ntu.read_sample(_write(tmp_path / "lf", "S001C001P001R001A001", frames, "\n"))
    np.testing.assert_array_equal(a.data, b.data)


def test_two_bodies_ranked_by_motion(tmp_path):
    rng = np.random.default_rng(2)
    calm, lively = _moving_body(rng, 30, 0.01), _moving_body(rng, 30, 0.3)
    frames = [[("calm", calm[t]), ("lively", lively[t])] for t in range(30)]
    sample = ntu.read_sample(_write(tmp_path, "S001C001P001R001A050", frames))
    np.testing.assert_allclose(sample.data[..., 0], np.stack(lively).transpose(2, 0, 1), rtol=1e-6)
    np.testing.assert_allclose(sample.data[..., 1], np.stack(calm).transpose(2, 0, 1), rtol=1e-6)


def test_denoising_drops_short_and_wide_bodies_but_motion_ranking_does_not(tmp_path):
    rng = np.random.default_rng(3)
    actor, partner = _moving_body(rng, 40, 0.05), _moving_body(rng, 40, 0.04)
    flicker = _moving_body(rng, 5, 2.0)  # tracked for 5 frames, huge motion
    wide = [_pose(rng, width=3.0, height=0.5) + 0.5 * np.sin(t) for t in range(40)]  # a table, not a person
    frames = []
    for t in range(40):
        bodies = [("actor", actor[t]), ("wide", wide[t]), ("partner", partner[t])]
        if t < 5:
            bodies.append(("flicker", flicker[t]))
        frames.append(bodies)
    path = _write(tmp_path, "S001C001P001R001A055", frames)
    denoised = ntu.read_sample(path, "denoise")
    assert "short" in denoised.metadata["denoising"] and "wide" in denoised.metadata["denoising"]
    np.testing.assert_allclose(denoised.data[..., 0], np.stack(actor).transpose(2, 0, 1), rtol=1e-6)
    np.testing.assert_allclose(denoised.data[..., 1], np.stack(partner).transpose(2, 0, 1), rtol=1e-6)
    by_motion = ntu.read_sample(path, "motion")
    assert by_motion.data.shape[1] == 40
    np.testing.assert_allclose(by_motion.data[:, 0, :, 0], flicker[0].T, rtol=1e-6)
    first_two = ntu.read_sample(path, "first_two")
    np.testing.assert_allclose(first_two.data[..., 1], np.stack(wide).transpose(2, 0, 1), rtol=1e-6)


def test_denoising_never_drops_every_body(tmp_path):
    rng = np.random.default_rng(4)
    a, b = _moving_body(rng, 6, 0.1), _moving_body(rng, 6, 0.2)
    frames = [[("a", a[t]), ("b", b[t])] for t in range(6)]
    sample = ntu.read_sample(_write(tmp_path, "S001C001P001R001A001", frames))
    assert sample.data.shape[1] == 6 and np.abs(sample.data).reshape(-1, 2).max(0).min() > 0


def test_empty_frames_are_removed_and_counted(tmp_path):
    rng = np.random.default_rng(5)
    frames = [[] for _ in range(3)] + [[("1", _pose(rng))] for _ in range(10)] + [[]] * 2
    sample = ntu.read_sample(_write(tmp_path, "S001C001P001R001A001", frames))
    assert sample.data.shape[1] == 10 and sample.metadata["frames_in_file"] == 15


def test_more_than_two_bodies_keeps_two(tmp_path):
    rng = np.random.default_rng(6)
    bodies = [_moving_body(rng, 20, 0.05 * (k + 1)) for k in range(4)]
    frames = [[(str(k), bodies[k][t]) for k in range(4)] for t in range(20)]
    sample = ntu.read_sample(_write(tmp_path, "S001C001P001R001A001", frames), "motion")
    assert sample.data.shape == (3, 20, 25, 2)
    np.testing.assert_allclose(sample.data[..., 0], np.stack(bodies[3]).transpose(2, 0, 1), rtol=1e-6)


def _valid_text(frames=3):
    rng = np.random.default_rng(7)
    lines = [str(frames)]
    for _ in range(frames):
        lines += ["1", "1 0 1 1 1 1 0 0 0 2", "25"]
        lines += [" ".join(["%.4f" % v for v in rng.normal(size=3)] + ["0"] * 9) for _ in range(25)]
    return lines


@pytest.mark.parametrize(
    "edit,problem",
    [
        (lambda lines: lines[:40], "truncated"),
        (lambda lines: lines[:1], "truncated"),
        (lambda lines: [lines[0]] + lines[1:10] + ["0.1 abc 0.3 0 0 0 0 0 0 0 0 0"] + lines[11:], "non-numeric token 'abc'"),
        (lambda lines: ["x"] + lines[1:], "non-numeric token 'x'"),
        (lambda lines: lines[:3] + ["24"] + lines[4:], "wrong joint count 24"),
        (lambda lines: lines[:6] + ["nan 0 0 0 0 0 0 0 0 0 0 0"] + lines[7:], "non-finite value nan"),
        (lambda lines: lines[:6] + ["0 inf 0 0 0 0 0 0 0 0 0 0"] + lines[7:], "non-finite value inf"),
        (lambda lines: ["0"], "zero frames"),
        (lambda lines: ["2", "0", "0"], "no skeleton"),
        (lambda lines: lines + ["1 2 3"], "unexpected values after the last frame"),
        (lambda lines: [], "truncated"),
    ],
    ids=["truncated-body", "truncated-header", "non-numeric-joint", "non-numeric-count", "joint-count", "nan",
         "inf", "zero-frames", "no-bodies", "trailing", "empty-file"],
)
def test_bad_files_raise_errors_naming_file_and_problem(tmp_path, edit, problem):
    path = tmp_path / "S001C001P001R001A001.skeleton"
    path.write_text("\r\n".join(edit(_valid_text())))
    with pytest.raises(SampleError, match=problem) as error:
        ntu.read_sample(path)
    assert str(path) in str(error.value)


def test_only_the_joint_coordinates_are_parsed(tmp_path):
    # The 9 values after x, y, z (pixels, orientation, tracking state) are not read, so junk
    # there (a hand-edited file, another exporter) leaves the coordinates as they were.
    lines = _valid_text()
    path = tmp_path / "S001C001P001R001A001.skeleton"
    path.write_text("\r\n".join(lines))
    expected = ntu.read_sample(path).data
    lines[4] = " ".join(lines[4].split()[:3] + ["junk"] * 9)
    path.write_text("\r\n".join(lines))
    np.testing.assert_array_equal(ntu.read_sample(path).data, expected)


def test_bad_name_and_missing_file(tmp_path):
    path = tmp_path / "clip.skeleton"
    path.write_text("\n".join(_valid_text()))
    with pytest.raises(SampleError, match="not an NTU sample name"):
        ntu.read_sample(path)
    with pytest.raises(SampleError, match="cannot read"):
        ntu.read_sample(tmp_path / "S001C001P001R001A001.skeleton")
