"""Training: strategy, optimizer and schedule, data, checkpoints with exact resume.

The run's position is the optimizer's step counter, restored from the latest checkpoint:
the training data is one deterministic stream for a given seed, and a resumed run skips
the batches already used, so an interrupted and resumed run takes the same steps as an
uninterrupted one (bit-identical with `deterministic=True` on CPU).

Checkpoints are Keras weight files (`model.save_weights`: model and optimizer state) plus
the dropout RNG states, which those files do not hold. tf.train.Checkpoint is not used: it
does not see Keras 3 sub-layers kept in Python lists (our SLnL blocks' non-local paths).
"""
import dataclasses
import json
import math
import os
import re
import signal
import sys
import time
import zipfile

import keras
import numpy as np
import tensorflow as tf

from slnl_tf.data import input as data_input
from slnl_tf import optimizers, plots
from slnl_tf.config import ModelConfig
from slnl_tf.flags import distribution_problem
from slnl_tf.layers import FrequencyAttention
from slnl_tf.model import OUTPUTS, build_losses, build_model

REFERENCE_BATCH = 64  # --learning_rate is the rate at this global batch size


@dataclasses.dataclass
class TrainOptions:
    model_dir: str
    data_dir: str
    train_split: str = "train"
    validation_split: str = "val"  # None or absent from the data: no validation, no best.keras
    epochs: int = 10
    steps_per_epoch: int = None
    batch_size: int = 64
    optimizer: str = "adamw"
    learning_rate: float = 1e-3
    lr_schedule: str = "cosine"
    lr_step_epochs: tuple = (30, 60)
    warmup_epochs: float = 0.5
    weight_decay: float = 1e-4
    crop_min_ratio: float = 0.5
    eval_crop_ratio: float = 0.95
    rotation_degrees: float = 0.0
    scale_range: tuple = ()
    mirror_probability: float = 0.0
    strategy: str = "default"
    training_loop: str = "auto"
    mixed_precision: str = "none"
    jit_compile: bool = False
    skip_absent_persons: bool = False
    seed: int = 0
    init_checkpoint: str = None  # fine-tuning: a .keras model or checkpoint whose fitting layers start training
    verbose: int = 2  # 2: one compact line per epoch (EpochLine); 1: Keras' progress bar; 0: quiet


def make_strategy(name):
    if name == "default":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    if name == "multi_worker":
        problem = distribution_problem(name)
        if problem:
            raise ValueError(problem)
        return tf.distribute.MultiWorkerMirroredStrategy()
    raise ValueError(f"unknown strategy {name!r}")


def uses_custom_loop(options):
    """auto: Keras fit, except under multi_worker, where Keras 3's fit() fails (it peeks the
    first distributed batch and reduces it eagerly: keras-team/keras#20585)."""
    problem = distribution_problem(options.strategy, options.training_loop)
    if problem:
        raise ValueError(problem)
    if options.training_loop == "auto":
        return options.strategy == "multi_worker"
    return options.training_loop == "custom"


def scaled_learning_rate(learning_rate, global_batch):
    """Linear scaling: --learning_rate is for a global batch of 64."""
    return learning_rate * global_batch / REFERENCE_BATCH


def make_schedule(options, steps_per_epoch):
    peak = scaled_learning_rate(options.learning_rate, options.batch_size)
    total = options.epochs * steps_per_epoch
    warmup = int(round(options.warmup_epochs * steps_per_epoch))
    if options.lr_schedule == "cosine":
        return keras.optimizers.schedules.CosineDecay(
            0.0 if warmup else peak, max(1, total - warmup), warmup_target=peak if warmup else None,
            warmup_steps=warmup)
    boundaries = [int(e) * steps_per_epoch for e in options.lr_step_epochs] if options.lr_schedule == "step" else []
    return optimizers.WarmupPiecewise(peak, warmup, boundaries)


def make_optimizer(options, steps_per_epoch):
    schedule = make_schedule(options, steps_per_epoch)
    if options.optimizer == "adamw":
        return optimizers.AdamW(schedule, weight_decay=options.weight_decay)
    return optimizers.SGD(schedule, momentum=0.9, nesterov=True, weight_decay=options.weight_decay or None)


def _for_keras(batch):
    return batch["skeleton"], {name: batch["label"] for name in OUTPUTS}


def validation_split_of(options, manifest):
    """The split training validates on, or None when the data has none (no best.keras)."""
    split = options.validation_split
    return split if split and split in manifest["splits"] else None


