"""The SBU, NW-UCLA and NTU-format (CWBG) readers and protocols: on files written here in
each dataset's format (counts per split), and on the real SBU and CWBG sets in shared/data
with every file accounted for."""
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from slnl_tf.data import build, nwucla, records, sbu, sources, splits
from shared_data import SHARED_DATA

ROOT = Path(__file__).resolve().parents[1]


def _records(out_dir, storage_dtype):
    files = sorted(str(p) for p in Path(out_dir).glob("*.tfrecord"))
    return {p["name"].numpy().decode(): p
            for p in (records.parse(r, storage_dtype) for r in tf.data.TFRecordDataset(files))}


def _write_sbu(root, rng, takes_per_set=1):
    """One take of every class in every set of the protocol (168 takes), and bad files."""
    for set_name in splits.SBU_SETS:
        for label in range(1, 9):
            for take in range(1, takes_per_set + 1):
                folder = root / set_name / f"{label:02d}" / f"{take:03d}"
                folder.mkdir(parents=True)
                frames = rng.uniform(0.1, 1.9, size=(12 + label, 90))
                lines = [",".join([str(t + 1)] + [f"{v:.5f}" for v in row]) for t, row in enumerate(frames)]
                (folder / sbu.FILE_NAME).write_text("\n".join(lines) + "\n")
    bad = root / "s01s02" / "03" / "009"
    bad.mkdir(parents=True)
    (bad / sbu.FILE_NAME).write_text("1,0.5,0.5\n")  # wrong value count
    other = root / "s09s09" / "01" / "001"  # a set of no fold
    other.mkdir(parents=True)
    (other / sbu.FILE_NAME).write_text(",".join(["1"] + ["0.5"] * 90) + "\n")


def test_sbu_reader_keeps_both_persons_joints_in_order(tmp_path):
    path = tmp_path / "s01s02" / "05" / "002" / sbu.FILE_NAME
    path.parent.mkdir(parents=True)
    values = np.arange(3 * 90, dtype=float).reshape(3, 90) / 100
    path.write_text("\r\n".join(",".join([str(t)] + [str(v) for v in row]) for t, row in enumerate(values)))
    sample = sbu.read_sample(path)
    assert sample.name == "s01s02_05_002" and sample.label == 4
    assert sample.metadata == {"set": "s01s02", "class": 5, "take": 2}
    assert sample.data.shape == (3, 3, 15, 2)
    # Frame 1, person 2, joint 4 (0-based 3): values 45 + 9 ... 45 + 11 of the line.
    np.testing.assert_allclose(sample.data[:, 1, 3, 1], values[1, 45 + 9: 45 + 12], rtol=1e-6)
    np.testing.assert_allclose(sample.data[:, 0, 0, 0], values[0, :3], rtol=1e-6)


@pytest.mark.parametrize("content, problem", [
    ("", "zero frames"), ("1,2,3\n", "has 3 values, expected 91"),
    (",".join(["1"] + ["0.5"] * 89 + ["abc"]) + "\n", "non-numeric value 'abc' in line 1"),
    (",".join(["1"] + ["0.5"] * 89 + ["nan"]) + "\n", "non-finite value"),
])
def test_sbu_reader_names_the_problem(tmp_path, content, problem):
    path = tmp_path / "s01s02" / "01" / "001" / sbu.FILE_NAME
    path.parent.mkdir(parents=True)
    path.write_text(content)
    with pytest.raises(sources.SampleError, match=problem):
        sbu.read_sample(path)


def test_sbu_folds_on_generated_files(tmp_path):
    _write_sbu(tmp_path / "raw", np.random.default_rng(0))
    for k, fold in enumerate(splits.SBU_FOLDS, start=1):
        items, skips = sources.SBUSource(str(tmp_path / "raw"), f"sbu_fold{k}", validation=True).items()
        by_split = {s: sorted({i.name[:6] for i in items if i.split == s}) for s in ("train", "val", "test")}
        assert by_split["test"] == sorted(fold)
        held_out = splits.SBU_FOLDS[k % 5][0]
        assert by_split["val"] == [held_out] and held_out not in fold
        assert len(by_split["train"]) == 21 - len(fold) - 1
        assert sum(i.split == "test" for i in items) == 8 * len(fold) + (k == 1)  # the bad take is in s01s02
        assert [why for _, why in skips] == ["set s09s09 is in no fold of the SBU protocol"]
    manifest = build.build(sources.SBUSource(str(tmp_path / "raw"), "sbu_fold1"), str(tmp_path / "out"),
                           workers=1, progress=False, log=lambda _: None)
    assert manifest["read"] == 170 and manifest["written"] == 168 and manifest["skipped"] == 2
    assert manifest["splits"]["test"]["written"] == 32 and manifest["splits"]["train"]["written"] == 136
    assert "has 3 values, expected 91" in (tmp_path / "out" / "skipped.txt").read_text()


