"""The benchmark measurements, as functions (bench/run.py prints and records them).

Every timing function returns a list with one figure per timed run (after a warm-up);
`summary` turns it into median, min and max.
"""
import concurrent.futures
import contextlib
import glob
import json
import multiprocessing
import os
import shutil
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

NTU60_FILES = 56880
NTU120_FILES = 114480


def summary(values):
    values = sorted(values)
    return {"median": values[len(values) // 2], "min": values[0], "max": values[-1], "runs": len(values)}


def cpu_name():
    """The CPU's model name (Linux's /proc/cpuinfo), else what `platform` says."""
    import platform

    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


# The vector extensions that decide which kernels TensorFlow runs here: AVX2 and FMA for its
# oneDNN kernels (its Eigen ones are compiled for AVX), AVX-512 for twice their width, and the
# four whose presence turns oneDNN on by default (tensorflow/core/util/port.cc).
CPU_FEATURES = ("avx", "avx2", "fma", "avx512f", "avx512_vnni", "avx512_bf16", "avx_vnni", "amx_tile")


def cpu_features():
    """Which of CPU_FEATURES the CPU has (Linux's /proc/cpuinfo flags; [] where unreadable)."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags"):
                    flags = set(line.split(":", 1)[1].split())
                    return [name for name in CPU_FEATURES if name in flags]
    except OSError:
        pass
    return []


def machine():
    import tensorflow as tf

    import slnl_tf

    return {"tensorflow": tf.__version__, "cpu_cores": os.cpu_count(), "cpu": cpu_name(),
            "cpu_features": cpu_features(), "onednn": slnl_tf.onednn_enabled(),
            "devices": [d.device_type for d in tf.config.list_physical_devices()],
            "gpus": [tf.config.experimental.get_device_details(d).get("device_name", "GPU")
                     for d in tf.config.list_physical_devices("GPU")]}


def table_tag(machine):
    """gpu, cpu-avx2 or cpu: the kind of machine whose table a run replaces by default. An
    AVX2-only CPU runs TensorFlow's kernels at about a third of an AVX-512 one's rate (RESULTS.md),
    so its figures get their own table rather than replacing the other's."""
    if machine["gpus"]:
        return "gpu"
    features = machine.get("cpu_features") or []  # none recorded in runs before session 17
    return "cpu-avx2" if "avx2" in features and "avx512f" not in features else "cpu"


def model_costs(config, variants):
    """[{label, params, gflops_per_clip, attention_weights_per_clip}] for the config and each
    (label, config) variant."""
    from slnl_tf.model import build_model
    from slnl_tf.model_cost import attention_weights_per_clip, flops_per_clip, parameter_counts

    rows = []
    for label, variant in [("this config", config), *variants]:
        model = build_model(variant)
        rows.append({"label": label, "params": parameter_counts(model)["total"],
                     "gflops_per_clip": flops_per_clip(model) / 1e9,
                     "attention_weights_per_clip": attention_weights_per_clip(model)})
    return rows


def _first_device():
    """The device the machine-limit figures run on: the first GPU when there is one."""
    import tensorflow as tf

    return "/GPU:0" if tf.config.list_physical_devices("GPU") else "/CPU:0"


def matmul_gflops(n=2048, calls=10, repeats=5, dtype="float32", device=None):
    """Rate of `calls` chained (n, n) x (n, n) matmuls, in GFLOP/s (2 n^3 FLOPs each)."""
    import tensorflow as tf

    with tf.device(device or _first_device()):
        a = tf.random.normal((n, n), dtype=dtype)
        b = tf.random.normal((n, n), dtype=dtype) / n ** 0.5

        @tf.function
        def chain(x):
            for _ in range(calls):
                x = tf.matmul(x, b)
            return tf.reduce_sum(tf.cast(x[:1, :1], tf.float32))

        chain(a).numpy()
        rates = []
        for _ in range(repeats):
            start = time.perf_counter()
            chain(a).numpy()
            rates.append(2 * n ** 3 * calls / (time.perf_counter() - start) / 1e9)
    return rates


# Passes over the score tensor (one read or write of each attention weight) in a training
# step of `attend`, at the least: forward, the score matmul writes S, the softmax reads S and
# writes P, P V reads P; backward, (dO, -r) (V, 1)^T writes C, the product P * C reads both
# and writes dS, dS is read by two matmuls and P by one. 11 as written; 10 where a compiler
# fuses the product into both matmuls that read it.
SCORE_PASSES_PER_STEP = 10


def _rates_of_one_op(step, x, units_per_call, calls, repeats):
    """[units/s] of `calls` calls of `step(x)` (one op each, returning a sliver) per run,
    after one untimed run (a single warm-up call left the first timed run up to 25 % slow)."""
    rates = []
    for _ in range(repeats + 1):
        start = time.perf_counter()
        last = [step(x) for _ in range(calls)][-1]
        last.numpy()  # ops run in order on a device: the last one done means all are
        rates.append(units_per_call * calls / (time.perf_counter() - start))
    return rates[1:]


def memory_gbytes_per_s(megabytes=512, calls=10, repeats=5, device=None):
    """Memory bandwidth in GB/s of a float32 elementwise op (one read and one write per
    element) over a `megabytes` tensor, the size of one spacetime score tensor at batch 64."""
    import tensorflow as tf

    with tf.device(device or _first_device()):
        x = tf.random.normal((megabytes * 2**20 // 4,))
        scale = tf.constant(1.0001)
        # One op per call: a chain of products in one function was folded into one product.
        step = tf.function(lambda x: (x * scale)[:1])
        return _rates_of_one_op(step, x, 2 * x.shape[0] * 4 / 1e9, calls, repeats)


def softmax_gelements_per_s(rows=4096, keys=512, calls=10, repeats=5, device=None):
    """Rate in G elements/s of a float32 softmax over rows of `keys`, on a `(rows, keys)`
    tensor: by default the spacetime score tensor of one clip (2 persons x 2048 queries, 512
    keys), the shape batch-1 serving computes. Its exponentials are work the FLOP count
    leaves out, and at batch 1 the tensor stays in cache, so this rate, not the memory
    bandwidth, is what the softmax costs there."""
    import tensorflow as tf

    with tf.device(device or _first_device()):
        x = tf.random.normal((rows, keys))
        step = tf.function(lambda x: tf.nn.softmax(x)[:1, :1])
        return _rates_of_one_op(step, x, rows * keys / 1e9, calls, repeats)


def serving_floor_ms(forward_gflops, attention_weights, batch_size, matmul_gflops, softmax_gelements):
    """Least milliseconds a forward pass of `batch_size` clips can take with this build's
    kernels: `matmuls`, all FLOPs at the matmul rate; `softmax`, every attention weight at
    the softmax rate (the rate at the spacetime rows; the short rows of the time and space
    paths run slower, so this is a lower bound); `total`, the two in turn (on a CPU both
    use the same vector units)."""
    matmuls = batch_size * forward_gflops / matmul_gflops * 1e3
    softmax = batch_size * attention_weights / softmax_gelements / 1e9 * 1e3
    return {"matmuls": matmuls, "softmax": softmax, "total": matmuls + softmax}


def training_rate_limits(forward_gflops, attention_weights, matmul_gflops, memory_gbytes, weight_bytes):
    """Training rates (samples/s) that the machine's two measured limits allow: `compute`,
    all FLOPs (3 x forward) at the matmul rate; `score_traffic`, the score tensors' passes
    (SCORE_PASSES_PER_STEP x `weight_bytes` per attention weight) at the memory bandwidth;
    a step can exceed neither. `both_in_turn`: the two one after the other, the rate
    without any overlap of memory traffic and matmuls."""
    compute = matmul_gflops / (3 * forward_gflops)
    traffic_gbytes = attention_weights * SCORE_PASSES_PER_STEP * weight_bytes / 1e9
    score_traffic = memory_gbytes / traffic_gbytes if traffic_gbytes else float("inf")
    return {"compute": compute, "score_traffic": score_traffic,
            "both_in_turn": 1 / (1 / compute + 1 / score_traffic), "score_gbytes_per_clip": traffic_gbytes}


@contextlib.contextmanager
def _global_policy(mixed_precision):
    """Keras' global dtype policy set to `mixed_precision` ('none': float32) inside, float32 after."""
    import keras

    keras.mixed_precision.set_global_policy(mixed_precision if mixed_precision != "none" else "float32")
    try:
        yield
    finally:
        keras.mixed_precision.set_global_policy("float32")


def _resident_training(config, batch_size, jit_compile, skip_absent_persons=False):
    """`step()`, one training step on a fixed batch already on the device, and that batch's
    clips (synthetic, 30 % of them with two persons); one step has built and compiled it."""
    import keras
    import tensorflow as tf

    from slnl_tf.data import synthetic
    from slnl_tf.model import OUTPUTS, build_model
    from slnl_tf.training import compile_model

    keras.utils.set_random_seed(0)
    clips, labels = synthetic.make_clips(batch_size, config.num_classes, config.frames, config.joints,
                                         config.persons)
    model = build_model(config, skip_absent_persons=skip_absent_persons)
    compile_model(model, config, keras.optimizers.AdamW(1e-3), jit_compile)
    x = tf.constant(clips)
    y = {name: tf.constant(labels) for name in OUTPUTS}

    def step():
        loss = model.train_on_batch(x, y)
        if not np.all(np.isfinite(loss)):
            raise FloatingPointError(f"non-finite training loss {loss}")

    step()
    return step, clips


def _samples_per_s(step, steps, batch_size):
    start = time.perf_counter()
    for _ in range(steps):
        step()
    return steps * batch_size / (time.perf_counter() - start)


def step_memory(step, device=None):
    """What one call of `step` holds in `device`'s memory allocator, in bytes: `resident` (in
    use before the call: weights, optimizer slots, the batch, anything else the process
    keeps), `peak` (the most in use during the call) and `step` (peak - resident: what the
    call adds; for a training step, the activations kept for the backward pass and the
    temporaries). TensorFlow 2.21 keeps these statistics for a CPU under its default
    allocator and under BFC alike."""
    import tensorflow as tf

    device = (device or _first_device()).lstrip("/")
    tf.config.experimental.reset_memory_stats(device)
    resident = tf.config.experimental.get_memory_info(device)["current"]
    step()
    peak = tf.config.experimental.get_memory_info(device)["peak"]
    return {"resident": resident, "peak": peak, "step": peak - resident}


def train_rates(config, batch_size, jit_compile, steps=5, repeats=3, mixed_precision="none",
                skip_absent_too=False, matmul_calls=10):
    """{"every person": [samples/s], "matmul_gflops": [GFLOP/s]} per timed run: full training
    steps (forward, backward, AdamW update) on clips already on the device (so the figure is
    the model's, not the input's), each run between two timed runs of `matmul_gflops` (of
    `matmul_calls` calls) in the compute dtype, in this process ("matmul_gflops_around":
    [before, after]; "matmul_gflops": the higher). The host's speed drifts within minutes
    (bench/RESULTS.md), so MFU divides each training run by the matmul rate measured beside
    it; the higher of two, because a matmul run takes about a second against the training
    run's half minute, and a short dip of the host in it read as a higher MFU (session 18:
    109 GFLOP/s before a run, 150-177 in every other figure of that hour, 62 % MFU). Every
    person slot is computed, so that the model's FLOPs are the work done.
    skip_absent_too (XLA off only): also "absent persons skipped", the same step of the model
    built with skip_absent_persons on the same batch, timed right after each run; with
    "present" (person slots holding a person) and "slots" (all person slots).
    "memory": `step_memory` of each model's step, the first taken before the second model
    exists, so that its `peak` is what training that model on this batch needs."""
    import keras

    with _global_policy(mixed_precision):
        steps_of = {"every person": _resident_training(config, batch_size, jit_compile)}
        memory = {"every person": step_memory(steps_of["every person"][0])}
        if skip_absent_too:
            steps_of["absent persons skipped"] = _resident_training(config, batch_size, False,
                                                                    skip_absent_persons=True)
            memory["absent persons skipped"] = step_memory(steps_of["absent persons skipped"][0])
            # Building the second model resets TensorFlow's global seed, on which the first
            # model's traced step depends: its next call retraces (a second or more), so each
            # step runs once untimed here.
            for step, _ in steps_of.values():
                step()
        compute_dtype = keras.mixed_precision.global_policy().compute_dtype
        rates = {name: [] for name in ("matmul_gflops_around", *steps_of)}

        def matmul_rate():
            return matmul_gflops(calls=matmul_calls, repeats=1, dtype=compute_dtype)[0]

        for _ in range(repeats):
            before = matmul_rate()
            rates["every person"].append(_samples_per_s(steps_of["every person"][0], steps, batch_size))
            rates["matmul_gflops_around"].append([before, matmul_rate()])
            if skip_absent_too:
                rates["absent persons skipped"].append(
                    _samples_per_s(steps_of["absent persons skipped"][0], steps, batch_size))
        rates["matmul_gflops"] = [max(around) for around in rates["matmul_gflops_around"]]
        clips = steps_of["every person"][1]
        return dict(rates, present=int(np.any(clips != 0, axis=(1, 2, 3)).sum()), slots=batch_size * config.persons,
                    memory=memory)


def in_fresh_process(function, *args, **kwargs):
    """`function(*args, **kwargs)` in a spawned Python process, so that each figure starts
    from an empty heap and idle threads: at the NTU config XLA asks for one 9.4 GiB buffer,
    which fails next to what a graph-mode run in the same process left allocated, and
    batch-1 serving measured 18.7 ms after the input figure's tf.data threads against
    13.4 ms alone. Errors come back as RuntimeError with the child's message."""
    with concurrent.futures.ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        outcome = pool.submit(_call_or_error, function, *args, **kwargs).result()
    if isinstance(outcome, str):
        raise RuntimeError(outcome)
    return outcome


def _call_or_error(function, *args, **kwargs):
    try:
        return function(*args, **kwargs)
    except Exception as error:  # TensorFlow's errors do not unpickle in the parent
        return f"{type(error).__name__}: {error}"


def raw_file_name(i):
    """A unique valid NTU file name per i (setup, camera, performer, replication, action),
    spread over performers and cameras so that every benchmark split gets files."""
    return (f"S{i // 14400 + 1:03d}C{(i // 60) % 3 + 1:03d}P{(i // 180) % 40 + 1:03d}"
            f"R{(i // 7200) % 2 + 1:03d}A{i % 60 + 1:03d}.skeleton")


def write_raw_files(directory, count):
    """`count` synthetic NTU raw files (70-130 frames, CRLF, 1 or 2 bodies)."""
    from slnl_tf.data import ntu

    os.makedirs(directory, exist_ok=True)
    rng = np.random.default_rng(0)
    for i in range(count):
        frames = []
        base = rng.normal(size=(2, 25, 3)) + [0, 0, 3]
        bodies = 2 if i % 5 == 0 else 1
        for t in range(int(rng.integers(70, 130))):
            frames.append([(str(b), base[b] + 0.05 * np.sin(t / 5)) for b in range(bodies)])
        ntu.write_skeleton_file(os.path.join(directory, raw_file_name(i)), frames)


def copy_raw_files(sources, directory, count):
    """`count` copies of the real raw files `sources` in turn, under benchmark names: real
    files have more digits per value than the synthetic ones (267 vs 149 kB each) and
    parse about 15 % slower per file."""
    os.makedirs(directory, exist_ok=True)
    for i in range(count):
        shutil.copyfile(sources[i % len(sources)], os.path.join(directory, raw_file_name(i)))


def conversion_rates(raw_dir, out_root, files, workers=2, repeats=3):
    """The converter (parse, select bodies, serialize, write shards) over `files` raw files,
    per run: `files_per_s` while its workers run, from the seconds each shard's receipt
    records (summed over shards, divided by the workers); `start_s`, the rest of the wall
    time: spawning the worker processes and importing TensorFlow in each, about 2 s here,
    paid once per conversion. A whole-run rate over a few hundred files is mostly that
    start (600 files: 2.5 s, 1.9 of them starting), so a dataset's time is extrapolated as
    `start_s` + files / `files_per_s`."""
    from slnl_tf.data import build, sources

    runs = []
    for run in range(repeats):
        out = os.path.join(out_root, f"records{run}")
        shutil.rmtree(out, ignore_errors=True)
        start = time.perf_counter()
        build.build(sources.NTUSource(raw_dir, "ntu60_xsub"), out, files_per_shard=max(1, files // 8),
                    workers=workers, min_clips_for_workers=0, progress=False, log=lambda _: None)
        wall = time.perf_counter() - start
        receipts = glob.glob(os.path.join(out, "*.tfrecord.json"))
        shard_seconds = 0.0
        for receipt in receipts:
            with open(receipt) as f:
                shard_seconds += json.load(f)["seconds"]
        working = shard_seconds / min(workers, len(receipts))
        runs.append({"files_per_s": files / working, "start_s": max(0.0, wall - working),
                     "whole_run_files_per_s": files / wall})
    return runs


def extrapolated_minutes(start_s, files_per_s, files):
    """Minutes to convert `files` raw files: the converter's start plus the files at its rate."""
    return (start_s + files / files_per_s) / 60


def input_rates(records_dir, batch_size, frames, batches=50, repeats=3):
    """Samples/s of the training input alone: read shards, parse, crop, rotate, scale, batch."""
    from slnl_tf.data import input as data_input

    dataset = data_input.make_dataset(records_dir, "train", batch_size=batch_size, frames=frames, training=True,
                                      seed=0, rotation_degrees=17.0, scale_range=(0.9, 1.1))
    iterator = iter(dataset)
    next(iterator)
    rates = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(batches):
            next(iterator)
        rates.append(batches * batch_size / (time.perf_counter() - start))
    return rates


def fed_training_rates(config, records_dir, batch_size, jit_compile, skip_absent_persons, steps=5, repeats=3,
                       mixed_precision="none"):
    """{"resident": [samples/s], "fed": [samples/s]} per round: Keras fit of the model
    compiled as training compiles it, on training's own input with `input_rates`'
    augmentation (shards, shuffle, crop, rotation, scale, prefetch), and on the same batches
    from a cache filled beforehand, in turn in this process. Each fit runs a warm-up epoch
    (tracing, filling the shuffle buffer) and one timed epoch of `steps` steps. The input
    yields the same batches to every fit (its stream is a function of the seed), so both
    time the same clips: with absent persons skipped a step's time follows the persons in
    its batch (70-77 of 128 slots in the bench's batches of real NTU files), which against
    one cached batch moved the ratio by a few per cent either way. fed / resident near 1:
    the input does not bound the step."""
    import keras
    import tensorflow as tf

    from slnl_tf import training

    with _global_policy(mixed_precision):
        keras.utils.set_random_seed(0)
        options = training.TrainOptions(
            model_dir="", data_dir=records_dir, batch_size=batch_size, rotation_degrees=17.0,
            scale_range=(0.9, 1.1), jit_compile=jit_compile, mixed_precision=mixed_precision, warmup_epochs=0.0,
            skip_absent_persons=skip_absent_persons)
        model, _ = training.build_compiled_model(config, options, steps_per_epoch=steps)
        fed = training.make_training_dataset(options, config, tf.distribute.get_strategy())
        resident = fed.take(2 * steps).cache().repeat()
        for _ in resident.take(2 * steps):  # one whole pass fills the cache
            pass
        datasets = {"resident": resident, "fed": fed}
        rates = {name: [] for name in datasets}
        for _ in range(repeats):
            for name, dataset in datasets.items():
                history = model.fit(dataset, epochs=2, steps_per_epoch=steps, verbose=0, shuffle=False,
                                    callbacks=[training.Throughput(batch_size)])
                rates[name].append(history.history["samples_per_second"][-1])
        return rates


def export_for_serving(config, export_dir):
    """Exports a model of `config` (weights as built) to `export_dir`, as `slnl_tf.export`
    does, for `serving_latencies`: one export serves every serving figure of a run."""
    from slnl_tf import export
    from slnl_tf.model import build_model

    export.export(build_model(config), config, export_dir)


def serving_latencies(export_dir, config, cases, clip_frames=100, repeats=3, threads=None):
    """{"runs": [(p50 ms, p99 ms)] per run, "memory": `step_memory` of one call} per case:
    each case `(batch size, calls, persons)` is `repeats` runs of `calls` requests to the
    SavedModel in `export_dir` (exported for `config`) through its serving_default, loaded
    once, as TF Serving loads it (no project code in the call path).
    `persons`: how many of each clip's M person slots hold a person (the rest zeros, as
    an absent person is stored); None: all M.
    `threads`: (inter-op, intra-op) thread counts, as TF Serving's
    --tensorflow_inter_op_parallelism / --tensorflow_intra_op_parallelism set them (set
    before TensorFlow starts: call in a fresh process); None keeps TensorFlow's defaults."""
    import tensorflow as tf

    if threads:
        tf.config.threading.set_inter_op_parallelism_threads(threads[0])
        tf.config.threading.set_intra_op_parallelism_threads(threads[1])

    serve = tf.saved_model.load(export_dir).signatures["serving_default"]
    results = []
    for batch_size, calls, persons in cases:
        clips = np.random.default_rng(0).normal(
            size=(batch_size, config.channels, clip_frames, config.joints, config.persons)).astype(np.float32)
        clips[..., config.persons if persons is None else persons:] = 0
        clips = tf.constant(clips)
        for _ in range(3):
            serve(clips=clips)["probabilities"].numpy()
        memory = step_memory(lambda: serve(clips=clips)["probabilities"].numpy())
        runs = []
        for _ in range(repeats):
            times = []
            for _ in range(calls):
                start = time.perf_counter()
                serve(clips=clips)["probabilities"].numpy()
                times.append((time.perf_counter() - start) * 1e3)
            runs.append((float(np.percentile(times, 50)), float(np.percentile(times, 99))))
        results.append({"runs": runs, "memory": memory})
    return results


def layer_step_ms(layer, input_shape, repeats=3):
    """Milliseconds of one forward + backward pass of `layer` alone on a random input
    (the profile of where a training step's time goes)."""
    import tensorflow as tf

    x = tf.random.normal(input_shape)
    layer(x)

    @tf.function
    def step(x):
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = tf.reduce_sum(tf.square(tf.cast(layer(x), tf.float32)))
        return tape.gradient(y, [x] + layer.trainable_variables)

    [g.numpy() for g in step(x)]
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        [g.numpy() for g in step(x)]
        times.append((time.perf_counter() - start) * 1e3)
    return times


def layer_figures(config, batch_size, repeats=3):
    """(`layer_profile`, `attention_gradient_ab` with at least 3 rounds), one after the other
    in this process."""
    return layer_profile(config, batch_size, repeats), attention_gradient_ab(config, batch_size, max(3, repeats))


def layer_profile(config, batch_size, repeats=3):
    """[{layer, shape, ms}] for the pieces of the first SLnL stage at the model's shapes:
    the local convolution, each non-local path, and the frequency attention."""
    from slnl_tf.layers import BroadcastBiasConv2D, FrequencyAttention, NonLocalAttention

    groups = batch_size * config.persons
    filters = config.stage_filters[0]
    embed = max(1, filters // 2)
    # Stage 1 reads the frequency attention's output: 3 channels per coordinate system.
    shape = (groups, config.frames, config.skeleton_joints, 3 * config.coordinate_systems)
    pieces = [(f"local conv 1x1 ({shape[-1]} -> {filters})", BroadcastBiasConv2D(filters, 1, padding="same"), shape)]
    pieces += [(f"non-local {axis} (E={embed}, subsampled)",
                NonLocalAttention(axis, embed, filters, subsample=config.nonlocal_subsample,
                                  output_kernel_initializer="glorot_uniform"), shape) for axis in config.nonlocal_axes]
    pieces.append((f"frequency attention ({config.attention})", FrequencyAttention(config.attention), shape))
    return [{"layer": label, "shape": list(shape), **summary(layer_step_ms(layer, shape, repeats))}
            for label, layer, shape in pieces]


def attention_gradient_ab(config, batch_size, rounds=5):
    """{label: [ms per round]}: forward + backward of the spacetime attention core at the
    first SLnL stage's shape with autodiff's softmax gradient and with the layer's written-out
    one, timed alternately in one process (the before/after of that change)."""
    import tensorflow as tf

    from slnl_tf.layers.non_local_attention import attend, attention_weights

    def autodiff(query, key, value):
        return tf.matmul(attention_weights(query, key), value)

    embed = max(1, config.stage_filters[0] // 2)
    queries = config.frames * config.skeleton_joints
    keys = -(-config.frames // 2) * -(-config.skeleton_joints // 2) if config.nonlocal_subsample else queries
    groups = batch_size * config.persons
    query, key, value = (tf.random.normal((groups, n, embed)) for n in (queries, keys, keys))

    def timed_step(function):
        @tf.function
        def step(query, key, value):
            with tf.GradientTape() as tape:
                tape.watch([query, key, value])
                loss = tf.reduce_sum(tf.square(function(query, key, value)))
            return tape.gradient(loss, [query, key, value])
        return step

    label = f"spacetime attention core {(groups, queries, keys, embed)}"
    steps = {f"{label}, autodiff gradient": timed_step(autodiff), f"{label}, written-out gradient": timed_step(attend)}
    times = {name: [] for name in steps}
    for round_ in range(rounds + 1):  # the first round warms up
        for name, step in steps.items():
            start = time.perf_counter()
            [g.numpy() for g in step(query, key, value)]
            if round_:
                times[name].append((time.perf_counter() - start) * 1e3)
    return times
