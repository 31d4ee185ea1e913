"""All benchmarks in one command: prints the figures; a full run (every figure, not --quick)
also writes bench/results-<cpu|cpu-avx2|gpu>.json and the machine's table in bench/RESULTS.md.

    python bench/run.py                      # everything, NTU-60 config, batch 64, T=64 (~15 min on 2 cores)
    python bench/run.py --quick              # fewer runs and files, for a first look
    python bench/run.py --only=train,serving --train_jit=false
    python bench/run.py --flagfile=configs/demo.flags --only=train --batch_size=32   # another config
    python bench/run.py --mixed_precision=mixed_bfloat16 --batch_size=512            # on a GPU

Figures (each the median, min and max over --repeats timed runs after a warm-up; the
training (per XLA setting), layer, input and serving figures each in a fresh Python process,
with --quick one per serving thread setting and 3 chained matmuls per matmul-rate run
instead of 10; the serving figures all load one export):
1. model cost: parameters and forward GFLOPs per clip (a multiply-add counts 2 FLOPs; FFT
   5 N log2 N) of the config and every ablation variant (in the JSON; `slnl-summary --all_variants` prints them);
2. machine limits: float32 matmul GFLOP/s (chained 2048 x 2048 matmuls) with this
   TensorFlow, memory GB/s (a float32 elementwise op over 512 MB), and the softmax rate
   (G elements/s, rows of 512: its exponentials are work the FLOP count leaves out);
3. training rate: samples/s of full steps with and without jit_compile, and model-FLOP
   utilisation = samples/s x 3 x forward FLOPs (backward ~ 2 x forward) / matmul rate, per
   timed run against the higher of the matmul rates timed just before and after it in the
   same process (with --mixed_precision, in that precision); and the rates the two limits
   allow: all FLOPs at the matmul rate, and the attention score tensors' passes
   (measure.SCORE_PASSES_PER_STEP per weight) at the memory bandwidth;
   and, without XLA, the step with every person slot computed against the step of the
   model built with skip_absent_persons, in turn, on the same batch; and the memory of one
   step of each (measure.step_memory: the allocator's peak, what was resident before it, and
   the difference per clip: what picks the batch size a device can hold);
4. input rate: the tf.data training input alone from sharded records, vs the training rate,
   and training fed by that input against training on the same batches from a cache, in
   turn (the input bounds the step where their ratio falls below 1);
5. conversion rate: raw NTU .skeleton files/s, extrapolated to NTU-60 and NTU-120 (copies
   of the real files in ../shared/data/ntu/raw when present, else synthetic files);
6. serving latency: p50 / p99 of the exported SavedModel at batch 1 (TensorFlow's default
   threads, and 2 inter-op / 1 intra-op threads) and at batch 64, and the memory of one
   call above what the loaded model keeps resident; and the batch-1 floor,
   the FLOPs at the matmul rate plus the attention weights at the softmax rate;
and a profile: forward + backward time of each piece of the first SLnL stage alone, and of
the spacetime attention core with autodiff's and with the written-out softmax gradient.
Last, each of the benchmark issue's goals against the figures measured (bench/goals.py).

    python bench/run.py --from_json=bench/results-cpu.json   # a saved run's tables again, nothing timed
"""
import glob
import json
import os
import re
import shutil
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from absl import app, flags  # noqa: E402

import goals  # noqa: E402
import measure  # noqa: E402
from slnl_tf import flags as project_flags  # noqa: E402

project_flags.define_training_flags()  # so that a training flagfile (--flagfile=configs/demo.flags) parses
STAGES = ("cost", "matmul", "train", "layers", "input", "conversion", "serving")
flags.DEFINE_list("only", list(STAGES), f"which figures: {','.join(STAGES)}")
flags.DEFINE_bool("quick", False, "fewer steps, calls and files; the serving cases of one thread setting in one "
                  "process")
flags.DEFINE_integer("repeats", 3, "timed runs per figure")
flags.DEFINE_list("train_jit", ["false", "true"], "jit_compile settings to time")
flags.DEFINE_integer("files", 600, "raw files for the conversion and input figures")
SHARED_RAW = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "..", "shared", "data", "ntu",
                          "raw")
flags.DEFINE_string("raw_from", "auto", "raw files for the conversion and input figures: a directory of real NTU "
                    ".skeleton files to copy in turn, 'synthetic', or 'auto' (../shared/data/ntu/raw when it "
                    "has files, else synthetic)")
