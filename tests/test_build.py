import json
import os
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from slnl_tf.data import build, ntu, records, sources
from shared_data import SHARED_DATA, real_files

ROOT = Path(__file__).resolve().parents[1]


def _write_ntu_dir(directory, rng):
    """Eight good clips across performers / cameras, and one of each kind of bad file."""
    directory.mkdir(parents=True, exist_ok=True)
    good = []
    for k, (performer, camera) in enumerate([(1, 1), (1, 2), (2, 3), (3, 1), (3, 2), (4, 2), (6, 3), (8, 1)]):
        name = f"S001C{camera:03d}P{performer:03d}R001A{k % 3 + 1:03d}"
        frames = [[("1", rng.normal(size=(25, 3)) + [0, 0, 3])] for _ in range(6 + k)]
        ntu.write_skeleton_file(directory / f"{name}.skeleton", frames)
        good.append(name)
    (directory / "S001C001P001R002A001.skeleton").write_text("5\r\n1\r\n")  # truncated
    (directory / "S001C001P002R002A001.skeleton").write_text("0\r\n")  # zero frames
    ntu.write_skeleton_file(directory / "S001C002P002R002A002.skeleton", [[("1", np.full((25, 3), np.nan))]])
    ntu.write_skeleton_file(directory / "S001C003P003R002A003.skeleton", [[]] * 4)  # no body at all
    ntu.write_skeleton_file(directory / "S018C001P050R001A070.skeleton", [[("1", np.ones((25, 3)))]])  # NTU-120
    ntu.write_skeleton_file(directory / "S001C001P004R002A004.skeleton", [[("1", np.ones((25, 3)))]] * 3)
    (directory / "notes.skeleton").write_text("1\n0\n")
    return good


def _read_records(out_dir, split, dtype="float16"):
    files = sorted(tf.io.gfile.glob(os.path.join(out_dir, f"{split}-*.tfrecord")))
    return {p["name"].numpy().decode(): p for p in map(lambda s: records.parse(s, dtype),
                                                       tf.data.TFRecordDataset(files))}


def test_ntu_build_counts_skips_and_values(tmp_path):
    rng = np.random.default_rng(0)
    good = _write_ntu_dir(tmp_path / "raw", rng)
    out = tmp_path / "out"
    lines = []
    manifest = build.build(sources.NTUSource(str(tmp_path / "raw"), "ntu60_xsub"), str(out),
                           ignore={"S001C001P004R002A004"}, files_per_shard=3, workers=1, progress=False,
                           log=lines.append)
    # 15 files: 13 NTU-60 files, 1 NTU-120 file and 1 unparsable name are read.
    assert manifest["read"] == 15 and manifest["written"] == 8 and manifest["skipped"] == 7
    # Good clips by performer: 1, 1, 2, 3, 3, 4, 6, 8; training performers 1, 2, 4, 8.
    assert manifest["splits"]["train"]["written"] == 5 and manifest["splits"]["test"]["written"] == 3
    assert sum(manifest["splits"]["train"]["class_counts"].values()) == 5
    assert lines[-1].startswith("read 15 = written 8 + skipped 7")
    skipped = (out / "skipped.txt").read_text()
    for reason in ("truncated", "zero frames", "non-finite", "no skeleton", "ignore list", "not an NTU sample name",
                   "setup 18 is NTU-120 only"):
        assert reason in skipped
    assert json.loads((out / "manifest.json").read_text())["written"] == 8
    written = {**_read_records(out, "train"), **_read_records(out, "test")}
    assert sorted(written) == sorted(good)
    for name in good:
        expected = ntu.read_sample(tmp_path / "raw" / f"{name}.skeleton")
        np.testing.assert_allclose(written[name]["skeleton"].numpy(), expected.data, rtol=2e-3, atol=2e-3)
        assert int(written[name]["label"]) == expected.label
    assert not list(out.glob("*.tmp-*"))
    # Each shard's receipt counts its files and the seconds they took (bench: the rate once started).
    receipts = [json.loads(p.read_text()) for p in out.glob("*.tfrecord.json")]
    assert sum(r["read"] for r in receipts) == 13 and all(r["seconds"] > 0 for r in receipts)