def make_training_dataset(options, config, strategy, skip_batches=0):
    """The training stream distributed by `strategy`, past its first `skip_batches` global steps."""

    def training(context):
        # Each step takes the global batch's share of this pipeline (all its replicas' batches).
        return data_input.make_dataset(
            options.data_dir, options.train_split, batch_size=options.batch_size, frames=config.frames,
            training=True, input_context=context, seed=options.seed, crop_ratio=(options.crop_min_ratio, 1.0),
            rotation_degrees=options.rotation_degrees, scale_range=tuple(options.scale_range) or None,
            mirror_probability=options.mirror_probability,
            skip_samples=skip_batches * options.batch_size // context.num_input_pipelines).map(_for_keras)

    return strategy.distribute_datasets_from_function(training)


def make_validation_dataset(options, config):
    """The validation split as a plain dataset (the Validation callback scores it on one
    device), or None when the data has none."""
    split = validation_split_of(options, data_input.read_manifest(options.data_dir))
    if split is None:
        return None
    return data_input.make_dataset(options.data_dir, split, batch_size=options.batch_size, frames=config.frames,
                                   training=False, eval_crop_ratio=options.eval_crop_ratio).map(_for_keras)


def current_step(optimizer):
    """The optimizer's step counter as an int (also for a MirroredVariable)."""
    return int(keras.ops.convert_to_numpy(optimizer.iterations.value))


class CheckpointMisfit(ValueError):
    """A checkpoint that reads but whose variables do not fit the model being built."""


def load_checkpoint_weights(model, path):
    """`model.load_weights(path)`, with an error that names the file when the variables do
    not fit (a checkpoint of a slnl_tf version whose layers had other variables)."""
    try:
        model.load_weights(path)
    except ValueError as error:
        raise CheckpointMisfit(
            f"{path}: this checkpoint does not fit the model being built ({str(error).splitlines()[0]}). "
            "It was written by another model config or slnl_tf version: resume with the flags and code "
            "that wrote it, or train into a new --model_dir") from error


def check_model_config(directory, config):
    """Refuses to load checkpoints from `directory` into a model of another architecture:
    `load_weights` alone fills an SLnL block with fewer non-local paths from the first
    paths in the file without a word."""
    path = os.path.join(directory, CheckpointStore.CONFIG_FILE)
    if config is None or not os.path.exists(path):
        return
    with open(path) as f:
        written = ModelConfig.from_dict(json.load(f))
    differences = written.architecture_differences(config)
    if differences:
        raise ValueError(f"{directory} holds checkpoints of another model ({'; '.join(differences)}): resume with "
                         "the flags that wrote them, or train into a new --model_dir")


class ModelDirInUse(RuntimeError):
    """Another training holds the lock on this --model_dir."""


def lock_model_dir(model_dir):
    """Takes an exclusive lock on `model_dir` for this process (each multi-worker task its
    own) and returns the open lock file, to be kept open while training; the OS frees it
    when the process ends, however it ends. Raises ModelDirInUse naming the holder."""
    import fcntl

    task = json.loads(os.environ.get("TF_CONFIG") or "{}").get("task", {})
    suffix = f"-{task['type']}-{task.get('index', 0)}" if task.get("type") else ""
    path = os.path.join(model_dir, f"training{suffix}.lock")
    lock = open(path, "a+")
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        lock.seek(0)
        holder = lock.read().strip() or "another process"
        lock.close()
        raise ModelDirInUse(f"--model_dir {model_dir} is in use by another training ({holder}; lock {path}): "
                            "wait for it to end, or train into another --model_dir")
    lock.seek(0)
    lock.truncate()
    lock.write(f"pid {os.getpid()} on {os.uname().nodename} since {time.strftime('%Y-%m-%d %H:%M:%S')}\n")
    lock.flush()
    return lock


class CheckpointStore:
    """`ckpt-<step>.weights.h5` (+ `.rng.npz`) files in a directory, listed in
    `checkpoint.json` for people (the files themselves are what counts: each is written under
    a temporary name and renamed, so one that exists is complete unless the disk damaged it),
    and the model's config in `model_config.json` (checked before a restore)."""

    CONFIG_FILE = "model_config.json"
    INDEX_FILE = "checkpoint.json"
    NAME = re.compile(r"ckpt-\d{9}\.weights\.h5")
    READ_ERRORS = (OSError, ValueError, EOFError, zipfile.BadZipFile)  # h5py, Keras, np.load on damaged files

    def __init__(self, directory, model, max_to_keep=3, config=None):
        self.directory, self.model, self.max_to_keep, self.config = directory, model, max_to_keep, config
        os.makedirs(directory, exist_ok=True)

    def checkpoints(self):
        """The checkpoint file names, oldest first (the zero-padded step orders them)."""
        return sorted(name for name in os.listdir(self.directory) if self.NAME.fullmatch(name))

    def _rng_variables(self):
        return [v for v in self.model.variables if v.path.endswith("seed_generator_state")]

    def latest(self):
        names = self.checkpoints()
        return os.path.join(self.directory, names[-1]) if names else None

    def index_problem(self):
        """What is wrong with checkpoint.json (unreadable, or naming files that are gone), or None."""
        path = os.path.join(self.directory, self.INDEX_FILE)
        if not os.path.exists(path):
            return None
        try:
            with open(path) as f:
                listed = json.load(f)["checkpoints"]
            missing = [name for name in listed if not os.path.exists(os.path.join(self.directory, name))]
        except (OSError, ValueError, KeyError, TypeError) as error:
            return f"{path} is unreadable ({error})"
        return f"{path} names missing files {missing}" if missing else None

    def save(self, step):
        name = f"ckpt-{step:09d}.weights.h5"
        path = os.path.join(self.directory, name)
        temporary = os.path.join(self.directory, f"tmp-{os.getpid()}.weights.h5")
        if self.config is not None:
            with open(f"{temporary}.json", "w") as f:
                f.write(self.config.to_json())
            os.replace(f"{temporary}.json", os.path.join(self.directory, self.CONFIG_FILE))
        self.model.save_weights(temporary)
        np.savez(f"{temporary}.rng.npz", *[v.numpy() for v in self._rng_variables()])
        os.replace(f"{temporary}.rng.npz", f"{path}.rng.npz")
        os.replace(temporary, path)
        kept = self.checkpoints()
        for old in kept[: -self.max_to_keep]:
            for stale in (old, f"{old}.rng.npz"):
                if os.path.exists(os.path.join(self.directory, stale)):
                    os.remove(os.path.join(self.directory, stale))
        with open(os.path.join(self.directory, f"{self.INDEX_FILE}.tmp"), "w") as f:
            json.dump({"checkpoints": kept[-self.max_to_keep :]}, f)
        os.replace(os.path.join(self.directory, f"{self.INDEX_FILE}.tmp"),
                   os.path.join(self.directory, self.INDEX_FILE))
        return path

    def restore(self, path):
        check_model_config(os.path.dirname(path), self.config)
        load_checkpoint_weights(self.model, path)
        if os.path.exists(f"{path}.rng.npz"):
            states = np.load(f"{path}.rng.npz")
            for i, variable in enumerate(self._rng_variables()):
                variable.assign(states[f"arr_{i}"])

    def restore_newest_intact(self, log=print, set_aside=True):
        """Restores the newest checkpoint that loads and returns its path (None when there is
        none). Newer ones that do not load are said in the log and, with `set_aside` (the
        chief), renamed `<name>.unreadable`: kept for inspection, never tried again. Raises
        ValueError naming every file when none loads, and CheckpointMisfit at once for a
        checkpoint that reads but does not fit the model: other flags or code, not damage, so
        nothing is renamed."""
        check_model_config(self.directory, self.config)
        problem = self.index_problem()
        if problem:
            log(f"{problem}: the checkpoint files in the directory are used instead")
        failures = []
        for name in reversed(self.checkpoints()):
            path = os.path.join(self.directory, name)
            try:
                self.restore(path)
            except CheckpointMisfit:
                raise
            except self.READ_ERRORS as error:
                failures.append((name, str(error).splitlines()[0]))
                continue
            for bad, why in failures:
                log(f"checkpoint {os.path.join(self.directory, bad)} does not load ({why})" +
                    (f"; renamed {bad}.unreadable" if set_aside else ""))
                for suffix in ("", ".rng.npz"):
                    if set_aside and os.path.exists(os.path.join(self.directory, bad + suffix)):
                        os.replace(os.path.join(self.directory, bad + suffix),
                                   os.path.join(self.directory, f"{bad}.unreadable{suffix}"))
            if failures:
                log(f"using the newest checkpoint that loads: {path}")
            return path
        if failures:
            raise ValueError(f"no checkpoint in {self.directory} loads: " +
                             "; ".join(f"{name}: {why}" for name, why in failures))
        return None


class PreemptionCheckpoint(keras.callbacks.Callback):
    """Saves a checkpoint at every epoch end, and after the current step when SIGTERM
    arrives (then stops training so the process can exit cleanly). Without a store (a
    worker other than the chief) it only stops.

    `requested`: SIGTERM arrived here; `preempted`: training stops after this step. They
    are the same unless `stop_together` (CustomLoop: all workers must stop after the same
    step, so the loop sets `preempted` once any worker's request has reached all)."""

    def __init__(self, store, optimizer):
        super().__init__()
        self.store, self.optimizer = store, optimizer
        self.requested = self.preempted = self.stop_together = False
        self._previous = None

    def on_train_begin(self, logs=None):
        try:
            self._previous = signal.signal(signal.SIGTERM, self._on_sigterm)
        except ValueError:  # not the main thread
            self._previous = None

    def _on_sigterm(self, signum, frame):
        self.requested = True

    def on_train_batch_end(self, batch, logs=None):
        if self.requested and not self.stop_together:
            self.preempted = True
        if self.preempted:
            self.save()
            self.model.stop_training = True

    def on_epoch_end(self, epoch, logs=None):
        self.save()

    def save(self):
        if self.store is not None:
            self.store.save(current_step(self.optimizer))

    def on_train_end(self, logs=None):
        if self._previous is not None:
            signal.signal(signal.SIGTERM, self._previous)


class StopOnNaN(keras.callbacks.Callback):
    """Stops at the first non-finite loss and remembers where."""

    def __init__(self):
        super().__init__()
        self.bad_step = None

    def on_train_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(float(loss)):
            self.bad_step = current_step(self.model.optimizer)
            self.model.stop_training = True


class Throughput(keras.callbacks.Callback):
    """Adds `samples_per_second` and `learning_rate` to the epoch logs (so TensorBoard and
    the history record them)."""

    def __init__(self, global_batch):
        super().__init__()
        self.global_batch = global_batch

    def on_epoch_begin(self, epoch, logs=None):
        self._start, self._steps = time.perf_counter(), 0

    def on_train_batch_end(self, batch, logs=None):
        self._steps += 1

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["samples_per_second"] = self._steps * self.global_batch / max(1e-9, time.perf_counter() - self._start)
            # Keras 3 evaluates the schedule at the current step here.
            logs["learning_rate"] = float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate))