flags.DEFINE_integer("workers", 2, "converter processes")
flags.DEFINE_string("out", None, "JSON results file (default: bench/results-<--table_tag>.json after a full run, none "
                    "after a partial one; '' = none)")
flags.DEFINE_string("results_md", None, "markdown file whose generated table for this machine kind is replaced "
                    "(default: bench/RESULTS.md after a full run, none after a partial one; '' = none)")
flags.DEFINE_string("table_tag", None, "which generated table of --results_md to replace (the text between "
                    "'<!-- BEGIN generated TAG -->' and '<!-- END generated TAG -->') and the default --out "
                    "(bench/results-TAG.json); default: gpu on a machine with one, cpu-avx2 on a CPU with AVX2 "
                    "and no AVX-512, else cpu")
flags.DEFINE_string("from_json", None, "measure nothing: print the tables (the goals computed again) of a run "
                    "saved by --out; with --results_md they replace that file's table")
FLAGS = flags.FLAGS


def _fmt(figure, unit="", digits=1):
    return (f"{figure['median']:.{digits}f}{unit} ({figure['min']:.{digits}f}-{figure['max']:.{digits}f}, "
            f"{figure['runs']} runs)")


def _percent(figure):
    return {key: 100 * value if key != "runs" else value for key, value in figure.items()}


def _bytes(count):
    return f"{count / 1e9:.2f} GB" if count >= 1e9 else f"{count / 1e6:.1f} MB"


def _step_memory(memory, batch_size):
    return f"{_bytes(memory['step'])} for the step ({_bytes(memory['step'] / batch_size)} per clip)"


def _call_memory(memory):
    """A serving call's memory (measure.step_memory) in words."""
    return f"a call's peak {_bytes(memory['step'])} above {_bytes(memory['resident'])} resident"


def _memory(memory, batch_size):
    """A training step's memory (measure.step_memory) in words."""
    return (f"{_bytes(memory['peak'])} at the peak of a step = {_bytes(memory['resident'])} resident "
            f"(weights, optimizer state, the batch) + {_step_memory(memory, batch_size)}")


def _say(text):
    print(text, flush=True)


def _real_raw_files():
    """The real .skeleton files --raw_from names ([] for synthetic ones)."""
    if FLAGS.raw_from == "synthetic":
        return []
    directory = SHARED_RAW if FLAGS.raw_from == "auto" else FLAGS.raw_from
    found = sorted(glob.glob(os.path.join(directory, "*.skeleton")))
    if not found and FLAGS.raw_from != "auto":
        raise app.UsageError(f"--raw_from: no .skeleton files in {directory}")
    return found