def test_a_small_build_starts_no_workers(tmp_path, monkeypatch):
    _write_ntu_dir(tmp_path / "raw", np.random.default_rng(1))
    monkeypatch.setattr(build.multiprocessing, "get_context", lambda *_: pytest.fail("a worker pool was started"))
    manifest = build.build(sources.NTUSource(str(tmp_path / "raw"), "ntu60_xview"), str(tmp_path / "out"),
                           files_per_shard=2, workers=2, progress=False, log=lambda _: None)
    assert manifest["written"] > 0 and len(list((tmp_path / "out").glob("*.tfrecord"))) > 1


def test_rerun_resumes_and_parallel_equals_serial(tmp_path):
    rng = np.random.default_rng(1)
    _write_ntu_dir(tmp_path / "raw", rng)
    source = sources.NTUSource(str(tmp_path / "raw"), "ntu60_xview")
    serial, parallel = tmp_path / "serial", tmp_path / "parallel"
    build.build(source, str(serial), files_per_shard=2, workers=1, progress=False, log=lambda _: None)
    first = build.build(source, str(parallel), files_per_shard=2, workers=2, min_clips_for_workers=0, progress=False,
                        log=lambda _: None)
    for shard in sorted(serial.glob("*.tfrecord")):
        assert shard.read_bytes() == (parallel / shard.name).read_bytes()
    victim = sorted(parallel.glob("*.tfrecord"))[0]
    victim.unlink()
    lines = []
    again = build.build(source, str(parallel), files_per_shard=2, workers=1, progress=False, log=lines.append)
    shards = len(list(parallel.glob("*.tfrecord")))
    assert lines[0] == f"resuming: {shards - 1} of {shards} shards already finished with the same inputs and options, kept"
    assert "(1 shards written" in lines[-1]
    assert again["splits"] == first["splits"]


def _build_ntu(raw, out, lines, **options):
    options.setdefault("files_per_shard", 2)
    return build.build(sources.NTUSource(str(raw), "ntu60_xview"), str(out), workers=1, progress=False,
                       log=lines.append, **options)


def _records_read_by_training(out, split):
    """Clip names as the training input reads them (the shards the manifest lists)."""
    from slnl_tf.data import input as data_input

    batches = data_input.make_dataset(str(out), split, batch_size=1, frames=4, training=False, keep_names=True)
    return sorted(name.decode() for batch in batches for name in batch["name"].numpy())


def test_a_rebuild_with_other_options_rewrites_what_they_change(tmp_path):
    from slnl_tf.data.preprocess import Preprocessing

    _write_ntu_dir(tmp_path / "raw", np.random.default_rng(2))
    out, lines = tmp_path / "out", []
    first = _build_ntu(tmp_path / "raw", out, lines)
    names = _records_read_by_training(out, "train")
    shards = len(list(out.glob("*.tfrecord")))

    # Another storage dtype: every shard rewritten, and the records read back in it.
    lines.clear()
    _build_ntu(tmp_path / "raw", out, lines, storage_dtype="float32")
    assert f"rebuilding {shards} finished shard(s): another storage_dtype" in lines
    assert "(0 shards written" not in lines[-1] and _records_read_by_training(out, "train") == names

    # Other preprocessing: the records change with the manifest.
    lines.clear()
    centred = Preprocessing(center="first_frame")
    _build_ntu(tmp_path / "raw", out, lines, storage_dtype="float32", preprocessing=centred)
    assert any(line.startswith("rebuilding") and "preprocessing" in line for line in lines)
    first_frame_centre = [p["skeleton"].numpy()[:, 0, 0, 0] for p in _read_records(out, "train", "float32").values()]
    np.testing.assert_allclose(first_frame_centre, 0, atol=1e-6)

    # Nothing changed: everything kept.
    lines.clear()
    _build_ntu(tmp_path / "raw", out, lines, storage_dtype="float32", preprocessing=centred)
    assert f"resuming: {shards} of {shards} shards already finished with the same inputs and options, kept" in lines

    # Another shard size: the old shards go, and every clip is read once.
    lines.clear()
    again = _build_ntu(tmp_path / "raw", out, lines, files_per_shard=5)
    assert any(line.startswith("removed ") for line in lines)
    assert sorted(p.name for p in out.glob("*.tfrecord")) == sorted(
        name for split in again["splits"].values() for name in split["shards"])
    assert _records_read_by_training(out, "train") == names
    assert again["splits"]["train"]["written"] == first["splits"]["train"]["written"]
    # A shard file the manifest does not list (copied in by hand) is not read.
    listed = out / again["splits"]["train"]["shards"][0]
    (out / "train-00000-of-00009.tfrecord").write_bytes(listed.read_bytes())
    assert _records_read_by_training(out, "train") == names