class EpochLine(keras.callbacks.Callback):
    """One line per epoch: the heads' top-1 grouped (p position, v velocity, c concat),
    validation apart, then the learning rate, the rate and the time; Keras' own line lists
    some 30 figures in alphabetical order. Place it after Validation and Throughput."""

    def __init__(self, epochs, log=print):
        super().__init__()
        self.epochs, self.log = epochs, log

    def on_epoch_begin(self, epoch, logs=None):
        self._start = time.perf_counter()

    @staticmethod
    def _figures(logs, prefix):
        heads = " ".join(f"{name[0]} {100 * logs[f'{prefix}{name}_top1']:.1f}" for name in OUTPUTS)
        return f"loss {logs[f'{prefix}loss']:.3f}, top-1 {heads} %"

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        pieces = [f"epoch {epoch + 1}/{self.epochs}", "train " + self._figures(logs, "")]
        if "val_loss" in logs:
            pieces.append("| val " + self._figures(logs, "val_") + f" (c top-5 {100 * logs['val_concat_top5']:.1f} %)")
        if "learning_rate" in logs:
            pieces.append(f"| lr {logs['learning_rate']:.2e}, {logs['samples_per_second']:.0f} clips/s")
        pieces.append(f"{time.perf_counter() - self._start:.0f} s")
        self.log("  ".join(pieces))


