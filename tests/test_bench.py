import json
import subprocess
import sys
from pathlib import Path

import pytest

from shared_data import real_files

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))


@pytest.mark.slow
def test_bench_runs_every_figure_on_a_tiny_config(tmp_path):
    import measure

    # Keeps the benchmark command working; its figures on this tiny config mean nothing. One
    # SLnL block (--m1=1, all three non-local paths): each timed figure traces a model.
    out, md = tmp_path / "results.json", tmp_path / "RESULTS.md"
    md.write_text("# notes kept\n")
    result = subprocess.run(
        [sys.executable, "bench/run.py", "--quick", "--repeats=1", "--files=16", "--batch_size=4", "--frames=8",
         "--stage_filters=4,4,4,8,8,8", "--skeleton_joints=8", "--fc_units=8", "--m1=1", "--m2=5", "--train_jit=false",
         f"--out={out}", f"--results_md={md}"], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    results = json.loads(out.read_text())
    assert len(results["model_cost"]) > 10 and results["matmul_gflops"]["median"] > 0
    # MFU divides each training run by the higher of the matmul rates timed before and after it.
    training = results["training"]["jit_compile=false"]
    forward_gflops = results["model_cost"][0]["gflops_per_clip"]
    assert len(training["per_run"]) == training["runs"] == 1
    for run in training["per_run"]:
        assert run["matmul_gflops"] == max(run["matmul_gflops_before_after"]) > 0
        assert abs(run["mfu"] - run["samples_per_s"] * 3 * forward_gflops / run["matmul_gflops"]) < 1e-12
    assert training["mfu"] == training["mfu_runs"]["median"] > 0
    skipped = results["training_absent_persons_skipped"]
    assert 0 < skipped["present"] < skipped["slots"] == 8  # the synthetic batch has absent persons
    assert skipped["every person"]["median"] > 0 and skipped["absent persons skipped"]["median"] > 0
    # A training step's memory: weights, optimizer slots and the batch resident, the step's
    # activations on top; skipping absent persons keeps fewer.
    memory = training["memory"]
    assert memory["peak"] == memory["resident"] + memory["step"] and memory["resident"] > 0
    assert 0 < skipped["memory"]["step"] < memory["step"]
    assert results["memory_gbytes_per_s"]["median"] > 0 and results["model_cost"][0]["attention_weights_per_clip"] > 0
    limits = results["training_limits_samples_per_s"]
    assert 0 < limits["both_in_turn"] < min(limits["compute"], limits["score_traffic"])
    assert results["input_samples_per_s"]["median"] > 0
    fed = results["fed_training_samples_per_s"]
    assert fed["fed"]["median"] > 0 and fed["resident"]["median"] > 0 and fed["fed_vs_resident"]["median"] > 0
    assert fed["jit_compile"] is False  # the project's default on a machine without a GPU
    assert fed["skip_absent_persons"] is True  # likewise (--skip_absent_persons=auto)
    # The converter's rate once its workers run (from the shards' receipts) is at least its
    # whole-run rate, and the extrapolation adds the start once.
    conversion = results["conversion_files_per_s"]
    assert conversion["median"] >= conversion["whole_run_files_per_s"]["median"] > 0
    assert conversion["start_s"]["median"] >= 0
    assert conversion["ntu60_minutes"] * 60 >= measure.NTU60_FILES / conversion["median"]
    assert set(results["serving_ms"]) == {
        "batch=1, 2 of 2 persons", "batch=1, 2 of 2 persons, inter_op=2 intra_op=1", "batch=1, 1 of 2 persons",
        "batch=1, 1 of 2 persons, inter_op=2 intra_op=1", "batch=64, 2 of 2 persons",
        "batch=64, 1 of 2 persons"}
    # A serving call's memory grows with its batch.
    serving_memory = {name: figure["memory"]["step"] for name, figure in results["serving_ms"].items()}
    for persons in ("1 of 2 persons", "2 of 2 persons"):
        assert 0 < serving_memory[f"batch=1, {persons}"] < serving_memory[f"batch=64, {persons}"]
    assert results["softmax_gelements_per_s"]["median"] > 0
    floor = results["serving_floor_ms_batch1"]
    assert floor["matmuls"] > 0 and floor["softmax"] > 0 and floor["total"] == floor["matmuls"] + floor["softmax"]
    assert [row["layer"].split(" (")[0] for row in results["layer_profile_ms"]] == [
        "local conv 1x1", "non-local time", "non-local space", "non-local spacetime", "frequency attention"]
    assert [name.split(", ")[-1] for name in results["attention_gradient_ms"]] == [
        "autodiff gradient", "written-out gradient"]
    # CI has ../shared beside the checkout: the conversion and input figures use its real raw files.
    real = real_files("ntu/raw/*.skeleton")
    assert results["raw_files"] == (f"copies of {len(real)} real NTU files" if real else
                                    "synthetic NTU-format files, 70-130 frames")
    # The machine as the kernels TensorFlow picks depend on it, and every goal judged or said why not.
    assert set(results["machine"]["cpu_features"]) <= set(measure.CPU_FEATURES)
    assert results["machine"]["onednn"] in (True, False)
    judged = {row["goal"]: row["met"] for row in results["goals"]}
    assert len(judged) == 8 and judged["training with XLA faster than graph mode"] is None  # --train_jit=false
    assert all(met in (True, False) for goal, met in judged.items() if goal.startswith(("NTU-60", "serving")))
    text = md.read_text()
    tag = measure.table_tag(results["machine"])  # cpu, or cpu-avx2 on an AVX2-only CPU
    assert text.startswith("# notes kept") and f"<!-- BEGIN generated {tag} -->" in text
    assert "| goal (issue 6) | this run | verdict |" in text and ", oneDNN o" in text
    assert "| serving batch=1, 1 of 2 persons | p50 " in text and "; a call's peak " in text
    assert "| serving floor, batch 1:" in text
    assert "every person vs absent persons skipped (in turn)" in text
    assert "| training memory, jit_compile=false (allocator, one step) |" in text


@pytest.mark.slow
def test_bench_runs_the_gpu_command_path_on_a_tiny_config(tmp_path):
    # RESULTS.md's GPU command: bf16 mixed precision, MFU against the bf16 matmul rate. Run
    # here on CPU so that a lent GPU does not find it broken; with XLA only, as the test
    # above times training without it (the same function; the model under bf16 without XLA,
    # absent persons skipped too: tests/test_present_persons.py). A partial run leaves the
    # kept table as it is by default (no --results_md here).
    out, kept = tmp_path / "results.json", ROOT / "bench" / "RESULTS.md"
    before = kept.read_bytes()
    try:
        result = subprocess.run(
            [sys.executable, "bench/run.py", "--quick", "--repeats=1", "--batch_size=4", "--frames=8",
             "--stage_filters=4,4,4,8,8,8", "--skeleton_joints=8", "--fc_units=8", "--m1=1", "--m2=5", "--only=train",
             "--train_jit=true", "--mixed_precision=mixed_bfloat16", f"--out={out}"],
            cwd=ROOT, capture_output=True, text=True, timeout=600)
        assert result.returncode == 0, result.stderr[-3000:]
        assert kept.read_bytes() == before
        assert "a partial run (--only=train, --quick) leaves" in result.stdout
    finally:
        kept.write_bytes(before)
    results = json.loads(out.read_text())
    assert results["matmul_gflops_mixed"]["dtype"] == "bfloat16"
    assert set(results["training"]) == {"jit_compile=true"}
    assert results["training"]["jit_compile=true"]["mfu"] > 0


STEP_MEMORY_SCRIPT = """
import json
import slnl_tf  # before TensorFlow: its allocator settings
import measure
import tensorflow as tf

kept = tf.ones((256, 1024))  # 1 MiB held across the step

def step():
    doubled = tf.ones((1024, 1024)) * 2.0  # 4 MiB, and 4 more unless the product reuses the buffer
    assert float(tf.reduce_sum(doubled)) == 2 * 1024 * 1024

print(json.dumps([measure.step_memory(step, "/CPU:0"), measure.step_memory(lambda: None, "/CPU:0")]))
"""


def test_step_memory_counts_what_a_step_allocates():
    # In a fresh process: in a test worker, tf.data iterators that earlier tests left alive
    # may allocate on the CPU while the step runs.
    result = subprocess.run([sys.executable, "-c", STEP_MEMORY_SCRIPT], cwd=ROOT / "bench", capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    memory, nothing = json.loads(result.stdout.splitlines()[-1])
    assert memory["resident"] >= 2**20
    assert 4 * 2**20 <= memory["step"] <= 9 * 2**20
    assert memory["peak"] == memory["resident"] + memory["step"]
    assert nothing["step"] == 0 and nothing["peak"] == nothing["resident"]


def test_each_kind_of_machine_has_its_own_table():
    import measure

    assert measure.table_tag({"gpus": ["NVIDIA H100"], "cpu_features": ["avx", "avx2", "fma"]}) == "gpu"
    assert measure.table_tag({"gpus": [], "cpu_features": ["avx", "avx2", "fma"]}) == "cpu-avx2"
    assert measure.table_tag({"gpus": [], "cpu_features": ["avx", "avx2", "fma", "avx512f", "avx512_bf16"]}) == "cpu"
    assert measure.table_tag({"gpus": []}) == measure.table_tag({"gpus": [], "cpu_features": []}) == "cpu"
    # The saved runs are in the files their machines' runs write by default.
    for path in (ROOT / "bench").glob("results-*.json"):
        assert path.name == f"results-{measure.table_tag(json.loads(path.read_text())['machine'])}.json"


def test_benchmark_raw_files_parse_and_cover_the_splits(tmp_path):
    import measure

    from slnl_tf.data import ntu, splits

    measure.write_raw_files(tmp_path / "synthetic", 3)
    real = real_files("ntu/raw/*.skeleton")
    if real:
        measure.copy_raw_files(real, tmp_path / "copies", 2 * len(real))
        copies = sorted((tmp_path / "copies").iterdir())
        assert len(copies) == 2 * len(real)
        for copy, source in zip(copies, real + real):
            assert copy.read_bytes() == source.read_bytes()
    names = [measure.raw_file_name(i) for i in range(600)]
    assert len(set(names)) == 600
    for benchmark in ("ntu60_xsub", "ntu60_xview"):
        assert {splits.split_of(benchmark, ntu.parse_name(name.split(".")[0])) for name in names} == {"train", "test"}
    for path in sorted((tmp_path / "synthetic").iterdir()):
        assert ntu.read_sample(path).data.shape[0] == 3


def test_training_rate_limits():
    import measure

    # 1 GFLOP forward at 300 GFLOP/s: 100 samples/s; 25 M weights x passes x 4 B at 50 GB/s.
    limits = measure.training_rate_limits(1.0, 25e6, 300.0, 50.0, 4)
    assert limits["compute"] == 100.0
    assert limits["score_gbytes_per_clip"] == 25e6 * measure.SCORE_PASSES_PER_STEP * 4 / 1e9
    assert abs(limits["score_traffic"] - 50.0 / limits["score_gbytes_per_clip"]) < 1e-9
    assert abs(1 / limits["both_in_turn"] - (1 / 100.0 + 1 / limits["score_traffic"])) < 1e-12
    assert measure.training_rate_limits(1.0, 0, 300.0, 50.0, 4)["both_in_turn"] == 100.0


def test_serving_floor():
    import measure

    # 2 GFLOPs at 400 GFLOP/s: 5 ms per clip; 10 M weights at 4 G elements/s: 2.5 ms per clip.
    floor = measure.serving_floor_ms(2.0, 10e6, 2, 400.0, 4.0)
    assert abs(floor["matmuls"] - 10.0) < 1e-9 and abs(floor["softmax"] - 5.0) < 1e-9
    assert abs(floor["total"] - 15.0) < 1e-9
    assert measure.serving_floor_ms(2.0, 0, 1, 400.0, 4.0)["softmax"] == 0


def _results(**parts):
    """A results dict as bench/run.py saves it, with the given figures."""
    results = {"machine": {"gpus": [], "cpu_cores": 2, "cpu": "test CPU", "tensorflow": "2.21.0"},
               "config": {"frames": 64}}
    results.update(parts)
    return results


def _figure(median):
    return {"median": median, "min": median, "max": median, "runs": 1}


def test_goals_are_judged_from_the_figures_of_a_run():
    import goals

    serving = {"batch=1, 2 of 2 persons": {"p50": _figure(9.0)},
               "batch=1, 2 of 2 persons, inter_op=2 intra_op=1": {"p50": _figure(6.0)},
               "batch=1, 1 of 2 persons": {"p50": _figure(5.0)},
               "batch=1, 1 of 2 persons, inter_op=2 intra_op=1": {"p50": _figure(4.9)},
               "batch=64, 1 of 2 persons": {"p50": _figure(1.0)}}  # batch 64 has no goal
    results = _results(
        training={"jit_compile=false": dict(_figure(30.0), mfu=0.39),
                  "jit_compile=true": dict(_figure(31.0), mfu=0.41)},
        input_samples_per_s=dict(_figure(300.0), vs_fastest_training=300.0 / 31.0),
        fed_training_samples_per_s={"fed": _figure(29.0), "resident": _figure(30.0), "fed_vs_resident": _figure(0.96)},
        conversion_files_per_s=dict(_figure(100.0), workers=2, ntu60_minutes=9.9), serving_ms=serving)
    rows = goals.check(results)
    assert [row["met"] for row in rows] == [True, True, False, True, True, True, False, None]
    assert rows[0]["measured"] == "41.0 % (jit_compile=true)"  # the better of the two settings
    assert rows[5]["measured"] == "4.9 ms (inter_op=2 intra_op=1)"  # 1 of 2 persons, the best setting
    assert rows[6]["measured"] == "6.0 ms (inter_op=2 intra_op=1)"
    assert rows[7]["measured"] == "not measured (no GPU)"
    # Each verdict turns with its figure.
    results["training"]["jit_compile=true"].update(median=29.0, mfu=0.38)
    results["input_samples_per_s"]["vs_fastest_training"] = 10.5
    results["fed_training_samples_per_s"]["fed_vs_resident"] = _figure(0.94)
    results["conversion_files_per_s"]["ntu60_minutes"] = 10.0
    serving["batch=1, 1 of 2 persons, inter_op=2 intra_op=1"]["p50"] = _figure(5.0)
    serving["batch=1, 2 of 2 persons, inter_op=2 intra_op=1"]["p50"] = _figure(4.0)
    assert [row["met"] for row in goals.check(results)] == [False, False, True, False, False, False, True, None]
    table = goals.markdown(goals.check(results))
    assert table.splitlines()[0] == "| goal (issue 6) | this run | verdict |"
    assert "| NTU-60 conversion < 10 min | 10.0 min (100 files/s on 2 workers) | not met |" in table


def test_goals_not_measured_are_not_judged():
    import goals

    # A partial run (--only=train --train_jit=false), and one whose XLA run failed.
    for training in ({"jit_compile=false": dict(_figure(30.0), mfu=0.5)},
                     {"jit_compile=false": dict(_figure(30.0), mfu=0.5), "jit_compile=true": {"error": "OOM"}}):
        rows = goals.check(_results(training=training))
        assert [row["met"] for row in rows] == [True, None, None, None, None, None, None]
        assert rows[1]["measured"] == "not measured (needs both --train_jit settings)"
    assert all(row["met"] is None for row in goals.check(_results()))


def test_the_gpu_goal_is_judged_on_an_h100_at_64_frames():
    import goals

    training = {"jit_compile=true": dict(_figure(21000.0), mfu=0.3)}
    on = {gpu: goals.check(_results(machine={"gpus": [gpu]}, training=training))[-1]
          for gpu in ("NVIDIA H100 80GB HBM3", "NVIDIA H200")}
    assert on["NVIDIA H100 80GB HBM3"]["met"] is True
    assert on["NVIDIA H200"]["met"] is None and on["NVIDIA H200"]["measured"] == (
        "21000 samples/s (jit_compile=true) on NVIDIA H200")
    slower = goals.check(_results(machine={"gpus": ["NVIDIA H100 PCIe"]},
                                  training={"jit_compile=true": dict(_figure(19000.0), mfu=0.3)}))[-1]
    assert slower["met"] is False
    shorter = goals.check(_results(machine={"gpus": ["NVIDIA H100 PCIe"]}, config={"frames": 32},
                                   training=training))[-1]
    assert shorter == {"goal": "training >= 20k samples/s at T=64 on an H100",
                       "measured": "not measured (training at T=32)", "met": None}


def test_a_saved_run_renders_again_with_its_goals(tmp_path):
    # Each saved run in bench/ (the ones RESULTS.md's tables come from) renders, goals included.
    md = tmp_path / "RESULTS.md"
    md.write_text("# notes kept\n\n<!-- BEGIN generated cpu-old -->\nold\n<!-- END generated cpu-old -->\n\ntail\n")
    saved = sorted((ROOT / "bench").glob("results-*.json"))
    assert saved
    for path in saved:
        result = subprocess.run([sys.executable, "bench/run.py", f"--from_json={path}", f"--results_md={md}",
                                 "--table_tag=cpu-old"], cwd=ROOT, capture_output=True, text=True, timeout=300)
        assert result.returncode == 0, result.stderr[-3000:]
        results = json.loads(path.read_text())
        text = md.read_text()
        assert text.startswith("# notes kept") and text.endswith("\n\ntail\n") and "\nold\n" not in text
        assert f"Measured {results['date']} by `python bench/run.py`" in text
        assert "| goal (issue 6) | this run | verdict |" in text and "| serving batch=1, 1 of 2 persons |" in text
        assert "goal: NTU-60 conversion < 10 min:" in result.stdout
    broken = tmp_path / "broken.json"
    broken.write_text('{"machine": ')
    result = subprocess.run([sys.executable, "bench/run.py", f"--from_json={broken}"], cwd=ROOT, capture_output=True,
                            text=True, timeout=300)
    assert result.returncode != 0 and f"--from_json: cannot read {broken}" in result.stderr


def test_accuracy_row_states_mean_spread_heads_and_time():
    import accuracy

    def run(fused, seconds):
        return {"test_top1": {"position": 0.5, "velocity": 0.6, "concat": 0.7, "fused": fused},
                "seconds": seconds, "train_concat_top1": 0.99}

    summaries = {"slnl": accuracy.summarize([run(0.9, 60), run(1.0, 180)]),
                 "baseline": accuracy.summarize([run(0.8, 60)])}
    assert summaries["slnl"]["fused"] == {"mean": 0.95, "min": 0.9, "max": 1.0}
    assert summaries["slnl"]["minutes"] == {"mean": 2.0, "max": 3.0}
    row = accuracy.table_row("sbu", summaries, 2, 200)
    assert row.startswith("| sbu | 5-fold cross-validation, 2 runs, 200 epochs, `configs/sbu.flags` |")
    assert "**95.0 (90.0-100.0)** (p 50.0, v 60.0, c 70.0); 2 min a run" in row
    assert "**80.0 (80.0-80.0)**" in row and row.endswith("| HCN 98.6, VA-LSTM 97.2, ST-LSTM 93.3 |")
    changed = accuracy.table_row("cwbg", summaries, 2, 150, ["--eval_mirror"])
    assert "150 epochs, `configs/cwbg.flags --eval_mirror` |" in changed


def _accuracy_runs(fused_by_key):
    return [{"benchmark": benchmark, "seed": seed, "seconds": 60, "epochs": 200, "train_concat_top1": 1.0,
             "test_top1": {"position": 0.5, "velocity": 0.5, "concat": 0.5, "fused": fused}}
            for (benchmark, seed), fused in fused_by_key.items()]


def test_accuracy_comparison_pairs_runs_by_split_and_seed_and_tests_the_sign_flips():
    import accuracy

    keys = [(f"sbu_fold{fold}", seed) for fold in range(1, 4) for seed in range(2)]
    # Folds of very different difficulty, SLnL-rFA always 1 point ahead: paired, that is all 6
    # signs positive, which 2 of the 2^6 sign flips match in size (p = 1/32).
    baseline = {key: 0.6 + 0.1 * index for index, key in enumerate(keys)}
    ahead = accuracy.compare(_accuracy_runs({key: value + 0.01 for key, value in baseline.items()}),
                             _accuracy_runs(baseline))
    assert ahead["pairs"] == 6 and ahead["ahead"] == 6 and ahead["behind"] == 0
    assert ahead["mean_difference"] == pytest.approx(1.0) and ahead["standard_error"] == pytest.approx(0.0, abs=1e-9)
    assert ahead["p_value"] == pytest.approx(2 / 64) and ahead["verdict"] == "SLnL-rFA leads"
    behind = accuracy.compare(_accuracy_runs({key: value - 0.01 for key, value in baseline.items()}),
                              _accuracy_runs(baseline))
    assert behind["p_value"] == pytest.approx(2 / 64) and behind["verdict"] == "the baseline leads"
    # Five pairs cannot reach p < 0.05 (at best 2/32), and mixed signs are no difference.
    five = dict(list(baseline.items())[:5])
    assert accuracy.compare(_accuracy_runs({k: v + 0.01 for k, v in five.items()}), _accuracy_runs(five))[
        "p_value"] == pytest.approx(2 / 32)
    mixed = accuracy.compare(_accuracy_runs({keys[0]: 0.62, keys[1]: 0.69, keys[2]: 0.83}),
                             _accuracy_runs({keys[0]: 0.60, keys[1]: 0.70, keys[2]: 0.80}))
    # Differences 2, -1, 3: standard deviation sqrt(13/3); the flips of sum 6, 4, -4, -6 are as extreme.
    assert mixed["mean_difference"] == pytest.approx(4 / 3) and mixed["standard_error"] == pytest.approx(13**0.5 / 3)
    assert mixed["p_value"] == pytest.approx(4 / 8) and mixed["verdict"] == "no measurable difference"
    assert "+1.3 points" in accuracy.comparison_line(mixed) and "p = 0.500" in accuracy.comparison_line(mixed)
    # More than 16 pairs: random flips, all 20 positive still far below 0.05.
    many = {("cwbg_xsub", seed): 0.65 for seed in range(20)}
    assert accuracy.compare(_accuracy_runs({k: v + 0.01 for k, v in many.items()}), _accuracy_runs(many))[
        "p_value"] < 0.001
    with pytest.raises(ValueError, match="different"):
        accuracy.compare(_accuracy_runs({keys[0]: 0.6}), _accuracy_runs({keys[1]: 0.6}))


def test_accuracy_from_json_merges_records_into_one_row(tmp_path, capsys):
    import accuracy
    from absl import app

    def record(path, seeds, recipe="sbu"):
        keys = [(f"sbu_fold{fold}", seed) for fold in range(1, 6) for seed in seeds]
        runs = {"slnl": _accuracy_runs({key: 0.98 for key in keys}),
                "baseline": _accuracy_runs({key: 0.96 for key in keys})}
        path.write_text(json.dumps({"recipe": recipe, "runs": runs}))
        return str(path)

    first, second = record(tmp_path / "a.json", [0, 1]), record(tmp_path / "b.json", [2])
    merged = accuracy.saved_results([second, first])
    assert [(run["benchmark"], run["seed"]) for run in merged["runs"]["slnl"]][:4] == [
        ("sbu_fold1", 0), ("sbu_fold1", 1), ("sbu_fold1", 2), ("sbu_fold2", 0)]
    out = tmp_path / "merged.json"
    accuracy.report(merged, str(out))
    printed = capsys.readouterr().out
    assert "15 runs" in printed and "15 runs paired by split and seed: +2.0 points" in printed
    assert "SLnL-rFA leads" in printed
    written = json.loads(out.read_text())
    assert written["comparison"]["pairs"] == 15 and len(written["runs"]["baseline"]) == 15
    with pytest.raises(app.UsageError, match="repeats slnl runs"):
        accuracy.saved_results([first, first])
    with pytest.raises(app.UsageError, match="another recipe"):
        accuracy.saved_results([first, record(tmp_path / "c.json", [3], recipe="cwbg")])
    (tmp_path / "d.json").write_text('{"machine": "x"}')
    with pytest.raises(app.UsageError, match="not a record of bench/accuracy.py"):
        accuracy.saved_results([str(tmp_path / "d.json")])


def test_accuracy_figures_of_a_changed_recipe_stay_in_its_work_dir(tmp_path):
    import accuracy

    # The recipe as it is rewrites the README row's record; a variant must not.
    assert accuracy.default_out("cwbg", str(tmp_path), changed=False) == str(ROOT / "bench" / "accuracy-cwbg.json")
    assert accuracy.default_out("cwbg", str(tmp_path), changed=True) == str(tmp_path / "accuracy-cwbg.json")


def test_accuracy_reuses_a_finished_run_only_for_the_same_command_and_flagfile(tmp_path, monkeypatch):
    import accuracy

    stored = {"test_top1": {"position": 0.5, "velocity": 0.6, "concat": 0.7, "fused": 0.8}, "seconds": 60}
    model_dir = tmp_path / "slnl-sbu_fold1-seed0"
    model_dir.mkdir()
    command = ["train_main.py", "--flagfile=configs/sbu.flags", "--data_dir=d", f"--model_dir={model_dir}", "--seed=0"]
    flagfile = (ROOT / "configs" / "sbu.flags").read_text()
    (model_dir / "accuracy-run.json").write_text(json.dumps({"command": command, "flagfile": flagfile,
                                                             "run": stored}))
    started = []
    monkeypatch.setattr(accuracy.subprocess, "run", lambda *args, **kwargs: started.append(args) or
                        subprocess.CompletedProcess(args, 1, "", "stopped by the test"))
    assert accuracy.train_once("sbu", "d", str(model_dir), 0, [], log=lambda line: None) == stored
    assert not started
    # Another seed is another command: it trains (here the stand-in fails, as a broken run would).
    with pytest.raises(SystemExit, match="training failed"):
        accuracy.train_once("sbu", "d", str(model_dir), 1, [], log=lambda line: None)
    assert len(started) == 1
    # The same command after the recipe's flagfile changed: it trains again.
    model_dir.mkdir()
    (model_dir / "accuracy-run.json").write_text(json.dumps({"command": command, "flagfile": flagfile + "--epochs=1\n",
                                                             "run": stored}))
    with pytest.raises(SystemExit, match="training failed"):
        accuracy.train_once("sbu", "d", str(model_dir), 0, [], log=lambda line: None)
    assert len(started) == 2