def test_a_rebuild_after_the_raw_files_changed_rewrites_their_shards(tmp_path):
    rng = np.random.default_rng(3)
    good = _write_ntu_dir(tmp_path / "raw", rng)
    out, lines = tmp_path / "out", []
    _build_ntu(tmp_path / "raw", out, lines)
    changed = tmp_path / "raw" / f"{good[0]}.skeleton"
    ntu.write_skeleton_file(changed, [[("1", np.full((25, 3), 7.0))]] * 5)
    os.utime(changed, ns=(os.stat(changed).st_atime_ns, os.stat(changed).st_mtime_ns + 10**9))
    lines.clear()
    _build_ntu(tmp_path / "raw", out, lines)
    assert "rebuilding 1 finished shard(s): another input (files, names, labels or splits)" in lines
    split = "train" if good[0] in _records_read_by_training(out, "train") else "test"
    np.testing.assert_allclose(_read_records(out, split)[good[0]]["skeleton"].numpy()[:, :5, :, 0], 7.0)

    # Another dataset into the same folder: nothing of the first stays readable.
    other = tmp_path / "other"
    other.mkdir()
    name = "S001C002P001R001A009"  # camera 2: a training clip in ntu60_xview
    ntu.write_skeleton_file(other / f"{name}.skeleton", [[("1", np.ones((25, 3)))]] * 4)
    manifest = _build_ntu(other, out, lines)
    assert manifest["written"] == 1 and _records_read_by_training(out, "train") == [name]
    assert len(list(out.glob("*.tfrecord"))) == 1


def test_a_build_stopped_half_way_leaves_no_manifest(tmp_path, monkeypatch):
    _write_ntu_dir(tmp_path / "raw", np.random.default_rng(4))
    out = tmp_path / "out"
    _build_ntu(tmp_path / "raw", out, [])
    monkeypatch.setattr(build, "write_shard", lambda task: (_ for _ in ()).throw(KeyboardInterrupt()))
    with pytest.raises(KeyboardInterrupt):
        _build_ntu(tmp_path / "raw", out, [], storage_dtype="float32")
    assert not (out / "manifest.json").exists()
    from slnl_tf.data import input as data_input

    with pytest.raises(FileNotFoundError, match="not a built dataset"):
        data_input.make_dataset(str(out), "train", batch_size=1, frames=4, training=False)


def _linked_real_files(pattern, directory):
    """Links every real file matching `pattern` into `directory` (skips the test if none)."""
    files = real_files(pattern)
    if not files:
        pytest.skip(f"no real files {pattern} in shared/data")
    directory.mkdir(parents=True)
    for path in files:
        (directory / path.name).symlink_to(path)
    return files


def test_kinetics_build_from_the_real_clips(tmp_path):
    clips = _linked_real_files("kinetics/json/*.json", tmp_path / "raw" / "kinetics_val")
    # The label JSON overrules the clip's own label_index (ST-GCN's feeder reads labels from it).
    label_json = {clips[0].stem: {"has_skeleton": False}, clips[1].stem: {"has_skeleton": True, "label_index": 7}}
    (tmp_path / "raw" / "kinetics_val_label.json").write_text(json.dumps(label_json))
    names = tuple(sources.kinetics.read_label_names(SHARED_DATA / "kinetics" / "label_name.txt"))
    manifest = build.build(sources.KineticsSource(str(tmp_path / "raw"), names), str(tmp_path / "out"),
                           storage_dtype="float32", progress=False, log=lambda _: None)
    # Kinetics' `val` is the split every paper scores: the records' `test`.
    assert manifest["splits"]["test"]["written"] == len(clips) - 1 and manifest["skipped"] == 1
    written = _read_records(tmp_path / "out", "test", "float32")
    for clip in clips[1:]:
        expected = sources.kinetics.read_sample(clip, list(names))
        np.testing.assert_array_equal(written[clip.stem]["skeleton"].numpy(), expected.data)
        assert int(written[clip.stem]["label"]) == (7 if clip == clips[1] else expected.label)