class FrequencyMaskImages(keras.callbacks.Callback):
    """Each epoch, the real and imaginary masks of every frequency-attention layer, averaged
    over a fixed batch of clips' person slots (with skip_absent_persons, over the persons
    present and one absent person) and over channels, drawn as heatmaps over temporal x
    joint frequency with a colour scale, one panel per stream and part (slnl_tf/plots.py),
    as the TensorBoard image `frequency_attention/masks`: which frequencies the model keeps.
    With `figure_dir`, the figure before training and after its last epoch is also written
    there (`before_training`, `after_training`, PNG and SVG)."""

    TAG = "frequency_attention/masks"

    def __init__(self, log_dir, clips, figure_dir=None):
        super().__init__()
        self.log_dir, self.clips, self.figure_dir = log_dir, clips, figure_dir
        self.layers = None

    def on_train_begin(self, logs=None):
        if self.layers is not None:  # fit() runs again after a mid-epoch resume
            return
        self.layers = [layer for layer in self.model.layers
                       if isinstance(layer, FrequencyAttention) and layer.variant != "none"]
        if self.layers:
            self.writer = tf.summary.create_file_writer(self.log_dir)
            self.probe = keras.Model(self.model.inputs, [layer.input for layer in self.layers])
            if self.figure_dir and not os.path.exists(os.path.join(self.figure_dir, "before_training.png")):
                plots.save(self.figure("before training"), os.path.join(self.figure_dir, "before_training"))

    def masks(self):
        """{"<stream>, real" / "<stream>, imaginary": (T, V') mean mask, zero frequency centred}."""
        layer_inputs = self.probe(self.clips, training=False)
        layer_inputs = layer_inputs if isinstance(layer_inputs, (list, tuple)) else [layer_inputs]
        masks = {}
        for layer, inputs in zip(self.layers, layer_inputs):
            _, _, real_mask, imag_mask = layer.attention_masks(inputs)
            stream = layer.name.removesuffix("_frequency_attention")
            for part, mask in (("real", real_mask), ("imaginary", imag_mask)):
                masks[f"{stream}, {part}"] = np.fft.fftshift(keras.ops.convert_to_numpy(
                    keras.ops.mean(mask, axis=(0, 1))))
        return masks

    def figure(self, when):
        return plots.frequency_mask_figure(self.masks(), title=f"Frequency attention masks, {when}")

    def on_epoch_end(self, epoch, logs=None):
        if not self.layers:
            return
        png = tf.io.decode_png(plots.png_bytes(self.figure(f"epoch {epoch + 1}")), channels=3)
        with self.writer.as_default():
            tf.summary.image(self.TAG, png[None], step=epoch)
        self.writer.flush()

    def on_train_end(self, logs=None):
        if self.layers and self.figure_dir:
            plots.save(self.figure("after training"), os.path.join(self.figure_dir, "after_training"))


def head_statistics(outputs, labels, losses, top_k):
    """Per-head sums over a batch (loss, top-1 and top-k hits) and the clip count."""
    stats = {}
    for name in OUTPUTS:
        logits = tf.cast(outputs[name], "float32")
        # Loss.call: per-sample values (Loss.__call__ would also divide by the replica count).
        stats[f"{name}_loss"] = tf.reduce_sum(losses[name].call(labels, logits))
        stats[f"{name}_top1"] = tf.reduce_sum(tf.cast(tf.math.in_top_k(labels, logits, 1), "float32"))
        stats[f"{name}_top5"] = tf.reduce_sum(tf.cast(tf.math.in_top_k(labels, logits, top_k), "float32"))
    stats["count"] = tf.cast(tf.shape(labels)[0], "float32")
    return stats