def run(config):
    results = {"machine": measure.machine(), "date": time.strftime("%Y-%m-%d"),
               "config": {"preset": FLAGS.preset, "frames": config.frames, "joints": config.joints,
                          "m1": config.m1, "m2": config.m2, "attention": config.attention,
                          "batch_size": FLAGS.batch_size}}
    repeats = FLAGS.repeats
    matmul_calls = 3 if FLAGS.quick else 10
    _say(f"machine: {results['machine']}")
    forward_gflops = None
    # The training and serving figures are compared with the model's cost and the machine's limits.
    needs_limits = {"train", "serving"} & set(FLAGS.only)
    if "cost" in FLAGS.only or needs_limits:
        from slnl_tf.config import ablation_variants

        rows = measure.model_costs(config, ablation_variants(config) if "cost" in FLAGS.only else [])
        forward_gflops = rows[0]["gflops_per_clip"]
        results["model_cost"] = rows
        for row in rows:
            _say(f"cost  {row['label']:<28} params {row['params']:>10,}  GFLOPs/clip {row['gflops_per_clip']:7.3f}  "
                 f"attention weights/clip {row['attention_weights_per_clip'] / 1e6:6.2f} M")
    if "matmul" in FLAGS.only or needs_limits:
        figure = measure.summary(measure.matmul_gflops(calls=matmul_calls, repeats=max(3, repeats)))
        results["matmul_gflops"] = figure
        _say(f"matmul float32: {_fmt(figure, ' GFLOP/s')}")
        if FLAGS.mixed_precision != "none":  # MFU of a mixed-precision step is against its own matmul rate
            compute = FLAGS.mixed_precision.replace("mixed_", "")
            figure = measure.summary(measure.matmul_gflops(calls=matmul_calls, repeats=max(3, repeats),
                                                           dtype=compute))
            results["matmul_gflops_mixed"] = dict(figure, dtype=compute)
            _say(f"matmul {compute}: {_fmt(figure, ' GFLOP/s')}")
        # 10 GB a run: on a slow-memory host (4 GB/s, session 10) --quick calls it 3 times.
        figure = measure.summary(measure.memory_gbytes_per_s(calls=3 if FLAGS.quick else 10,
                                                             repeats=max(3, repeats)))
        results["memory_gbytes_per_s"] = figure
        _say(f"memory (float32 elementwise, read + write): {_fmt(figure, ' GB/s')}")
        figure = measure.summary(measure.softmax_gelements_per_s(repeats=max(3, repeats)))
        results["softmax_gelements_per_s"] = figure
        _say(f"softmax float32 (4096 rows of 512): {_fmt(figure, ' G elements/s', 2)}")
    if "train" in FLAGS.only:
        weight_bytes = 4 if FLAGS.mixed_precision == "none" else 2
        reference = results.get("matmul_gflops_mixed", results["matmul_gflops"])["median"]
        limits = measure.training_rate_limits(
            forward_gflops, results["model_cost"][0]["attention_weights_per_clip"], reference,
            results["memory_gbytes_per_s"]["median"], weight_bytes)
        results["training_limits_samples_per_s"] = limits
        _say(f"training limits: {limits['compute']:.1f} samples/s at the matmul rate, {limits['score_traffic']:.1f} "
             f"at the memory bandwidth for the score tensors ({limits['score_gbytes_per_clip']:.3f} GB per clip: "
             f"{measure.SCORE_PASSES_PER_STEP} passes x {weight_bytes} B per weight), {limits['both_in_turn']:.1f} "
             f"with the two in turn")
        results["training"] = {}
        for jit in FLAGS.train_jit:
            key = f"jit_compile={jit}"
            try:
                rates = measure.in_fresh_process(
                    measure.train_rates, config, FLAGS.batch_size, jit == "true", steps=2 if FLAGS.quick else 5,
                    repeats=repeats, mixed_precision=FLAGS.mixed_precision, skip_absent_too=jit == "false",
                    matmul_calls=matmul_calls)
            except RuntimeError as error:  # e.g. out of memory: recorded, not hidden
                results["training"][key] = {"error": str(error).splitlines()[0][:300]}
                _say(f"train {key}: FAILED {results['training'][key]['error']}")
                continue
            figure = measure.summary(rates["every person"])
            figure["per_run"] = [{"samples_per_s": samples_per_s, "matmul_gflops": matmul_rate,
                                  "matmul_gflops_before_after": around,
                                  "mfu": samples_per_s * 3 * forward_gflops / matmul_rate}
                                 for samples_per_s, matmul_rate, around in zip(
                                     rates["every person"], rates["matmul_gflops"], rates["matmul_gflops_around"])]
            figure["mfu_runs"] = measure.summary([run["mfu"] for run in figure["per_run"]])
            figure["mfu"] = figure["mfu_runs"]["median"]
            results["training"][key] = figure
            _say(f"train {key}: {_fmt(figure, ' samples/s')}, MFU {_fmt(_percent(figure['mfu_runs']), ' %')} of "
                 f"the higher of the matmul rates timed before and after each run "
                 f"({_fmt(measure.summary(rates['matmul_gflops']), ' GFLOP/s')})")
            figure["memory"] = rates["memory"]["every person"]
            _say(f"train {key}, memory: {_memory(figure['memory'], FLAGS.batch_size)}")
            if "absent persons skipped" in rates:
                skipped = {name: measure.summary(rates[name]) for name in ("every person", "absent persons skipped")}
                skipped["speedup"] = measure.summary([b / a for a, b in zip(rates["every person"],
                                                                            rates["absent persons skipped"])])
                skipped.update(present=rates["present"], slots=rates["slots"])
                skipped["memory"] = rates["memory"]["absent persons skipped"]
                results["training_absent_persons_skipped"] = skipped
                _say(f"train, {key}, {rates['present']} of {rates['slots']} person slots present: every "
                     f"person {_fmt(skipped['every person'], ' samples/s')}, absent persons skipped "
                     f"{_fmt(skipped['absent persons skipped'], ' samples/s')}: {_fmt(skipped['speedup'], 'x', 2)}")
                _say(f"train, {key}, absent persons skipped, memory: "
                     f"{_step_memory(skipped['memory'], FLAGS.batch_size)}")
    if "layers" in FLAGS.only:
        rows, ab = measure.in_fresh_process(measure.layer_figures, config, FLAGS.batch_size, repeats)
        results["layer_profile_ms"] = rows
        for row in rows:
            _say(f"layer {row['layer']:<40} {_fmt(row, ' ms')} fwd+bwd at {tuple(row['shape'])}")
        results["attention_gradient_ms"] = {name: measure.summary(times) for name, times in ab.items()}
        for name, figure in results["attention_gradient_ms"].items():
            _say(f"{name}: {_fmt(figure, ' ms')} fwd+bwd")
    if "input" in FLAGS.only or "conversion" in FLAGS.only:
        root = tempfile.mkdtemp(prefix="slnl_bench_")
        try:
            files = min(200, FLAGS.files) if FLAGS.quick else FLAGS.files
            real = _real_raw_files()
            if real:
                measure.copy_raw_files(real, os.path.join(root, "raw"), files)
            else:
                measure.write_raw_files(os.path.join(root, "raw"), files)
            results["raw_files"] = (f"copies of {len(real)} real NTU files" if real
                                    else "synthetic NTU-format files, 70-130 frames")
            runs = measure.conversion_rates(os.path.join(root, "raw"), root, files, FLAGS.workers,
                                            repeats if "conversion" in FLAGS.only else 1)
            if "conversion" in FLAGS.only:
                figure = measure.summary([run["files_per_s"] for run in runs])
                start = measure.summary([run["start_s"] for run in runs])
                whole = measure.summary([run["whole_run_files_per_s"] for run in runs])
                figure.update(files=files, workers=FLAGS.workers, start_s=start, whole_run_files_per_s=whole,
                              ntu60_minutes=measure.extrapolated_minutes(start["median"], figure["median"],
                                                                         measure.NTU60_FILES),
                              ntu120_minutes=measure.extrapolated_minutes(start["median"], figure["median"],
                                                                          measure.NTU120_FILES))
                results["conversion_files_per_s"] = figure
                _say(f"conversion: {_fmt(figure, ' files/s', 0)} on {FLAGS.workers} workers once started, start "
                     f"{_fmt(start, ' s', 2)} ({_fmt(whole, ' files/s', 0)} over the whole run of {files} files) "
                     f"-> NTU-60 in {figure['ntu60_minutes']:.1f} min, NTU-120 in {figure['ntu120_minutes']:.1f} min")
            if "input" in FLAGS.only:
                figure = measure.summary(measure.in_fresh_process(
                    measure.input_rates, os.path.join(root, "records0"), FLAGS.batch_size, config.frames,
                    20 if FLAGS.quick else 50, repeats))
                results["input_samples_per_s"] = figure
                ratio = ""
                trained = [f["median"] for f in results.get("training", {}).values() if "median" in f]
                if trained:
                    figure["vs_fastest_training"] = figure["median"] / max(trained)
                    ratio = f", {figure['vs_fastest_training']:.0f}x the fastest training rate"
                _say(f"input: {_fmt(figure, ' samples/s', 0)} at batch {FLAGS.batch_size}, T={config.frames}{ratio}")
                # As train_main resolves --jit_compile=auto and --skip_absent_persons=auto here.
                jit = project_flags.jit_compile_from_flag("auto", len(results["machine"]["gpus"]))
                skip = project_flags.skip_absent_persons_from_flag("auto", jit)
                rounds = measure.in_fresh_process(
                    measure.fed_training_rates, config, os.path.join(root, "records0"), FLAGS.batch_size, jit, skip,
                    steps=2 if FLAGS.quick else 5, repeats=repeats, mixed_precision=FLAGS.mixed_precision)
                figure = {name: measure.summary(rates) for name, rates in rounds.items()}
                figure["fed_vs_resident"] = measure.summary([fed / resident for fed, resident in
                                                             zip(rounds["fed"], rounds["resident"])])
                figure.update(jit_compile=jit, skip_absent_persons=skip)
                results["fed_training_samples_per_s"] = figure
                _say(f"training fed by the input (jit_compile={str(jit).lower()}, skip_absent_persons="
                     f"{str(skip).lower()}): "
                     f"{_fmt(figure['fed'], ' samples/s')} vs {_fmt(figure['resident'], ' samples/s')} on the "
                     f"same batches from a cache: {_fmt(figure['fed_vs_resident'], '', 3)} per round")
        finally:
            shutil.rmtree(root)
    if "serving" in FLAGS.only:
        floor = measure.serving_floor_ms(forward_gflops, results["model_cost"][0]["attention_weights_per_clip"], 1,
                                         results["matmul_gflops"]["median"],
                                         results["softmax_gelements_per_s"]["median"])
        results["serving_floor_ms_batch1"] = floor
        _say(f"serving floor at batch 1: {floor['total']:.1f} ms = {floor['matmuls']:.1f} (FLOPs at the matmul rate) "
             f"+ {floor['softmax']:.1f} (attention weights at the softmax rate)")
        # Batch 1 also with single-threaded ops, two at a time: the setting docs/serving.md
        # recommends for latency, faster than the defaults at batch 1 and slower at batch 64
        # on this CPU (RESULTS.md, change 7).
        # And clips with one person in their M slots, most of NTU (49 of NTU-60's 60 actions
        # are done alone): the export computes only the persons present.
        single_calls, batch_calls = (20, 3) if FLAGS.quick else (50, 8)
        cases = [(1, single_calls, None, None), (1, single_calls, (2, 1), None), (64, batch_calls, None, None)]
        if config.persons > 1:
            cases[2:2] = [(1, single_calls, None, 1), (1, single_calls, (2, 1), 1)]
            cases.append((64, batch_calls, None, 1))
        export_dir = os.path.join(tempfile.mkdtemp(prefix="slnl_serving_"), "1")
        try:
            measure.export_for_serving(config, export_dir)  # here: nothing is timed in this process after it
            # Each case in its own process; --quick saves the start-ups: the cases of one
            # thread setting share one.
            groups = {}
            for case in cases:
                groups.setdefault(case[2] if FLAGS.quick else case, []).append(case)
            figures = {}
            for group in groups.values():
                figures.update(_serving_figures(export_dir, config, repeats, group))
            results["serving_ms"] = dict(figures[case] for case in cases)
        finally:
            shutil.rmtree(os.path.dirname(export_dir))
    return results