def test_npy_build_from_the_real_arrays(tmp_path):
    arrays_found = real_files("ntu/preprocessed_examples_N3TVM.npy")
    if not arrays_found:
        pytest.skip("no real preprocessed arrays")
    raw = tmp_path / "raw"
    raw.mkdir()
    (raw / "val_data_joint.npy").symlink_to(arrays_found[0])
    count = len(np.load(arrays_found[0], mmap_mode="r"))
    with open(raw / "val_label.pkl", "wb") as f:
        pickle.dump(([f"clip{i}.skeleton" for i in range(count)], list(range(count))), f)
    manifest = build.build(sources.NpySource(str(raw)), str(tmp_path / "out"), storage_dtype="float32",
                           progress=False, log=lambda _: None)
    assert manifest["written"] == count and list(manifest["splits"]) == ["test"]
    written = _read_records(tmp_path / "out", "test", "float32")
    clips = np.load(arrays_found[0])
    for i in range(count):
        frames = int(written[f"clip{i}"]["frames"])
        np.testing.assert_array_equal(written[f"clip{i}"]["skeleton"].numpy(), clips[i][:, :frames])


def test_a_bad_clip_in_an_array_file_is_named_by_index_and_name(tmp_path):
    raw = tmp_path / "raw"
    raw.mkdir()
    data = np.ones((3, 3, 6, 25, 2), np.float32)
    data[1, 0, 2, 4, 0] = np.nan
    np.save(raw / "val_data_joint.npy", data)
    (raw / "val_label.pkl").write_bytes(pickle.dumps((["c0", "c1", "c2"], [0, 1, 2])))
    manifest = build.build(sources.NpySource(str(raw)), str(tmp_path / "out"), progress=False, log=lambda _: None)
    assert (manifest["written"], manifest["skipped"]) == (2, 1)
    assert (tmp_path / "out" / "skipped.txt").read_text().startswith(f"{raw}/val_data_joint.npy[1] (c1)\tnon-finite")


def test_custom_schema_build(tmp_path):
    raw = tmp_path / "mine"
    (raw / "clips").mkdir(parents=True)
    (raw / "layout.json").write_text(json.dumps({"joints": 17, "channels": 2, "class_names": ["wave", "kick"]}))
    rng = np.random.default_rng(2)
    np.save(raw / "clips" / "a.npy", rng.normal(size=(2, 9, 17, 1)))
    np.save(raw / "clips" / "b.npy", rng.normal(size=(2, 5, 17)))
    np.save(raw / "clips" / "c.npy", rng.normal(size=(3, 5, 17)))  # wrong channel count
    (raw / "samples.csv").write_text("name,label,split\na,0,train\nb,1,test\nc,1,train\nd,0,train\ne,7,train\n")
    np.save(raw / "clips" / "e.npy", rng.normal(size=(2, 5, 17)))
    manifest = build.build(sources.CustomSource(str(raw)), str(tmp_path / "out"), progress=False,
                           log=lambda _: None)
    assert manifest["written"] == 2 and manifest["skipped"] == 3
    assert manifest["layout"]["joints"] == 17
    skipped = (tmp_path / "out" / "skipped.txt").read_text()
    assert "is not (C=2, T, V=17, M)" in skipped and "cannot load" in skipped and "out of range" in skipped
    b = _read_records(tmp_path / "out", "test")["b"]["skeleton"].numpy()
    assert b.shape == (2, 5, 17, 2) and not b[..., 1].any()


def test_link_loops_are_not_followed_and_each_sample_name_is_written_once(tmp_path):
    raw = tmp_path / "raw"
    good = _write_ntu_dir(raw / "part1", np.random.default_rng(5))
    (raw / "part1" / "loop").symlink_to(raw, target_is_directory=True)  # raw/part1/loop/part1/loop/...
    (raw / "part2").mkdir()
    (raw / "part2" / f"{good[0]}.skeleton").write_bytes((raw / "part1" / f"{good[0]}.skeleton").read_bytes())
    os.mkfifo(raw / "part2" / "S001C001P001R003A001.skeleton")  # would hang a reader
    out, lines = tmp_path / "out", []
    manifest = _build_ntu(raw, out, lines)
    # part1's 15 files (9 good without an ignore list), the copy in part2 and the FIFO: each read once.
    assert manifest["read"] == 17 and manifest["written"] == 9, lines
    skipped = (out / "skipped.txt").read_text()
    assert f"sample name {good[0]} again (first at {raw / 'part1' / good[0]}.skeleton)" in skipped
    assert "S001C001P001R003A001.skeleton\tnot a regular file" in skipped
    assert "/loop/" not in skipped