def _nwucla_json(path, action, frames, rng, label=None):
    skeletons = rng.normal(size=(frames, 20, 3)).round(4).tolist()
    path.write_text(json.dumps({"file_name": path.stem, "skeletons": skeletons,
                                "label": nwucla.ACTIONS.index(action) + 1 if label is None else label}))
    return skeletons


def test_nwucla_reader_and_cross_view_protocol_on_written_files(tmp_path):
    rng = np.random.default_rng(1)
    raw = tmp_path / "all_sqe"
    raw.mkdir()
    expected = {}
    for action in nwucla.ACTIONS:
        for subject in (1, 2, 10):
            for view in (1, 2, 3):
                name = f"a{action:02d}_s{subject:02d}_e00_v{view:02d}"
                expected[name] = _nwucla_json(raw / f"{name}.json", action, 5 + subject, rng)
    _nwucla_json(raw / "a07_s01_e00_v01.json", 6, 5, rng)  # a07 is not one of the ten actions
    _nwucla_json(raw / "a08_s01_e01_v01.json", 8, 5, rng, label=8)  # a08's label is 7, not 8
    (raw / "a01_s01_e01_v01.json").write_text('{"skeletons": [[[1, 2]]]}')
    manifest = build.build(sources.NWUCLASource(str(raw), validation=True), str(tmp_path / "out"),
                           storage_dtype="float32", workers=1, progress=False, log=lambda _: None)
    # Views 1 and 2 train (subject 10 validates), view 3 tests: 10 actions x 3 subjects per view.
    counts = {split: info["written"] for split, info in manifest["splits"].items()}
    assert counts == {"train": 40, "val": 20, "test": 30}
    assert manifest["read"] == 93 and manifest["skipped"] == 3 and manifest["layout"]["persons"] == 1
    skipped = (tmp_path / "out" / "skipped.txt").read_text()
    assert "action a07 is not one of NW-UCLA's ten" in skipped
    assert "'label' 8 disagrees with the name's action a08 (label 7" in skipped
    assert "has shape (1, 1, 2), expected (T, 20, 3)" in skipped
    written = _records(tmp_path / "out", "float32")
    record = written["a12_s02_e00_v03"]
    assert int(record["label"]) == 9 and record["skeleton"].shape == (3, 7, 20, 1)
    raw_clip = np.array(expected["a12_s02_e00_v03"]).transpose(2, 0, 1)
    np.testing.assert_allclose(record["skeleton"].numpy()[..., 0], raw_clip, atol=1e-6)


def test_ntu_format_with_a_protocol_of_its_own(tmp_path):
    from slnl_tf.data import ntu

    raw = tmp_path / "raw"
    raw.mkdir()
    rng = np.random.default_rng(2)
    for performer in range(1, 7):
        for action in (1, 2, 3):
            frames = [[("1", rng.normal(size=(25, 3)))] for _ in range(4)]
            ntu.write_skeleton_file(raw / f"S001C001P{performer:03d}R001A{action:03d}.skeleton", frames)
    ntu.write_skeleton_file(raw / "S001C001P001R001A004.skeleton", [[("1", np.ones((25, 3)))]])
    protocol = splits.Protocol("ntu_format", "performer", splits.parse_number_list("1-4"), "performer",
                               frozenset((4,)))
    source = sources.NTUSource(str(raw), "custom", validation=True, protocol=protocol, classes=3)
    manifest = build.build(source, str(tmp_path / "out"), workers=1, progress=False, log=lambda _: None)
    counts = {split: info["written"] for split, info in manifest["splits"].items()}
    assert counts == {"train": 9, "val": 3, "test": 6} and manifest["skipped"] == 1
    assert "action 4 is not in ntu_format (3 classes)" in (tmp_path / "out" / "skipped.txt").read_text()
    with pytest.raises(ValueError, match="not a number or range"):
        splits.parse_number_list("1-x")