def _serving_figures(export_dir, config, repeats, cases):
    """{case: (name, figure)} for serving cases `(batch, calls, threads, persons)` of one
    thread setting, timed in one fresh process."""
    threads = cases[0][2]
    per_case = measure.in_fresh_process(measure.serving_latencies, export_dir, config,
                                        [(batch, calls, persons) for batch, calls, _, persons in cases],
                                        repeats=repeats, threads=threads)
    figures = {}
    for case, measured in zip(cases, per_case):
        batch, calls, _, persons = case
        runs = measured["runs"]
        figure = {"p50": measure.summary([r[0] for r in runs]), "p99": measure.summary([r[1] for r in runs]),
                  "calls_per_run": calls, "clip_frames": 100,
                  "persons_present": config.persons if persons is None else persons, "memory": measured["memory"]}
        name = (f"batch={batch}, {figure['persons_present']} of {config.persons} persons"
                + (f", inter_op={threads[0]} intra_op={threads[1]}" if threads else ""))
        _say(f"serving {name}: p50 {_fmt(figure['p50'], ' ms')}, p99 {_fmt(figure['p99'], ' ms')}; "
             f"{_call_memory(figure['memory'])}")
        figures[case] = (name, figure)
    return figures


def describe_machine(machine):
    cpu = machine["cpu"]
    if machine.get("cpu_features"):  # runs saved before the bench recorded them have none
        cpu += ", " + " ".join(machine["cpu_features"])
    onednn = {True: ", oneDNN on", False: ", oneDNN off"}.get(machine.get("onednn"), "")
    return (f"{machine['cpu_cores']} CPU cores ({cpu}), GPUs: {machine['gpus'] or 'none'}, TensorFlow "
            f"{machine['tensorflow']}{onednn}")


