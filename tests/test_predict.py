import base64
import http.server
import json
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from slnl_tf.data import clip_files, ntu, records, synthetic
from slnl_tf.data.sample import Sample
from slnl_tf import export, predict, serving_client
from slnl_tf.model import OUTPUTS, build_model
from shared_data import real_files
from tiny_config import TINY

ROOT = Path(__file__).resolve().parents[1]
NTU_NAMES = [f"ntu action {i}" for i in range(TINY.num_classes)]
NTU_MANIFEST = {"layout": {"channels": 3, "joints": 25, "persons": 2}, "class_names": NTU_NAMES,
                "options": {"body_selection": "denoise", "normalize": False}}


# Session-scoped, its tests in one xdist_group: one worker exports once (tests/conftest.py).
@pytest.fixture(scope="session")
def ntu_export(tmp_path_factory):
    root = tmp_path_factory.mktemp("ntu_export")
    model = build_model(TINY)
    export.export(model, TINY, str(root / "slnl" / "1"), class_names=NTU_NAMES,
                  input_spec=clip_files.input_spec(NTU_MANIFEST))
    return model, str(root / "slnl" / "1")


def _fused(model, clip, eval_crop_ratio=0.95):
    sampled = export.resample_batch(tf.constant(clip[None]), TINY.frames, eval_crop_ratio)
    logits = model(sampled, training=False)
    return np.mean([tf.nn.softmax(logits[name]).numpy()[0] for name in OUTPUTS], axis=0)


def _files(tmp_path):
    """Raw files the test writes: good ones and one of each kind of bad input."""
    good = []
    clips, _ = synthetic.make_clips(2, TINY.num_classes, frames=23, seed=3)
    for i, clip in enumerate(clips):
        path = tmp_path / f"my recording {i}.skeleton"  # not an NTU name: prediction needs none
        ntu.write_skeleton_file(path, [[(7, clip[:, t, :, 0].T)] for t in range(clip.shape[1])])
        good.append(path)
    np.save(tmp_path / "clip.npy", np.pad(clips[0], [(0, 0), (0, 5), (0, 0), (0, 0)]))  # zero-padded frames
    good.append(tmp_path / "clip.npy")
    bad = {}
    nan = clips[1].copy()
    nan[1, 4, 6, 0] = np.nan
    np.save(tmp_path / "nan.npy", nan)
    bad["nan.npy"] = "non-finite value"
    np.save(tmp_path / "zeros.npy", np.zeros((3, 10, 25, 2), np.float32))
    bad["zeros.npy"] = "zero frames"
    np.save(tmp_path / "joints18.npy", np.ones((3, 10, 18, 2), np.float32))
    bad["joints18.npy"] = "18 joints, but the model takes 25"
    (tmp_path / "empty.skeleton").write_text("0\r\n")
    bad["empty.skeleton"] = "zero frames"
    (tmp_path / "notes.md").write_text("x")
    bad["notes.md"] = "unknown clip kind"
    bad["missing.skeleton"] = "no such file"
    return good, {tmp_path / name: problem for name, problem in bad.items()}