def test_ntu_format_keeps_the_persons_asked_for(tmp_path):
    from slnl_tf.data import ntu

    raw = tmp_path / "raw"
    raw.mkdir()
    rng = np.random.default_rng(4)
    still = np.tile(rng.normal(size=(1, 25, 3)), (6, 1, 1))
    moving = still + np.arange(6)[:, None, None] * 0.1
    frames = [[("1", still_frame), ("2", moving_frame)] for still_frame, moving_frame in zip(still, moving)]
    ntu.write_skeleton_file(raw / "S001C001P001R001A001.skeleton", frames)
    protocol = splits.Protocol("ntu_format", "performer", frozenset((1,)), "performer", frozenset())
    for persons, expected in ((1, moving[..., None]), (2, np.stack([moving, still], axis=-1))):
        source = sources.NTUSource(str(raw), "custom", protocol=protocol, classes=1, persons=persons)
        out = tmp_path / f"persons{persons}"
        manifest = build.build(source, str(out), workers=1, progress=False, log=lambda _: None)
        assert manifest["layout"]["persons"] == persons
        # No preprocessing given: the record holds the bodies as read, the most-moving first.
        skeleton = _records(out, "float16")["S001C001P001R001A001"]["skeleton"].numpy()
        assert skeleton.shape == (3, 6, 25, persons)
        np.testing.assert_allclose(skeleton, expected.transpose(2, 0, 1, 3), atol=2e-3)
    # CWBG's files hold one child: its benchmark keeps one person slot unless asked for more.
    assert sources.NTUSource(str(raw), "cwbg_xsub").layout["persons"] == 1
    assert sources.NTUSource(str(raw), "ntu60_xsub").layout["persons"] == 2