def markdown_table(results):
    lines = [f"Measured {results['date']} by `python bench/run.py` on {describe_machine(results['machine'])}; "
             f"config {results['config']}. Median (min-max) of the runs.", "",
             goals.markdown(results["goals"]), "", "| figure | value |", "|---|---|"]
    if "model_cost" in results:
        row = results["model_cost"][0]
        lines.append(f"| model cost (this config) | {row['params']:,} params, {row['gflops_per_clip']:.3f} GFLOPs/clip, "
                     f"{row['attention_weights_per_clip'] / 1e6:.2f} M attention weights/clip |")
    if "matmul_gflops" in results:
        lines.append(f"| float32 matmul rate | {_fmt(results['matmul_gflops'], ' GFLOP/s')} |")
    if "matmul_gflops_mixed" in results:
        figure = results["matmul_gflops_mixed"]
        lines.append(f"| {figure['dtype']} matmul rate (the training limits' reference) | {_fmt(figure, ' GFLOP/s')} |")
    if "memory_gbytes_per_s" in results:
        lines.append(f"| memory bandwidth (float32 elementwise over 512 MB, read + write) | "
                     f"{_fmt(results['memory_gbytes_per_s'], ' GB/s')} |")
    if "softmax_gelements_per_s" in results:
        lines.append(f"| softmax rate (float32, rows of 512) | "
                     f"{_fmt(results['softmax_gelements_per_s'], ' G elements/s', 2)} |")
    if "training_limits_samples_per_s" in results:
        limits = results["training_limits_samples_per_s"]
        lines.append(f"| training limits: all FLOPs at the matmul rate / score tensors at the memory bandwidth "
                     f"({limits['score_gbytes_per_clip']:.3f} GB per clip) / both in turn | "
                     f"{limits['compute']:.1f} / {limits['score_traffic']:.1f} / {limits['both_in_turn']:.1f} "
                     f"samples/s |")
    for key, figure in results.get("training", {}).items():
        value = figure["error"] if "error" in figure else (
            f"{_fmt(figure, ' samples/s')}, MFU {_fmt(_percent(figure['mfu_runs']), ' %')}")
        lines.append(f"| training, {key} | {value} |")
        if "memory" in figure:  # runs saved before session 18 have none
            lines.append(f"| training memory, {key} (allocator, one step) | "
                         f"{_memory(figure['memory'], results['config']['batch_size'])} |")
    if "input_samples_per_s" in results:
        figure = results["input_samples_per_s"]
        extra = f", {figure['vs_fastest_training']:.0f}x training" if "vs_fastest_training" in figure else ""
        lines.append(f"| input (tf.data alone, records of {results['raw_files']}) | "
                     f"{_fmt(figure, ' samples/s', 0)}{extra} |")
    if "training_absent_persons_skipped" in results:
        figure = results["training_absent_persons_skipped"]
        lines.append(f"| training, jit_compile=false, {figure['present']} of {figure['slots']} person slots present: "
                     f"every person vs absent persons skipped (in turn) | {_fmt(figure['every person'], ' samples/s')} "
                     f"vs {_fmt(figure['absent persons skipped'], ' samples/s')}: {_fmt(figure['speedup'], 'x', 2)} |")
        if "memory" in figure:
            lines.append(f"| training memory, jit_compile=false, absent persons skipped (allocator, one step) | "
                         f"{_step_memory(figure['memory'], results['config']['batch_size'])} |")
    if "fed_training_samples_per_s" in results:
        figure = results["fed_training_samples_per_s"]
        jit, skip = str(figure["jit_compile"]).lower(), str(figure["skip_absent_persons"]).lower()
        lines.append(f"| training fed by that input vs on cached batches, jit_compile={jit}, "
                     f"skip_absent_persons={skip} | "
                     f"{_fmt(figure['fed'], ' samples/s')} vs {_fmt(figure['resident'], ' samples/s')}: "
                     f"{_fmt(figure['fed_vs_resident'], '', 3)} |")
    if "conversion_files_per_s" in results:
        figure = results["conversion_files_per_s"]
        lines.append(f"| conversion ({figure['workers']} workers, {figure['files']} files: {results['raw_files']}): "
                     f"rate once started, start time | {_fmt(figure, ' files/s', 0)}, "
                     f"{_fmt(figure['start_s'], ' s', 2)}: NTU-60 {figure['ntu60_minutes']:.1f} min, NTU-120 "
                     f"{figure['ntu120_minutes']:.1f} min (whole run: {_fmt(figure['whole_run_files_per_s'], ' files/s', 0)}) |")
    if "serving_floor_ms_batch1" in results:
        floor = results["serving_floor_ms_batch1"]
        lines.append(f"| serving floor, batch 1: FLOPs at the matmul rate + attention weights at the softmax rate | "
                     f"{floor['matmuls']:.1f} + {floor['softmax']:.1f} = {floor['total']:.1f} ms |")
    for key, figure in results.get("serving_ms", {}).items():
        memory = f"; {_call_memory(figure['memory'])}" if "memory" in figure else ""  # none before session 18
        lines.append(f"| serving {key} | p50 {_fmt(figure['p50'], ' ms')}, p99 {_fmt(figure['p99'], ' ms')}{memory} |")
    if "layer_profile_ms" in results:
        lines += ["", "Where a step's time goes (one layer, forward + backward, first SLnL stage's shape):", "",
                  "| piece | input shape | ms |", "|---|---|---|"]
        lines += [f"| {r['layer']} | {tuple(r['shape'])} | {_fmt(r)} |" for r in results["layer_profile_ms"]]
    if "attention_gradient_ms" in results:
        lines += ["", "The softmax gradient written out vs autodiff's (alternating, one process):", "",
                  "| piece | ms |", "|---|---|"]
        lines += [f"| {name} | {_fmt(figure)} |" for name, figure in results["attention_gradient_ms"].items()]
    return "\n".join(lines)