@pytest.mark.xdist_group("ntu_export")
def test_predict_cli_classifies_real_and_written_files_and_names_each_bad_one(ntu_export, tmp_path):
    model, export_dir = ntu_export
    real = real_files("ntu/raw/*.skeleton") + real_files("ntu/*.npy")
    assert real, "../shared/data/ntu holds real clips"
    good, bad = _files(tmp_path)
    paths = [str(p) for p in real + good + list(bad)]
    result = subprocess.run([sys.executable, "-m", "slnl_tf.predict", f"--export_dir={export_dir}", "--json",
                             "--top_k=3", *paths], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 1, result.stderr[-2000:]  # some files are bad
    results = {r["file"]: r for r in json.loads(result.stdout)["results"]}
    real_npy_clips = sum(len(np.load(p, mmap_mode="r")) for p in real if p.suffix == ".npy")
    assert len(results) == len(real) - sum(p.suffix == ".npy" for p in real) + real_npy_clips + len(good) + len(bad)
    spec = clip_files.read_spec(export_dir)
    for path in real + good:
        for where, clip in clip_files.read_clips(path, spec):
            answer = results[where]
            assert "error" not in answer, answer
            assert [c["name"] for c in answer["top"]] == [NTU_NAMES[c["class"]] for c in answer["top"]]
            expected = _fused(model, clip)
            top = np.argsort(-expected, kind="stable")[:3]
            np.testing.assert_allclose([c["score"] for c in answer["top"]], expected[top], rtol=1e-4, atol=1e-6)
    for path, problem in bad.items():
        assert problem in results[str(path)]["error"], results[str(path)]
    # the zero-padded .npy was cut to its 23 valid frames, as the converter does
    assert results[str(tmp_path / "clip.npy")]["frames"] == 23


@pytest.mark.xdist_group("ntu_export")
def test_predict_cli_text_output_and_usage_errors(ntu_export, tmp_path):
    _, export_dir = ntu_export
    good, _ = _files(tmp_path)
    result = subprocess.run([sys.executable, "-m", "slnl_tf.predict", f"--export_dir={export_dir}", str(good[0])],
                            cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.startswith(f"{good[0]}: ntu action ") and result.stdout.count("(0.") == 4
    result = subprocess.run([sys.executable, "-m", "slnl_tf.predict", f"--export_dir={tmp_path}", str(good[0])],
                            cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode != 0 and "holds no saved_model.pb" in result.stderr


def test_predict_on_real_kinetics_json_with_a_kinetics_export(tmp_path):
    clips = real_files("kinetics/json/*.json")
    assert clips
    config = TINY.replace(joints=18)
    model = build_model(config)
    names = [f"kinetics class {i}" for i in range(config.num_classes)]
    manifest = {"layout": {"channels": 3, "joints": 18, "persons": 2, "channel_names": ["x", "y", "score"]},
                "class_names": names, "options": {}}
    export.export(model, config, str(tmp_path / "k" / "1"), class_names=names,
                  input_spec=clip_files.input_spec(manifest))
    predictor = predict.Predictor(str(tmp_path / "k" / "1"))
    results = predictor.classify([str(p) for p in clips], top_k=2)
    assert len(results) == len(clips)
    for path, result in zip(clips, results):
        assert "error" not in result, result
        clip = clip_files.read_clips(path, predictor.spec)[0][1]
        expected = _fused(model, clip)
        assert result["top"][0]["class"] == int(np.argmax(expected))
        assert result["top"][0]["name"] == names[result["top"][0]["class"]]
    # an NTU .skeleton file against the Kinetics model: a clear error naming the file
    ntu_file = real_files("ntu/raw/*.skeleton")[0]
    [bad] = predictor.classify([str(ntu_file)])
    assert bad["file"] == str(ntu_file) and "25 joints, but the model takes 18" in bad["error"]


@pytest.mark.xdist_group("ntu_export")
def test_an_export_without_its_spec_uses_the_readers_defaults(ntu_export, tmp_path):
    model, _ = ntu_export
    export_dir = tmp_path / "bare" / "1"
    export.export(model, TINY, str(export_dir))
    (export_dir / clip_files.SPEC_FILE).unlink()
    predictor = predict.Predictor(str(export_dir))
    assert predictor.spec["layout"] == {"channels": 3, "joints": 25, "persons": 2}
    [result] = predictor.classify([str(real_files("ntu/raw/*.skeleton")[0])])
    assert result["top"][0]["name"] is None and 0 <= result["top"][0]["class"] < TINY.num_classes


# --- the REST client, against the TF Serving REST API's documented predict format -----------

def _check_documented_body(body, signature):
    """The predict request body as TF Serving's REST API documents it (api_rest.md): an
    object with an optional `signature_name` string and exactly one of `instances` (row
    format) or `inputs` (columnar: an object of input name -> nested list), binary strings
    as `{"b64": ...}`. Returns the decoded inputs."""
    assert set(body) <= {"signature_name", "instances", "inputs"}
    assert ("instances" in body) != ("inputs" in body)
    assert isinstance(body.get("signature_name", "serving_default"), str)
    inputs = body["inputs"]
    assert isinstance(inputs, dict) and set(inputs) == set(signature.structured_input_signature[1])
    decoded = {}
    for name, spec in signature.structured_input_signature[1].items():
        if spec.dtype == tf.string:
            assert all(set(v) == {"b64"} for v in inputs[name])
            decoded[name] = tf.constant([base64.b64decode(v["b64"]) for v in inputs[name]])
        else:
            value = np.asarray(inputs[name])  # a ragged nested list would not become a float array
            assert value.dtype == np.float64 and value.ndim == len(spec.shape)
            decoded[name] = tf.constant(value, spec.dtype)
    return decoded


class _FakeServing(http.server.BaseHTTPRequestHandler):
    """Answers POST /v1/models/<model>:predict as TF Serving's REST API does, from the
    SavedModel: `{"outputs": {name: nested list}}` for a columnar request, `{"error": ...}`
    with HTTP 400 for a bad one."""

    loaded = None
    model = "slnl"

    def do_POST(self):
        if self.path != f"/v1/models/{self.model}:predict":
            return self._reply(404, {"error": f"Servable not found for request: {self.path}"})
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        signature = self.loaded.signatures[body.get("signature_name", "serving_default")]
        try:
            outputs = signature(**_check_documented_body(body, signature))
        except (tf.errors.InvalidArgumentError, ValueError, TypeError) as error:
            return self._reply(400, {"error": getattr(error, "message", str(error))})
        plain = {k: (v.numpy().astype(str) if v.dtype == tf.string else v.numpy()).tolist() for k, v in outputs.items()}
        self._reply(200, {"outputs": plain})

    def _reply(self, status, answer):
        data = json.dumps(answer).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


@pytest.fixture()
def server(ntu_export):
    _, export_dir = ntu_export
    _FakeServing.loaded = tf.saved_model.load(export_dir)
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _FakeServing)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


@pytest.mark.xdist_group("ntu_export")
def test_client_request_bodies_follow_the_documented_format(ntu_export):
    _, export_dir = ntu_export
    loaded = tf.saved_model.load(export_dir)
    clip = np.random.default_rng(0).normal(size=(3, 31, 25, 2)).astype(np.float32)
    body = json.loads(json.dumps(serving_client.clips_request(clip)))  # exactly what goes over the wire
    assert body["signature_name"] == "serving_default"
    decoded = _check_documented_body(body, loaded.signatures["serving_default"])
    np.testing.assert_array_equal(decoded["clips"].numpy(), clip[None])
    serialized = [records.serialize(Sample(clip, 1, "a"), "float32"), records.serialize(Sample(clip[:, :9], 2, "b"))]
    body = json.loads(json.dumps(serving_client.examples_request(serialized)))
    decoded = _check_documented_body(body, loaded.signatures["serve_examples"])
    assert decoded["examples"].numpy().tolist() == serialized
    with pytest.raises(ValueError, match="a clip is"):
        serving_client.clips_request(clip[0])


@pytest.mark.xdist_group("ntu_export")
def test_client_through_a_server_gives_the_local_prediction(ntu_export, server, tmp_path):
    _, export_dir = ntu_export
    good, bad = _files(tmp_path)
    paths = [str(p) for p in real_files("ntu/raw/*.skeleton")[:2] + good] + [str(tmp_path / "nan.npy")]
    spec = clip_files.read_spec(export_dir)
    remote = serving_client.classify(server, "slnl", paths, spec, top_k=3)
    local = predict.Predictor(export_dir).classify(paths, top_k=3)
    assert [r["file"] for r in remote] == [r["file"] for r in local]
    for a, b in zip(remote, local):
        if "error" in b:
            assert a["error"] == b["error"] and "non-finite" in a["error"]
            continue
        assert [c["class"] for c in a["top"]] == [c["class"] for c in b["top"]]
        np.testing.assert_allclose([c["score"] for c in a["top"]], [c["score"] for c in b["top"]], rtol=1e-5)
    # the server's own error message comes back: a wrong joint count, and an unknown model
    with pytest.raises(serving_client.ServingError, match=r"(?s)HTTP 400: .*expected shape \[\?,3,\?,25,2\]"):
        serving_client.post(server, "slnl", serving_client.clips_request(np.zeros((3, 5, 18, 2))))
    with pytest.raises(serving_client.ServingError, match="HTTP 404: Servable not found"):
        serving_client.post(server, "other", serving_client.clips_request(np.zeros((3, 5, 25, 2))))


class _NotServing(http.server.BaseHTTPRequestHandler):
    """A server that answers 200 with what TF Serving never sends."""

    replies = {"/v1/models/html:predict": b"<html>proxy login</html>",
               "/v1/models/empty:predict": b'{"outputs": {}}',
               "/v1/models/other:predict": b'{"outputs": {"scores": [[0.5, 0.5]]}}'}

    def do_POST(self):
        data = self.replies[self.path]
        self.send_response(200)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


def test_client_names_a_reply_that_is_not_a_prediction(tmp_path):
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _NotServing)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    server = f"http://127.0.0.1:{httpd.server_address[1]}"
    body = serving_client.clips_request(np.zeros((3, 5, 25, 2)))
    try:
        with pytest.raises(serving_client.ServingError, match="html:predict: the reply is not JSON .*proxy login"):
            serving_client.post(server, "html", body)
        with pytest.raises(serving_client.ServingError, match="empty:predict: reply without 'outputs'"):
            serving_client.post(server, "empty", body)
        with pytest.raises(serving_client.ServingError, match="no 'probabilities' of one clip .*'scores'"):
            serving_client.probabilities_of(serving_client.post(server, "other", body))
    finally:
        httpd.shutdown()


@pytest.mark.xdist_group("ntu_export")
def test_visualize_draws_every_frame_and_the_predictions_over_time(ntu_export, tmp_path):
    from PIL import Image

    from slnl_tf import visualize

    clip = synthetic.make_clips(1, TINY.num_classes, frames=23, seed=5)[0][0]
    path = tmp_path / "walk.skeleton"
    ntu.write_skeleton_file(path, [[(7, clip[:, t, :, 0].T)] for t in range(clip.shape[1])])
    read, name, _ = visualize.read_clip(path)
    assert read.shape == (3, 23, 25, 2) and name == "walk.skeleton"
    predictions = visualize.sliding_predictions(ntu_export[1], read, window=10, stride=5)
    assert [end for end, _ in predictions] == [10, 15, 20, 23]
    for _, top in predictions:
        scores = [score for _, score in top]
        assert {label for label, _ in top} <= set(NTU_NAMES) and scores == sorted(scores, reverse=True)
    assert visualize._prediction_at(predictions, 9) is None and visualize._prediction_at(predictions, 16) == \
        predictions[1][1]
    assert visualize.animate(read, str(tmp_path / "walk.gif"), name, predictions=predictions) == 23
    assert Image.open(tmp_path / "walk.gif").n_frames == 23
    result = subprocess.run([sys.executable, "-m", "slnl_tf.visualize", str(path), f"--out={tmp_path / 'cli.gif'}",
                             f"--export_dir={ntu_export[1]}", "--window=10", "--stride=5", "--every=2"],
                            cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert f"wrote {tmp_path / 'cli.gif'} (12 frames" in result.stdout and "frames to 23: ntu action" in result.stdout
    assert Image.open(tmp_path / "cli.gif").n_frames == 12
    np.save(tmp_path / "nobody.npy", np.zeros((3, 4, 25, 2), np.float32))
    result = subprocess.run([sys.executable, "-m", "slnl_tf.visualize", str(tmp_path / "nobody.npy")],
                            cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert result.returncode == 1 and "no person in the clip" in result.stderr


def test_each_layouts_bones_join_all_its_joints_into_one_tree():
    from slnl_tf.data import bones

    for joints in (25, 18, 20, 15):
        pairs = bones.BONES[joints]
        assert len(pairs) == joints - 1 and all(0 <= a < joints and 0 <= b < joints for a, b in pairs)
        reached, frontier = {0}, [0]
        while frontier:
            joint = frontier.pop()
            for a, b in pairs:
                for here, there in ((a, b), (b, a)):
                    if here == joint and there not in reached:
                        reached.add(there)
                        frontier.append(there)
        assert reached == set(range(joints)), joints
    assert len(bones.BONES[30]) == 28 and bones.bones_for(7, {"bones": [[0, 1]]}) == ((0, 1),)
    assert bones.bones_for(7) == ()
    with pytest.raises(ValueError, match=r"layout bones \[\(6, 7\)\] name joints outside 0-6"):
        bones.bones_for(7, {"bones": [[0, 1], [6, 7]]})
    with pytest.raises(ValueError, match="pairs of joint indices"):
        bones.bones_for(7, {"bones": [[0, "hip"]]})
