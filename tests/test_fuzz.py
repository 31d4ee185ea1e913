"""Fuzzing: real and generated files of every kind the readers take, damaged the ways files
get damaged (cut short, bytes flipped, tokens swapped, extreme numbers, wrong counts, other
encodings), through every reader, predict's file reader and the converter. Invariants: no
exception but SampleError, which names the file; what is read is finite and shaped as the
layout says; the converter writes or names every input (read = written + skipped) and a
rebuild writes the same records. Hypothesis draws the damage, derandomized so that CI sees
the same cases every run; `FUZZ_SCALE=20 pytest tests/test_fuzz.py` draws 20 times as many,
new ones each run, to look for more."""
import functools
import json
import os
import pickle
import re
import resource
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, settings, strategies as st

from slnl_tf.data import arrays, build, clip_files, custom, kinetics, ntu, nwucla, records, sbu, sources
from slnl_tf.data.sample import SampleError
from shared_data import real_files

SCALE = float(os.environ.get("FUZZ_SCALE", "1"))
SETTINGS = dict(database=None, derandomize=SCALE == 1, deadline=None, print_blob=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def examples(count):
    return max(1, round(count * SCALE))
EXTREME = [b"1e308", b"-1e308", b"3.5e38", b"1e39", b"nan", b"NaN", b"inf", b"-Infinity", b"1e-320", b"-0",
           b"99999999999999999999999", b"-1", b"0", b"3000000", b"", b"x", b"null", b"[]", b"{}", b'"a"']
TOKEN = re.compile(rb"[-+0-9.eE]+|[A-Za-z_]+")


def _mutate(data, draw):
    """`data` damaged one to three times, each a kind of damage drawn with its place."""
    data = bytearray(data)
    for _ in range(draw(st.integers(1, 3))):
        kind = draw(st.sampled_from(["truncate", "flip", "swap", "extreme", "count", "encoding"]))
        tokens = list(TOKEN.finditer(bytes(data)))
        if kind == "truncate":
            data = data[: draw(st.integers(0, max(0, len(data) - 1)))]
        elif kind == "flip" and data:
            for _ in range(draw(st.integers(1, 8))):
                data[draw(st.integers(0, len(data) - 1))] ^= draw(st.integers(1, 255))
        elif kind == "swap" and len(tokens) > 1:
            i, j = sorted(draw(st.lists(st.integers(0, len(tokens) - 1), min_size=2, max_size=2, unique=True)))
            a, b = tokens[i], tokens[j]
            data = data[: a.start()] + b.group() + data[a.end() : b.start()] + a.group() + data[b.end() :]
        elif kind in ("extreme", "count") and tokens:
            # "count": the first tokens of these formats are the counts (frames, bodies, joints).
            token = tokens[draw(st.integers(0, min(len(tokens), 12) - 1 if kind == "count" else len(tokens) - 1))]
            value = (draw(st.sampled_from(EXTREME)) if kind == "extreme" else
                     str(draw(st.integers(-2, 10**7))).encode())
            data = data[: token.start()] + value + data[token.end() :]
        elif kind == "encoding":
            way = draw(st.sampled_from(["utf-16", "bom", "latin-1", "invalid"]))
            if way == "utf-16":
                data = bytearray(bytes(data).decode("utf-8", "replace").encode("utf-16"))
            elif way == "bom":
                data = bytearray(b"\xef\xbb\xbf") + data
            else:
                at = draw(st.integers(0, len(data)))
                data = data[:at] + (b"\xe9" if way == "latin-1" else b"\xff\xfe\x80") + data[at:]
    return bytes(data)


class Seed:
    """A seed file's bytes, shown in a failing example's report by its size only."""

    def __init__(self, data):
        self.data = data

    def __repr__(self):
        return f"Seed({len(self.data)} bytes)"


def _smallest(pattern, count=2):
    return sorted(real_files(pattern), key=os.path.getsize)[:count]


# --- seeds: one generated file per kind, and the smallest real files of the kinds in ../shared/data

def _ntu_seed(directory):
    rng = np.random.default_rng(0)
    path = directory / "S001C001P001R001A001.skeleton"
    ntu.write_skeleton_file(path, [[("1", rng.normal(size=(25, 3)) + [0, 0, 3]),
                                    ("2", rng.normal(size=(25, 3)) + [1, 0, 3])] for _ in range(4)])
    return path.read_bytes()


def _kinetics_seed(_):
    rng = np.random.default_rng(1)
    frames = [{"frame_index": t + 1, "skeleton": [{"pose": rng.uniform(0, 1, 36).round(3).tolist(),
                                                   "score": rng.uniform(0.1, 1, 18).round(3).tolist()}]}
              for t in range(3)]
    return json.dumps({"data": frames, "label": "x", "label_index": 0}).encode()


def _nwucla_seed(_):
    rng = np.random.default_rng(2)
    return json.dumps({"file_name": "a01_s01_e00_v01", "skeletons": rng.normal(size=(3, 20, 3)).round(4).tolist(),
                       "label": 1}).encode()


def _sbu_seed(_):
    rng = np.random.default_rng(3)
    return "".join(",".join([str(t + 1)] + [f"{v:.4f}" for v in rng.uniform(0, 1, 90)]) + "\n"
                   for t in range(4)).encode()


KINDS = {
    # kind: (file name, generated seed, real seed pattern, reader of a path, layout (C, V) of what it reads)
    "ntu": ("S001C001P001R001A001.skeleton", _ntu_seed, "ntu/raw/*.skeleton", ntu.read_sample, (3, 25)),
    "ntu_format": ("S001C001P001R001A001.skeleton", _ntu_seed, "cwbg/*.skeleton", ntu.read_sample, (3, 25)),
    "kinetics": ("clip.json", _kinetics_seed, "kinetics/json/*.json",
                 lambda path: kinetics.read_sample(path, labelled=False), (3, 18)),
    "kinetics_labelled": ("clip.json", _kinetics_seed, "kinetics/json/*.json", kinetics.read_sample, (3, 18)),
    "nwucla": ("a01_s01_e00_v01.json", _nwucla_seed, "nwucla/**/*.json", nwucla.read_sample, (3, 20)),
    "sbu": ("s01s02/01/001/skeleton_pos.txt", _sbu_seed, "sbu/*/*/*/skeleton_pos.txt", sbu.read_sample, (3, 15)),
}


@functools.cache
def _seeds(kind):
    """The generated seed and the smallest real files of `kind` (bytes); a function, not a
    fixture, so that a failing example's report does not print them."""
    _, generate, pattern, _, _ = KINDS[kind]
    with tempfile.TemporaryDirectory() as directory:
        return [generate(Path(directory))] + [p.read_bytes() for p in _smallest(pattern)]


@pytest.fixture(autouse=True, scope="module")
def bounded_memory():
    """A damaged length field must fail as a named error, not allocate the machine's memory:
    the address space is capped at 4 GiB beyond this process's while these tests run, so
    such a case fails here with MemoryError instead of being killed."""
    with open("/proc/self/status") as f:
        size = next(int(line.split()[1]) * 1024 for line in f if line.startswith("VmSize:"))
    before = resource.getrlimit(resource.RLIMIT_AS)
    resource.setrlimit(resource.RLIMIT_AS, (size + 4 * 2**30, before[1]))
    yield
    resource.setrlimit(resource.RLIMIT_AS, before)


def _check_sample_or_named_error(read, path, layout):
    try:
        data = read(path)
    except SampleError as error:
        assert error.path.startswith(str(path)) and str(error).startswith(str(path))
        return "skipped"
    data = getattr(data, "data", data)
    assert data.dtype == np.float32 and data.ndim == 4 and data.shape[1] > 0
    assert (data.shape[0], data.shape[2]) == layout and np.isfinite(data).all()
    return "read"


@pytest.mark.parametrize("kind", sorted(KINDS))
@settings(max_examples=examples(60), **SETTINGS)
@given(data=st.data())
def test_every_reader_returns_a_finite_clip_or_names_the_file(kind, tmp_path_factory, data):
    name, _, _, read, layout = KINDS[kind]
    original = data.draw(st.sampled_from(_seeds(kind)).map(Seed), label="seed").data
    path = tmp_path_factory.getbasetemp() / f"reader-{kind}" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(_mutate(original, data.draw))
    event(_check_sample_or_named_error(read, path, layout))


PREDICT_SPECS = {"ntu": clip_files.default_spec(3, 25, 2), "ntu_format": clip_files.default_spec(3, 25, 2),
                 "kinetics": clip_files.default_spec(3, 18, 2), "nwucla": clip_files.default_spec(3, 20, 1),
                 "sbu": clip_files.default_spec(3, 15, 2)}


@pytest.mark.parametrize("kind", sorted(PREDICT_SPECS))
@settings(max_examples=examples(30), **SETTINGS)
@given(data=st.data())
def test_predict_reads_each_damaged_file_into_model_input_or_an_error_naming_it(kind, tmp_path_factory, data):
    name, _, _, _, (channels, joints) = KINDS[kind]
    original = data.draw(st.sampled_from(_seeds(kind)).map(Seed), label="seed").data
    path = tmp_path_factory.getbasetemp() / f"predict-{kind}" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(_mutate(original, data.draw))
    spec = PREDICT_SPECS[kind]
    (where, clip), = clip_files.read_clips(path, spec)
    assert where == str(path)
    if isinstance(clip, SampleError):
        assert clip.path == str(path)
    else:
        assert clip.dtype == np.float32 and clip.shape[1] > 0 and np.isfinite(clip).all()
        assert (clip.shape[0], clip.shape[2], clip.shape[3]) == (channels, joints, spec["layout"]["persons"])


def _npy_files(directory, rng):
    clips = rng.normal(size=(4, 3, 6, 25, 2)).astype(np.float32)
    clips[2, :, 4:] = 0  # padded frames
    np.save(directory / "train_data_joint.npy", clips)
    with open(directory / "train_label.pkl", "wb") as f:
        pickle.dump((["a.skeleton", "b.skeleton", "c.skeleton", "d.skeleton"], [0, 1, 2, 3]), f)
    annotations = [{"frame_dir": f"v{i}", "label": i, "keypoint": rng.normal(size=(1, 5, 17, 2)),
                    "keypoint_score": rng.uniform(size=(1, 5, 17))} for i in range(3)]
    with open(directory / "pyskl.pkl", "wb") as f:
        pickle.dump({"split": {"xsub_train": ["v0", "v1"], "xsub_val": ["v2"]}, "annotations": annotations}, f)


@settings(max_examples=examples(60), **SETTINGS)
@given(data=st.data(), target=st.sampled_from(["train_data_joint.npy", "train_label.pkl", "pyskl.pkl"]))
def test_array_and_pickle_readers_name_the_file_or_clip(tmp_path_factory, data, target):
    directory = tmp_path_factory.getbasetemp() / "arrays"
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir()
    _npy_files(directory, np.random.default_rng(4))
    path = directory / target
    path.write_bytes(_mutate(path.read_bytes(), data.draw))
    entries = []
    try:
        if target == "pyskl.pkl":
            entries = [entry for _, entry, _ in arrays.read_pyskl(str(path), 60)]
        else:
            names, labels = arrays.read_name_label_pkl(str(directory / "train_label.pkl"))
            entries = list(arrays.read_npy(str(directory / "train_data_joint.npy"), names, labels, 60))
    except SampleError as error:
        assert error.path.startswith(str(directory))
    for entry in entries:
        if isinstance(entry, SampleError):
            assert entry.path.startswith(str(directory))
        else:
            assert entry.data.dtype == np.float32 and entry.data.ndim == 4 and np.isfinite(entry.data).all()
    # predict's reader on the same array file
    for where, clip in clip_files.read_clips(directory / "train_data_joint.npy", clip_files.default_spec(3, 25, 2)):
        assert where.startswith(str(directory / "train_data_joint.npy"))
        assert isinstance(clip, SampleError) or np.isfinite(clip).all()


@settings(max_examples=examples(40), **SETTINGS)
@given(data=st.data(), target=st.sampled_from(["layout.json", "samples.csv", "clips/a.npy"]))
def test_own_data_files_name_the_file_or_row(tmp_path_factory, data, target):
    root = tmp_path_factory.getbasetemp() / "custom"
    shutil.rmtree(root, ignore_errors=True)
    (root / "clips").mkdir(parents=True)
    (root / "layout.json").write_text(json.dumps({"joints": 5, "channels": 2, "class_names": ["a", "b"]}))
    (root / "samples.csv").write_text("name,label,split\na,0,train\nb,1,test\n")
    for name in "ab":
        np.save(root / "clips" / f"{name}.npy", np.random.default_rng(5).normal(size=(2, 4, 5, 1)))
    (root / target).write_bytes(_mutate((root / target).read_bytes(), data.draw))
    source = sources.CustomSource(str(root))
    try:
        items, skips = source.items()
    except (SampleError, FileNotFoundError) as error:
        assert str(root) in str(error)
        return
    assert all(where.startswith(str(root / "samples.csv")) for where, _ in skips)
    for item in items:
        try:
            sample = source.read(item)
        except SampleError as error:
            assert error.path.startswith(str(root))
            continue
        assert sample.data.shape[:3:2] == (2, 5) and np.isfinite(sample.data).all()


def _records_of(out_dir):
    manifest = json.loads((out_dir / "manifest.json").read_text())
    return {shard: (out_dir / shard).read_bytes() for split in manifest["splits"].values()
            for shard in split["shards"]}


@settings(max_examples=examples(12), **SETTINGS)
@given(data=st.data())
def test_the_converter_writes_or_names_every_damaged_file_and_rebuilds_the_same_records(tmp_path_factory, data):
    root = tmp_path_factory.getbasetemp() / "convert"
    shutil.rmtree(root, ignore_errors=True)
    raw = root / "raw"
    raw.mkdir(parents=True)
    pool = _seeds("ntu") + _seeds("ntu_format")
    names = [f"S001C00{c}P00{p}R001A00{a}" for c, p, a in [(1, 1, 1), (2, 2, 2), (3, 3, 3), (1, 4, 4), (2, 5, 5)]]
    for index, name in enumerate(names):
        original = data.draw(st.sampled_from(pool).map(Seed), label="seed").data
        damaged = data.draw(st.booleans(), label=f"damage file {index}")
        (raw / f"{name}.skeleton").write_bytes(_mutate(original, data.draw) if damaged else original)
    logged = []
    out = {}
    for attempt in ("first", "again"):
        source = sources.NTUSource(str(raw), "ntu60_xsub", validation=True)
        try:
            manifest = build.build(source, str(root / attempt), files_per_shard=2, workers=1, progress=False,
                                   log=logged.append, preprocessing=build.choose_preprocessing("ntu_format", source.layout,
                                                                               normalize=True))
        except SampleError as error:
            assert "no clip was written" in str(error)
            skipped = (root / attempt / "skipped.txt").read_text().splitlines()
            assert len(skipped) == len(names)
            out[attempt] = None
            continue
        assert manifest["read"] == manifest["written"] + manifest["skipped"] == len(names)
        skipped = {line.split("\t")[0] for line in (root / attempt / "skipped.txt").read_text().splitlines()}
        written = set()
        for split in manifest["splits"]:
            for record in _parsed(root / attempt, manifest, split):
                written.add(record["name"])
                assert np.isfinite(record["skeleton"]).all()
        assert written | {os.path.basename(p).split(".")[0] for p in skipped} == set(names)
        assert not written & {os.path.basename(p).split(".")[0] for p in skipped}
        out[attempt] = _records_of(root / attempt)
    assert out["first"] == out["again"]


def _parsed(out_dir, manifest, split):
    import tensorflow as tf

    files = [str(out_dir / shard) for shard in manifest["splits"][split]["shards"]]
    for serialized in tf.data.TFRecordDataset(files):
        record = records.parse(serialized, manifest["storage_dtype"])
        yield {"name": record["name"].numpy().decode(), "skeleton": record["skeleton"].numpy()}