def replace_block(path, tag, text):
    begin, end = f"<!-- BEGIN generated {tag} -->", f"<!-- END generated {tag} -->"
    content = open(path).read() if os.path.exists(path) else "# Benchmark results\n"
    block = f"{begin}\n{text}\n{end}"
    if begin in content:
        content = re.sub(re.escape(begin) + ".*?" + re.escape(end), lambda _: block, content, flags=re.S)
    else:
        content = content.rstrip("\n") + f"\n\n{block}\n"
    with open(path, "w") as f:
        f.write(content)


def _saved_results(path):
    try:
        with open(path) as f:
            results = json.load(f)
    except (OSError, ValueError) as error:
        raise app.UsageError(f"--from_json: cannot read {path}: {error}")
    if not isinstance(results, dict) or "machine" not in results:
        raise app.UsageError(f"--from_json: {path} is not a results file of bench/run.py --out")
    return results


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {' '.join(argv[1:])}")
    unknown = set(FLAGS.only) - set(STAGES)
    if unknown:
        raise app.UsageError(f"--only: unknown {sorted(unknown)}; choose from {','.join(STAGES)}")
    if FLAGS.from_json:
        results = _saved_results(FLAGS.from_json)
    else:
        try:
            config = project_flags.model_config_from_flags()
        except ValueError as error:
            raise app.UsageError(str(error))
        results = run(config)
    results["goals"] = goals.check(results)  # again for a saved run: the checks may have changed since
    for row in results["goals"]:
        _say(f"goal: {row['goal']}: {row['measured']}: {goals.VERDICT[row['met']]}")
    tag = FLAGS.table_tag or measure.table_tag(results["machine"])
    # Only a full run replaces the kept figures by default: a partial one (README's examples
    # time one or two figures) would drop the others from the table; a saved run writes only
    # where told.
    full = set(FLAGS.only) == set(STAGES) and not FLAGS.quick and not FLAGS.from_json
    here = os.path.dirname(os.path.abspath(__file__))
    out = FLAGS.out if FLAGS.out is not None else os.path.join(here, f"results-{tag}.json") if full else ""
    results_md = FLAGS.results_md if FLAGS.results_md is not None else os.path.join(here, "RESULTS.md") if full else ""
    table = markdown_table(results)
    print("\n" + table + "\n")
    if out:
        with open(out, "w") as f:
            json.dump(results, f, indent=1)
        print(f"wrote {out}")
    if results_md:
        replace_block(results_md, tag, table)
        print(f"wrote the {tag} table in {results_md}")
    if not full and not FLAGS.from_json and (FLAGS.out is None or FLAGS.results_md is None):
        print(f"a partial run (--only={','.join(FLAGS.only)}{', --quick' if FLAGS.quick else ''}) leaves "
              f"bench/results-{tag}.json and the table in bench/RESULTS.md as they are; --out=FILE and "
              "--results_md=FILE write its figures")


if __name__ == "__main__":
    project_flags.run(main)