def logs_of(totals, prefix=""):
    """Keras-named logs (loss, <head>_loss, <head>_top1, <head>_top5) from summed statistics."""
    count = max(1.0, totals["count"])
    logs = {f"{prefix}loss": sum(totals[f"{name}_loss"] for name in OUTPUTS) / count}
    for name in OUTPUTS:
        for metric in ("loss", "top1", "top5"):
            logs[f"{prefix}{name}_{metric}"] = totals[f"{name}_{metric}"] / count
    return logs


def add_statistics(totals, stats):
    for key, value in stats.items():
        totals[key] = totals.get(key, 0.0) + float(value)


# The training settings that the HParams dashboard compares runs by, beside every model field.
HPARAM_OPTIONS = ("epochs", "batch_size", "optimizer", "learning_rate", "lr_schedule", "warmup_epochs",
                  "weight_decay", "crop_min_ratio", "eval_crop_ratio", "rotation_degrees", "scale_range",
                  "mirror_probability", "mixed_precision", "seed")
HPARAM_METRICS = (("epoch_concat_top1", "validation", "validation concat top-1"),
                  ("epoch_loss", "train", "training loss"),
                  ("evaluation/fused_top1", "evaluation", "test fused top-1"))


def _hparam_value(value):
    if isinstance(value, (bool, int, float, str)):
        return value
    return ",".join(str(v) for v in value) if isinstance(value, (tuple, list)) else str(value)


def write_run_summary(log_dir, config, options, manifest):
    """TensorBoard's Text panel (`run/configuration`: the resolved flags; `run/data`: the
    dataset; `run/class_names`) and an HParams summary of the model and training settings
    with the metrics to compare runs by: the validation concat top-1, the training loss and
    the final test fused top-1 (written by the evaluation at the end)."""
    from tensorboard.plugins.hparams import api as hparams_api

    hparams = {name: _hparam_value(value) for name, value in dataclasses.asdict(config).items()}
    hparams.update({name: _hparam_value(getattr(options, name)) for name in HPARAM_OPTIONS})
    resolved = os.path.join(options.model_dir, "resolved.flags")
    configuration = (open(resolved).read() if os.path.exists(resolved) else
                     json.dumps({"model": dataclasses.asdict(config), "training": dataclasses.asdict(options)},
                                indent=1, default=str))
    splits = ", ".join(f"{split} {info['written']:,}" for split, info in manifest["splits"].items())
    layout = manifest.get("layout", {})
    data = (f"**{options.data_dir}**: {splits} clips; {config.num_classes} classes; "
            f"{layout.get('joints', config.joints)} joints x {layout.get('persons', config.persons)} persons x "
            f"{layout.get('channels', config.channels)} channels; preprocessing "
            f"`{json.dumps(manifest.get('preprocessing', {}))}`")
    names = manifest.get("class_names") or []
    class_table = "| class | name |\n|---|---|\n" + "\n".join(f"| {i} | {name} |" for i, name in enumerate(names))
    with tf.summary.create_file_writer(log_dir).as_default():
        hparams_api.hparams_config(
            hparams=[hparams_api.HParam(name) for name in hparams],
            metrics=[hparams_api.Metric(tag, group=group, display_name=shown) for tag, group, shown in HPARAM_METRICS])
        hparams_api.hparams(hparams, trial_id=os.path.basename(os.path.normpath(options.model_dir)))
        tf.summary.text("run/configuration", "```\n" + configuration + "\n```", step=0)
        tf.summary.text("run/data", data, step=0)
        tf.summary.text("run/class_names", class_table if names else "(the dataset names no classes)", step=0)


class Validation(keras.callbacks.Callback):
    """At each epoch end, scores the validation set on one device, outside any strategy, and
    adds `val_*` figures (fit()'s names) to the epoch logs, for the callbacks after it.

    The same under every strategy and loop: each worker scores the whole validation set and
    logs the same figures, no collective waits on a worker whose shard ran out, and no
    replica gets an empty share of the last batch (on which oneDNN's convolution returns its
    input unchanged)."""

    def __init__(self, dataset, losses, jit_compile):
        super().__init__()
        self.dataset, self.losses, self.jit_compile = dataset, losses, jit_compile
        self._step = None

    def evaluate(self):
        if self._step is None:
            top_k = min(5, self.model.outputs[0].shape[-1])
            # Any batch size: the last validation batch is smaller and would trace a second graph.
            self._step = tf.function(
                lambda clips, labels: head_statistics(self.model(clips, training=False), labels, self.losses, top_k),
                jit_compile=self.jit_compile, input_signature=(
                    tf.TensorSpec((None, *self.model.input_shape[1:]), "float32"), tf.TensorSpec((None,), "int32")))
        totals = {}
        for clips, targets in self.dataset:
            add_statistics(totals, self._step(clips, targets[OUTPUTS[0]]))
        return logs_of(totals, prefix="val_")

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs.update(self.evaluate())