def test_a_sample_listed_twice_in_samples_csv_is_written_once(tmp_path):
    raw = tmp_path / "mine"
    (raw / "clips").mkdir(parents=True)
    (raw / "layout.json").write_text(json.dumps({"joints": 5, "channels": 3, "class_names": ["wave", "kick"]}))
    np.save(raw / "clips" / "a.npy", np.ones((3, 4, 5, 1)))
    (raw / "samples.csv").write_text("name,label,split\na,0,train\na,1,test\n")
    manifest = build.build(sources.CustomSource(str(raw)), str(tmp_path / "out"), progress=False,
                           log=lambda _: None)
    assert (manifest["read"], manifest["written"], manifest["skipped"]) == (2, 1, 1)
    assert "sample name a again" in (tmp_path / "out" / "skipped.txt").read_text()


def test_bad_samples_csv_rows_are_skipped_naming_the_line_and_nothing_leaves_the_folders(tmp_path):
    raw = tmp_path / "data" / "mine"
    (raw / "clips").mkdir(parents=True)
    (raw / "layout.json").write_text(json.dumps({"joints": 5, "channels": 3, "class_names": ["wave", "kick"]}))
    np.save(raw / "clips" / "a.npy", np.ones((3, 4, 5, 1)))
    np.save(tmp_path / "data" / "x.npy", np.ones((3, 4, 5, 1)))  # outside raw_dir
    (raw / "samples.csv").write_text("name,label,split\na,0,train\n../x,0,train\n" + f"{tmp_path}/data/x,0,train\n"
                                     "a2,0,../../../escaped\nb,1\nc\nd,one,train\n")
    out = tmp_path / "records" / "out"
    manifest = build.build(sources.CustomSource(str(raw)), str(out), progress=False, log=lambda _: None)
    assert (manifest["read"], manifest["written"], manifest["skipped"]) == (7, 1, 6)
    skipped = (out / "skipped.txt").read_text()
    csv_path = raw / "samples.csv"
    for line, why in [(3, "name '../x' is not a plain file name"), (4, f"name '{tmp_path}/data/x' is not a plain file name"),
                      (5, "split '../../../escaped' must be a word"), (6, "no split"), (7, "no label, split"),
                      (8, "label must be an integer, got 'one'")]:
        assert f"{csv_path}:{line}\t{why}" in skipped
    assert sorted(p.name for p in tmp_path.rglob("*.tfrecord")) == ["train-00000-of-00001.tfrecord"]