def _cli(*args):
    return subprocess.run([sys.executable, "-m", "slnl_tf.data.build", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=300)


def test_the_real_cwbg_files_through_the_ntu_reader(tmp_path):
    files = sorted((SHARED_DATA / "cwbg").glob("*.skeleton"))
    if not files:
        pytest.skip("no CWBG files in shared/data")
    result = _cli("--dataset=ntu_format", "--benchmark=cwbg_xsub", f"--raw_dir={SHARED_DATA / 'cwbg'}",
                  f"--out_dir={tmp_path}", "--workers=2")
    assert result.returncode == 0, result.stderr[-3000:]
    manifest = json.loads((tmp_path / "cwbg_xsub" / "manifest.json").read_text())
    assert manifest["read"] == len(files) == manifest["written"] + manifest["skipped"]
    assert manifest["num_classes"] == 15 and manifest["class_names"][0] == "A1: angry like a bear"
    assert manifest["layout"]["persons"] == 1
    skipped = (tmp_path / "cwbg_xsub" / "skipped.txt").read_text().splitlines()
    assert [line.split("\t")[0].rsplit("/", 1)[1] for line in skipped] == ["S001C001P011R001A014.skeleton"]
    counts = {split: info["written"] for split, info in manifest["splits"].items()}
    train_and_val = sum(1 for f in files if int(f.name[9:12]) <= 21) - 1  # less the empty file (P011)
    assert counts["train"] + counts["val"] == train_and_val and counts["test"] == len(files) - 1 - train_and_val
    assert counts["val"] == sum(1 for f in files if int(f.name[9:12]) in (20, 21))
    if len(files) == 1313:  # the source's protocol: 926 / 386 clips
        assert (train_and_val, counts["test"]) == (926, 386)


def test_the_real_sbu_set_in_five_folds(tmp_path):
    takes = sorted((SHARED_DATA / "sbu").glob(f"*/*/*/{sbu.FILE_NAME}"))
    if not takes:
        pytest.skip("no SBU files in shared/data")
    test_counts = []
    for k in range(1, 6):
        items, skips = sources.SBUSource(str(SHARED_DATA / "sbu"), f"sbu_fold{k}", validation=True).items()
        assert len(items) + len(skips) == len(takes) and not skips
        test_counts.append(sum(item.split == "test" for item in items))
    assert sum(test_counts) == len(takes)  # every take is tested in exactly one fold
    result = _cli("--dataset=sbu", "--benchmark=sbu_fold3", f"--raw_dir={SHARED_DATA / 'sbu'}",
                  f"--out_dir={tmp_path}")
    assert result.returncode == 0, result.stderr[-3000:]
    manifest = json.loads((tmp_path / "sbu_fold3" / "manifest.json").read_text())
    assert manifest["written"] == len(takes) and manifest["splits"]["test"]["written"] == test_counts[2]
    # Two persons of 15 joints, merged into one body of 30 (the SBU default).
    assert manifest["class_names"][5] == "hugging"
    assert (manifest["layout"]["joints"], manifest["layout"]["persons"]) == (30, 1)
    assert manifest["preprocessing"]["center"] == "first_frame" and manifest["preprocessing"]["scale"] == "torso"
    assert manifest["preprocessing"]["merge_persons"]


def test_cli_names_bad_protocol_flags(tmp_path):
    result = _cli("--dataset=sbu", "--benchmark=ntu60_xsub", f"--raw_dir={tmp_path}", f"--out_dir={tmp_path}")
    assert result.returncode != 0 and "--benchmark for sbu must be one of" in result.stderr
    result = _cli("--dataset=ntu_format", f"--raw_dir={tmp_path}", f"--out_dir={tmp_path}")
    assert result.returncode != 0 and "needs --benchmark" in result.stderr
    result = _cli("--dataset=ntu_format", "--train_performers=1-3", f"--raw_dir={tmp_path}", f"--out_dir={tmp_path}")
    assert result.returncode != 0 and "needs --num_classes" in result.stderr
    result = _cli("--dataset=ntu_format", "--train_performers=1-3", "--validation_performers=5", "--num_classes=4",
                  f"--raw_dir={tmp_path}", f"--out_dir={tmp_path}")
    assert result.returncode != 0 and "--validation_performers must be training performers" in result.stderr
    assert "Traceback" not in result.stderr
    result = _cli("--dataset=sbu", "--persons=1", f"--raw_dir={tmp_path}", f"--out_dir={tmp_path}")
    assert result.returncode != 0 and "--persons applies to the NTU formats" in result.stderr


def test_predict_prepares_a_raw_file_as_the_build_wrote_its_record(tmp_path):
    # The build records its preprocessing in the manifest; predict and the serving client
    # apply it to a raw file exactly as the build did before writing the record trained on.
    from slnl_tf.data import clip_files

    takes = sorted((SHARED_DATA / "sbu").glob(f"*/*/*/{sbu.FILE_NAME}"))
    cwbg = sorted((SHARED_DATA / "cwbg").glob("*.skeleton"))
    if not takes or not cwbg:
        pytest.skip("no SBU or CWBG files in shared/data")
    rng = np.random.default_rng(5)
    nwucla_raw = tmp_path / "nwucla"
    nwucla_raw.mkdir()
    for action in nwucla.ACTIONS[:3]:
        skeletons = np.cumsum(rng.normal(scale=0.02, size=(9, 20, 3)), axis=0) + [0.1, 0.3, 2.5]
        (nwucla_raw / f"a{action:02d}_s01_e00_v01.json").write_text(json.dumps({"skeletons": skeletons.tolist()}))
    cases = [  # (--dataset, raw files, their source, the dataset's default preprocessing)
        ("sbu", takes[::40], sources.SBUSource(str(SHARED_DATA / "sbu"), "sbu_fold2"), ("first_frame", "torso")),
        ("ntu_format", cwbg[:4], sources.NTUSource(str(SHARED_DATA / "cwbg"), "cwbg_xsub"), ("first_frame", "torso")),
        ("nwucla", sorted(nwucla_raw.glob("*.json")), sources.NWUCLASource(str(nwucla_raw)), ("first_frame", "extent")),
    ]
    for index, (dataset, paths, source, (center, scale)) in enumerate(cases):
        preprocessing = build.choose_preprocessing(dataset, source.layout)
        assert (preprocessing.center, preprocessing.scale) == (center, scale)
        assert preprocessing.center_joint == source.layout["landmarks"]["center"]
        out = tmp_path / str(index)
        manifest = build.build(source, str(out), storage_dtype="float32", workers=1, progress=False,
                               log=lambda _: None, preprocessing=preprocessing)
        assert manifest["preprocessing"] == preprocessing.to_dict()
        written = _records(out, "float32")
        spec = clip_files.input_spec(manifest)
        for path in paths:
            [(_, clip)] = clip_files.read_clips(path, spec)
            name = sbu.sample_name(path) if path.name == sbu.FILE_NAME else path.stem
            record = written[name]["skeleton"].numpy()
            assert clip.shape == record.shape and np.abs(record).max() > 0
            np.testing.assert_allclose(clip, record, rtol=1e-6, atol=1e-6)
            raw = source.read(sources.Item("test", name, str(path))).data
            assert raw.shape != record.shape or not np.allclose(record, raw)  # prepared