class CustomLoop:
    """`Model.fit` written with `strategy.run`, for MultiWorkerMirroredStrategy, where Keras
    3's fit() fails (keras-team/keras#20585); it runs under any strategy.

    Each replica's loss is its per-sample losses, summed over the heads, divided by the
    global batch; the optimizer sums the replicas' gradients, so the update is the one of
    the global-batch mean, as in fit(). Losses and top-k counts are summed over all
    replicas for the logs, which carry fit()'s names (validation: the Validation callback).
    A stop requested on any worker (SIGTERM) goes into the next step's reduction, after
    which all workers stop. Drives the Keras callbacks as fit() does.
    """

    def __init__(self, model, losses, strategy, global_batch, jit_compile, preemption):
        self.model, self.losses, self.strategy, self.preemption = model, losses, strategy, preemption
        preemption.stop_together = True
        self.global_batch = float(global_batch)
        self.top_k = min(5, model.outputs[0].shape[-1])
        self._gradients = tf.function(self._gradients_and_statistics, jit_compile=jit_compile)
        self._train_step = tf.function(self._distributed_step)

    def _gradients_and_statistics(self, clips, labels):
        with tf.GradientTape() as tape:
            outputs = self.model(clips, training=True)
            stats = head_statistics(outputs, labels, self.losses, self.top_k)
            loss = tf.add_n([stats[f"{name}_loss"] for name in OUTPUTS]) / self.global_batch
            if self.model.losses:
                loss += tf.add_n(self.model.losses) / self.strategy.num_replicas_in_sync
            scaled = self.model.optimizer.scale_loss(loss)
        return tape.gradient(scaled, self.model.trainable_variables), stats

    def _replica_step(self, clips, labels, stop):
        gradients, stats = self._gradients(clips, labels)
        # Outside the XLA cluster: the optimizer all-reduces the gradients across replicas.
        self.model.optimizer.apply_gradients(zip(gradients, self.model.trainable_variables))
        stats["stop"] = tf.cast(stop, "float32")
        return stats

    def _distributed_step(self, iterator, stop):
        clips, targets = next(iterator)
        per_replica = self.strategy.run(self._replica_step, args=(clips, targets[OUTPUTS[0]], stop))
        return {key: self.strategy.reduce("SUM", value, axis=None) for key, value in per_replica.items()}

    def fit(self, train_data, *, initial_epoch, epochs, steps_per_epoch, callbacks, verbose):
        """Like Model.fit without validation_data."""
        history = keras.callbacks.History()
        callbacks = keras.callbacks.CallbackList([*callbacks, history], add_progbar=verbose != 0,
                                                 verbose=verbose, epochs=epochs, steps=steps_per_epoch,
                                                 model=self.model)
        self.model.stop_training = False
        logs = {}
        callbacks.on_train_begin()
        iterator = iter(train_data)
        for epoch in range(initial_epoch, epochs):
            callbacks.on_epoch_begin(epoch)
            totals = {}
            for step in range(steps_per_epoch):
                callbacks.on_train_batch_begin(step)
                stats = self._train_step(iterator, tf.constant(self.preemption.requested))
                add_statistics(totals, stats)
                if totals.pop("stop") > 0:
                    self.preemption.preempted = True
                callbacks.on_train_batch_end(step, logs_of(totals))
                if self.model.stop_training:
                    break
            logs = logs_of(totals)
            callbacks.on_epoch_end(epoch, logs)
            if self.model.stop_training:
                break
        callbacks.on_train_end(logs)
        return history


class TrainingDiverged(RuntimeError):
    pass


class Preempted(RuntimeError):
    """Training stopped by SIGTERM before its schedule ended, after a checkpoint was saved;
    `model` holds the weights of that checkpoint."""

    def __init__(self, message, model):
        super().__init__(message)
        self.model = model


def build_compiled_model(config, options, steps_per_epoch):
    """The model and optimizer, compiled with the configured losses and top-1 / top-5 per head."""
    if options.skip_absent_persons and options.jit_compile:
        raise ValueError("skip_absent_persons needs jit_compile off (--skip_absent_persons=true with "
                         "--jit_compile=true, or auto with a GPU): the number of persons present varies per batch, "
                         "and XLA compiles fixed shapes only; use --skip_absent_persons=auto")
    model = build_model(config, skip_absent_persons=options.skip_absent_persons)
    optimizer = make_optimizer(options, steps_per_epoch)
    metrics = {name: [keras.metrics.SparseCategoricalAccuracy(name="top1"),
                      keras.metrics.SparseTopKCategoricalAccuracy(min(5, config.num_classes), name="top5")]
               for name in OUTPUTS}
    compile_model(model, config, optimizer, options.jit_compile, metrics)
    return model, optimizer