def _cli(*args):
    return subprocess.run([sys.executable, "-m", "slnl_tf.data.build", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=300)


def test_cli_end_to_end_with_the_real_raw_files_and_ignore_list(tmp_path):
    raw = tmp_path / "raw"
    raw_files = _linked_real_files("ntu/raw/*.skeleton", raw)
    result = _cli("--dataset=ntu60", "--benchmark=ntu60_xview", f"--raw_dir={raw}", f"--out_dir={tmp_path}",
                  f"--ignore_list={SHARED_DATA / 'ntu' / 'ntu60_samples_with_missing_skeletons.txt'}",
                  f"--label_names={SHARED_DATA / 'ntu' / 'ntu120_label_names.txt'}", "--normalize")
    assert result.returncode == 0, result.stderr[-3000:]
    assert f"read {len(raw_files)} = written {len(raw_files)} + skipped 0" in result.stdout
    manifest = json.loads((tmp_path / "ntu60_xview" / "manifest.json").read_text())
    assert manifest["preprocessing"]["align_view"] and manifest["preprocessing"]["center"] == "every_frame"
    assert manifest["written"] == len(raw_files)
    assert len(manifest["class_names"]) == 60 and manifest["class_names"][0] == "drink water"


def test_cli_rejects_missing_directory_and_wrong_benchmark(tmp_path):
    result = _cli("--dataset=ntu60", f"--raw_dir={tmp_path / 'nowhere'}", f"--out_dir={tmp_path}")
    assert result.returncode != 0 and "is not a directory" in result.stderr
    result = _cli("--dataset=ntu60", "--benchmark=ntu120_xset", f"--raw_dir={tmp_path}", f"--out_dir={tmp_path}")
    assert result.returncode != 0 and "--benchmark for ntu60 must be one of" in result.stderr
    result = _cli("--dataset=imagenet", f"--raw_dir={tmp_path}", f"--out_dir={tmp_path}")
    assert result.returncode != 0 and "dataset" in result.stderr
    (tmp_path / "empty").mkdir()
    result = _cli("--dataset=ntu60", f"--raw_dir={tmp_path / 'empty'}", f"--out_dir={tmp_path / 'out'}")
    assert result.returncode != 0 and "no *.skeleton files under --raw_dir" in result.stderr
    assert "Traceback" not in result.stderr and not (tmp_path / "out" / "ntu60_xsub" / "manifest.json").exists()


def test_an_empty_input_or_one_where_every_clip_is_skipped_fails_naming_why(tmp_path):
    (tmp_path / "empty").mkdir()
    (tmp_path / "custom").mkdir()
    (tmp_path / "custom" / "layout.json").write_text(json.dumps({"joints": 3, "channels": 2, "class_names": ["a"]}))
    (tmp_path / "custom" / "samples.csv").write_text("name,label,split\n")
    for source, message in [(sources.NTUSource(str(tmp_path / "empty"), "ntu60_xsub"), "no *.skeleton files"),
                            (sources.SBUSource(str(tmp_path / "empty")), "no */*/*/skeleton_pos.txt"),
                            (sources.NWUCLASource(str(tmp_path / "empty")), "no aXX_sYY_eZZ_vWW.json"),
                            (sources.KineticsSource(str(tmp_path / "empty")), "no */*.json clips"),
                            (sources.CustomSource(str(tmp_path / "custom")), "samples.csv lists no clips")]:
        with pytest.raises(FileNotFoundError, match=message.replace("*", r"\*")):
            source.items()
    raw = tmp_path / "raw"
    raw.mkdir()
    (raw / "S001C001P001R001A001.skeleton").write_text("5\r\n1\r\n")
    ntu.write_skeleton_file(raw / "S018C001P050R001A070.skeleton", [[("1", np.ones((25, 3)))]])
    with pytest.raises(build.SampleError, match="all 2 inputs were skipped .*skipped.txt"):
        build.build(sources.NTUSource(str(raw), "ntu60_xsub"), str(tmp_path / "out"), progress=False,
                    log=lambda _: None)
    skipped = (tmp_path / "out" / "skipped.txt").read_text()
    assert "setup 18 is NTU-120 only" in skipped and "S001C001P001R001A001.skeleton" in skipped
    assert not (tmp_path / "out" / "manifest.json").exists()


def test_pyskl_build_with_split_prefix(tmp_path):
    rng = np.random.default_rng(3)
    annotations = [{"frame_dir": f"v{i}", "label": i % 3, "keypoint": rng.normal(size=(1, 6, 25, 3))}
                   for i in range(5)]
    annotations[4]["keypoint"] = np.full((1, 6, 25, 3), np.nan)
    split = {"xsub_train": ["v0", "v1", "v4"], "xsub_val": ["v2"], "xview_train": ["v3"]}
    with open(tmp_path / "anno.pkl", "wb") as f:
        pickle.dump({"split": split, "annotations": annotations}, f)
    manifest = build.build(sources.PysklSource(str(tmp_path / "anno.pkl"), "xsub"), str(tmp_path / "out"),
                           storage_dtype="float32", progress=False, log=lambda _: None)
    assert manifest["splits"]["train"]["written"] == 2 and manifest["splits"]["test"]["written"] == 1
    assert manifest["skipped"] == 2 and manifest["layout"]["joints"] == 25
    skipped = (tmp_path / "out" / "skipped.txt").read_text()
    assert "in no 'xsub*' split" in skipped and "non-finite" in skipped
    test = _read_records(tmp_path / "out", "test", "float32")["v2"]["skeleton"].numpy()
    np.testing.assert_allclose(test[..., 0], annotations[2]["keypoint"][0].transpose(2, 0, 1), rtol=1e-6)


def test_cli_rejects_missing_label_names_and_bad_layout(tmp_path):
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "layout.json").write_text("{not json")
    result = _cli("--dataset=custom", f"--raw_dir={tmp_path / 'mine'}", f"--out_dir={tmp_path}")
    assert result.returncode != 0 and "layout.json" in result.stderr and "Traceback" not in result.stderr
    result = _cli("--dataset=kinetics", f"--raw_dir={tmp_path}", f"--out_dir={tmp_path}",
                  f"--label_names={tmp_path / 'nowhere.txt'}")
    assert result.returncode != 0 and "--label_names" in result.stderr and "Traceback" not in result.stderr