def compile_model(model, config, optimizer, jit_compile, metrics=None):
    """`model.compile` with the config's losses, and the optimizer's state and the per-head
    loss trackers built here: without a tf.distribute strategy Keras would create them inside
    the first traced train step, and a step that creates variables is traced a second time
    (5 of the 20 s a tiny model's first fit took on 2 cores). Under a strategy Keras builds
    the trackers before tracing."""
    model.compile(optimizer=optimizer, loss=build_losses(config), metrics=metrics, jit_compile=jit_compile)
    model.optimizer.build(model.trainable_variables)  # the loss-scale wrapper under mixed_float16
    if not tf.distribute.has_strategy():
        clip = np.zeros((1, *model.input_shape[1:]), "float32")
        model.compute_loss(y={name: np.zeros((1,), "int32") for name in OUTPUTS}, y_pred=model(clip),
                           training=False)
        model.reset_metrics()


def train(config, options, log=print, extra_callbacks=()):
    """Trains (or resumes) and returns (model, history dict, checkpoint directory); raises
    Preempted after saving a checkpoint when SIGTERM stopped it, and ValueError naming the
    shard when the records are damaged."""
    try:
        return _train(config, options, log, extra_callbacks)
    except tf.errors.DataLossError as error:
        validation_split = validation_split_of(options, data_input.read_manifest(options.data_dir))
        splits = [options.train_split] + ([validation_split] if validation_split else [])
        raise ValueError(data_input.data_loss_message(options.data_dir, splits)) from error


def _train(config, options, log, extra_callbacks):
    manifest = data_input.read_manifest(options.data_dir)
    if options.mixed_precision != "none":
        keras.mixed_precision.set_global_policy(options.mixed_precision)
    strategy = make_strategy(options.strategy)
    clips = manifest["splits"][options.train_split]["written"]
    steps_per_epoch = options.steps_per_epoch or max(1, clips // options.batch_size)
    keras.utils.set_random_seed(options.seed)
    with strategy.scope():
        model, optimizer = build_compiled_model(config, options, steps_per_epoch)
    checkpoint_dir = os.path.join(options.model_dir, "checkpoints")
    # Under multi_worker every worker restores from the chief's directory (a shared file
    # system, as for Keras' BackupAndRestore) and only the chief writes there.
    chief = strategy.extended.should_checkpoint
    store = CheckpointStore(checkpoint_dir, model, config=config)
    restored = store.restore_newest_intact(log, set_aside=chief)
    if restored:
        log(f"resumed from {restored} at step {current_step(optimizer)}")
    elif options.init_checkpoint:
        initialize_from(model, options.init_checkpoint, log)
    log(f"{strategy.num_replicas_in_sync} replica(s), global batch {options.batch_size}, {steps_per_epoch} steps "
        f"per epoch, peak learning rate {scaled_learning_rate(options.learning_rate, options.batch_size):.3g}")

    validation_split = validation_split_of(options, manifest)
    log(f"validation: split {validation_split!r} each epoch, best.keras chosen on it" if validation_split else
        f"validation: none (the data has no split {options.validation_split!r}); best.keras is not written")
    # The frequency-mask images show clips the model does not fit: validation's, else training's.
    probe_clips = next(iter(data_input.make_dataset(options.data_dir, validation_split or options.train_split,
                                                    batch_size=8, frames=config.frames, training=False)))["skeleton"]
    saver = PreemptionCheckpoint(store if chief else None, optimizer)
    nan_guard = StopOnNaN()
    validation_data = make_validation_dataset(options, config)
    # First: the callbacks after it see the validation figures in the epoch logs.
    callbacks = [] if validation_data is None else [Validation(validation_data, build_losses(config),
                                                               options.jit_compile)]
    callbacks += [*extra_callbacks, Throughput(options.batch_size), nan_guard, saver]
    if options.verbose == 2:
        callbacks.append(EpochLine(options.epochs, lambda line: log(line) or sys.stdout.flush()))
    if chief and validation_split:
        callbacks.append(keras.callbacks.ModelCheckpoint(os.path.join(options.model_dir, "best.keras"),
                                                         monitor="val_concat_top1", mode="max", save_best_only=True))
    if chief:
        write_run_summary(os.path.join(options.model_dir, "logs"), config, options, manifest)
        # write_graph off: Keras 3 writes a graph that TensorBoard's Graphs tab cannot show.
        callbacks += [
            keras.callbacks.TensorBoard(os.path.join(options.model_dir, "logs"), update_freq="epoch",
                                        write_graph=False),
            FrequencyMaskImages(os.path.join(options.model_dir, "logs", "frequency_attention"), probe_clips,
                                os.path.join(options.model_dir, "frequency_masks")),
            keras.callbacks.CSVLogger(os.path.join(options.model_dir, "history.csv"), append=True),
        ]
    loop = CustomLoop(model, build_losses(config), strategy, options.batch_size, options.jit_compile,
                      saver) if uses_custom_loop(options) else None
    history = {}
    _fit_to_the_end(model, optimizer, options, steps_per_epoch, loop, callbacks, saver, nan_guard, history,
                    lambda done: make_training_dataset(options, config, strategy, skip_batches=done))
    if nan_guard.bad_step is not None:
        raise TrainingDiverged(
            f"the loss became NaN or inf at step {nan_guard.bad_step}; lower --learning_rate (now "
            f"{options.learning_rate}) or use --mixed_precision=none. The last good checkpoint is in {checkpoint_dir}")
    if chief:
        with open(os.path.join(options.model_dir, "history.json"), "w") as f:
            json.dump({k: [float(v) for v in values] for k, values in history.items()}, f, indent=1)
    if saver.preempted:
        raise Preempted(f"preempted (SIGTERM) at step {current_step(optimizer)} of "
                        f"{options.epochs * steps_per_epoch}: " + (
                            f"checkpoint saved in {checkpoint_dir}; rerun the same command to resume" if chief
                            else "the chief saved the checkpoint"), model)
    return model, history, checkpoint_dir


def _fit_to_the_end(model, optimizer, options, steps_per_epoch, loop, callbacks, saver, nan_guard, history,
                    training_data):
    """Runs epochs from the optimizer's step to the end of the schedule (or a stop), adding
    each epoch's figures to `history`; `training_data(done_steps)` makes the input stream."""
    while not (saver.preempted or nan_guard.bad_step is not None):
        done = current_step(optimizer)
        epoch, into_epoch = divmod(done, steps_per_epoch)
        if epoch >= options.epochs:
            break
        # A run stopped mid-epoch finishes that epoch's remaining steps first.
        schedule = dict(initial_epoch=epoch, epochs=epoch + 1 if into_epoch else options.epochs,
                        steps_per_epoch=steps_per_epoch - into_epoch, callbacks=callbacks,
                        verbose=1 if options.verbose == 1 else 0)
        result = (loop.fit(training_data(done), **schedule) if loop is not None
                  else model.fit(training_data(done), shuffle=False, **schedule))
        for key, values in result.history.items():
            history.setdefault(key, []).extend(values)


def initialize_from(model, path, log=print):
    """Fine-tuning: copies into `model` the weights of every layer of the model at `path` (a
    `.keras` model, or a `.weights.h5` checkpoint with the model_config.json written beside
    it) that has the same name and weight shapes; the others (the classifiers, when the class
    count differs) keep their fresh initialisation. Returns the names of those left fresh."""
    if path.endswith(".keras"):
        try:
            source = keras.saving.load_model(path, compile=False)
        except (OSError, EOFError, zipfile.BadZipFile, ValueError) as error:
            raise ValueError(f"--init_checkpoint={path}: does not load ({str(error).splitlines()[0]})") from error
    else:
        config_path = os.path.join(os.path.dirname(path), CheckpointStore.CONFIG_FILE)
        if not os.path.isfile(path) or not os.path.isfile(config_path):
            raise ValueError(f"--init_checkpoint={path}: give a .keras model, or a .weights.h5 checkpoint with its "
                             f"{CheckpointStore.CONFIG_FILE} beside it")
        with open(config_path) as f:
            source = build_model(ModelConfig.from_dict(json.load(f)))
        load_checkpoint_weights(source, path)
    by_name = {layer.name: layer for layer in source.layers}
    copied, fresh = [], []
    for layer in model.layers:
        if not layer.weights:
            continue
        other = by_name.get(layer.name)
        if other is not None and [tuple(w.shape) for w in other.weights] == [tuple(w.shape) for w in layer.weights]:
            layer.set_weights(other.get_weights())
            copied.append(layer.name)
        else:
            fresh.append(layer.name)
    if not copied:
        raise ValueError(f"--init_checkpoint={path}: no layer of it fits this model (other names or shapes)")
    log(f"initialised {len(copied)} of {len(copied) + len(fresh)} layers from {path}" +
        (f"; trained from scratch: {', '.join(fresh)}" if fresh else ""))
    return fresh


def restore_for_inference(config, checkpoint_path, describe=False):
    """A model with trained weights from a checkpoint directory (its newest checkpoint),
    a `.weights.h5` file, or a saved `.keras` model; with `describe`, (model, the file it
    loaded)."""
    if checkpoint_path.endswith(".keras"):
        try:
            model = keras.saving.load_model(checkpoint_path, compile=False)
        except (OSError, EOFError, zipfile.BadZipFile) as error:
            raise ValueError(f"{checkpoint_path}: does not load ({str(error).splitlines()[0]})") from error
        return (model, checkpoint_path) if describe else model
    model = build_model(config)
    if os.path.isdir(checkpoint_path):
        store = CheckpointStore(checkpoint_path, model, config=config)
        checkpoint_path = store.restore_newest_intact(log=lambda line: print(line, file=sys.stderr),
                                                      set_aside=False)
        if checkpoint_path is None:
            raise FileNotFoundError(f"no checkpoint in {store.directory!r}")
        return (model, checkpoint_path) if describe else model
    if not os.path.exists(checkpoint_path):
        raise FileNotFoundError(f"no checkpoint file {checkpoint_path!r}")
    check_model_config(os.path.dirname(checkpoint_path), config)
    try:
        load_checkpoint_weights(model, checkpoint_path)
    except OSError as error:
        raise ValueError(f"{checkpoint_path}: does not load ({str(error).splitlines()[0]})") from error
    return (model, checkpoint_path) if describe else model
