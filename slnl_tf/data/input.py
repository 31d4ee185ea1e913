"""The tf.data input of training and evaluation, from the project's TFRecords."""
import json
import os

import numpy as np
import tensorflow as tf

from slnl_tf.data import bones, ops, preprocess, records


def rebuild_command(records_dir, manifest=None):
    """The converter command that (re)builds `records_dir`, from its manifest's options."""
    options = (manifest or {}).get("options", {})
    if options.get("dataset") == "synthetic":
        return f"rm -r {records_dir} && python train_main.py --generate_synthetic_data --data_dir={records_dir} ..."
    if options.get("dataset") and options.get("raw_dir"):
        benchmark = f" --benchmark={options['benchmark']}" if options.get("benchmark") else ""
        return (f"python -m slnl_tf.data.build --dataset={options['dataset']}{benchmark} "
                f"--raw_dir={options['raw_dir']} --out_dir={os.path.dirname(os.path.abspath(records_dir))}")
    return "python -m slnl_tf.data.build --dataset=... --raw_dir=... --out_dir=..."


def read_manifest(records_dir):
    """The manifest.json of a built dataset, with a clear error naming the build command."""
    path = os.path.join(records_dir, "manifest.json")
    if not os.path.exists(path):
        raise FileNotFoundError(f"{path} not found: {records_dir!r} is not a built dataset; build one with "
                                f"`{rebuild_command(records_dir)}`")
    try:
        with open(path) as f:
            manifest = json.load(f)
        manifest["splits"], manifest["layout"]
    except (ValueError, KeyError, TypeError) as error:
        raise ValueError(f"{path} is damaged ({error!r}); rebuild the dataset with `{rebuild_command(records_dir)}`")
    return manifest


def listed_shards(records_dir, manifest, split):
    """The split's shards as the manifest lists them (not a glob: files of another build
    in the folder are not read), each checked to exist and to have the size it was written with."""
    if split not in manifest["splits"] or not manifest["splits"][split]["shards"]:
        raise FileNotFoundError(f"no split {split!r} in {records_dir!r} (splits: {sorted(manifest['splits'])})")
    files = [os.path.join(records_dir, name) for name in manifest["splits"][split]["shards"]]
    sizes = manifest["splits"][split].get("shard_bytes", [None] * len(files))
    for path, size in zip(files, sizes):
        if not tf.io.gfile.exists(path):
            problem = "is missing"
        elif size is not None and tf.io.gfile.stat(path).length != size:
            problem = f"has {tf.io.gfile.stat(path).length} bytes, not the {size} it was written with"
        else:
            continue
        raise FileNotFoundError(f"shard {path} listed in {os.path.join(records_dir, 'manifest.json')} {problem}; "
                                f"rebuild the dataset with `{rebuild_command(records_dir, manifest)}`")
    return files


def data_loss_message(records_dir, splits):
    """Names the shards of `splits` that do not read to their end (a DataLossError while
    reading names no file) and the command that rebuilds them."""
    manifest = read_manifest(records_dir)
    damaged = []
    for path in [path for split in splits for path in listed_shards(records_dir, manifest, split)]:
        try:
            tf.data.TFRecordDataset(path).reduce(np.int64(0), lambda count, _: count + 1)
        except tf.errors.DataLossError as error:
            damaged.append(f"{path} ({error.message.split('}}')[-1].split('[Op:')[0].strip()})")
    what = ", ".join(damaged) if damaged else f"a shard of {', '.join(splits)} in {records_dir}"
    return f"damaged records: {what}; rebuild the dataset with `{rebuild_command(records_dir, manifest)}`"


def make_dataset(records_dir, split, *, batch_size, frames, training, input_context=None, seed=None,
                 crop_ratio=(0.5, 1.0), eval_crop_ratio=0.95, eval_window_position=0.5, rotation_degrees=0.0,
                 scale_range=None, mirror_probability=0.0, eval_mirror=False, shuffle_buffer=2048, keep_names=False,
                 skip_samples=0):
    """Batches of `{"skeleton": (B, C, frames, V, M) float32, "label": (B,) int32}` (plus
    `name` when keep_names) from the split's shards that `<records_dir>/manifest.json` lists.

    training: shards in random order and interleaved, samples shuffled (within windows of
    shuffle_buffer records) before batching, repeated forever (one reproducible stream for
    a given seed, reshuffled every pass), random temporal crop (ratio in crop_ratio) and
    optional rotation / scale / left-right mirror (a share mirror_probability of the clips);
    the last partial batch is dropped; the first `skip_samples` samples of this pipeline's
    stream are skipped (a resumed run). Otherwise: one pass in order, a window of
    eval_crop_ratio of the valid frames at eval_window_position (0.5 = centred), every clip
    mirrored left to right when eval_mirror (flip test-time augmentation).
    batch_size is global: with an `input_context` (from `distribute_datasets_from_function`)
    each pipeline reads its own shards (or its own share of records when there are fewer
    shards than pipelines) and batches its replica's share.
    """
    manifest = read_manifest(records_dir)
    files = listed_shards(records_dir, manifest, split)
    storage_dtype = manifest["storage_dtype"]
    coordinate_channels = preprocess.coordinate_channels(manifest["layout"])
    if rotation_degrees and coordinate_channels < 2:
        raise ValueError(f"rotation needs x, y (and z) channels; {records_dir!r} has channels "
                         f"{manifest['layout'].get('channel_names')}: train with --rotation_degrees=0")
    mirror = bones.mirror_permutation(manifest["layout"]["joints"], manifest["layout"]) \
        if (mirror_probability if training else eval_mirror) else None
    pipelines, pipeline_id = (1, 0) if input_context is None else (
        input_context.num_input_pipelines, input_context.input_pipeline_id)
    per_replica_batch = batch_size if input_context is None else input_context.get_per_replica_batch_size(batch_size)

    shard_files = len(files) >= pipelines

    def permuted(tensor, seed_pair):
        order = tf.argsort(tf.random.stateless_uniform(tf.shape(tensor)[:1], seed_pair))
        return tf.gather(tensor, order)

    def records_of_one_pass(epoch_seed):
        """All records (this pipeline's share), shuffled by epoch_seed when training.

        The shuffles are stateless (shards in a seeded order, then windows of
        shuffle_buffer consecutive records permuted), unlike Dataset.shuffle, whose order
        depends on earlier iterators and on the global seed.
        """
        names = tf.constant(files)
        if training:
            names = permuted(names, tf.stack([epoch_seed, tf.constant(-1, tf.int64)]))
        dataset = tf.data.Dataset.from_tensor_slices(names)
        if shard_files and pipelines > 1:
            dataset = dataset.shard(pipelines, pipeline_id)
        dataset = dataset.interleave(tf.data.TFRecordDataset, cycle_length=min(len(files), 8),
                                     num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
        if not shard_files and pipelines > 1:
            dataset = dataset.shard(pipelines, pipeline_id)
        if training:
            dataset = dataset.batch(shuffle_buffer).enumerate().map(
                lambda window, chunk: permuted(chunk, tf.stack([epoch_seed, window]))).unbatch()
        return dataset

    if training:
        # An endless stream that is a pure function of (seed, epoch, position): each pass
        # is shuffled with its own derived seed and every sample gets a stateless
        # augmentation seed, so the stream does not depend on how many iterators were
        # made before (tf.data's reshuffling state would) and a resumed run can skip to
        # where it stopped.
        base_seed = seed if seed is not None else int(np.random.default_rng().integers(2**31))

        def one_pass(epoch):
            # (record, (epoch seed, index in the pass)): the per-sample seed is stacked in
            # the parallel map below, as a map here would run on one thread per sample.
            epoch_seed = tf.cast(base_seed, tf.int64) * 1000003 + epoch
            return tf.data.Dataset.zip(records_of_one_pass(epoch_seed),
                                       tf.data.Dataset.from_tensors(epoch_seed).repeat(), tf.data.Dataset.range(2**62))

        # Skipped before parsing: a resumed run passes what it already used cheaply.
        dataset = tf.data.Dataset.range(2**62).flat_map(one_pass).skip(skip_samples)
    else:
        dataset = records_of_one_pass(None)

    def augment(features, sample_seed):
        crop_seed, rotation_seed, scale_seed = tf.unstack(tf.random.experimental.stateless_split(sample_seed, 3))
        features = ops.random_temporal_crop(features, crop_seed, frames, *crop_ratio)
        if rotation_degrees:
            features = ops.random_rotation(features, rotation_seed, rotation_degrees, coordinate_channels)
        if scale_range:
            features = ops.random_scale(features, scale_seed, *scale_range, coordinate_channels)
        if mirror:
            # A seed of its own, so that the other draws stay what they were without it.
            mirror_seed = tf.random.experimental.stateless_fold_in(sample_seed, 3)
            features = ops.random_mirror(features, mirror_seed, mirror, mirror_probability)
        return features

    layout = manifest["layout"]
    shape = (layout["channels"], frames, layout["joints"], layout["persons"])
    keys = ("skeleton", "label", "name") if keep_names else ("skeleton", "label")

    def select(features):
        # Static shapes (from the manifest) for the model and for XLA.
        return {**{k: features[k] for k in keys}, "skeleton": tf.ensure_shape(features["skeleton"], shape)}

    # Parsing, cropping and augmenting in one map: each parallel map hands every sample
    # between threads, and with three maps that cost more than the work in them
    # (bench/RESULTS.md, change 9).
    def prepare(record, epoch_seed=None, index=None):
        features = records.parse(record, storage_dtype)
        if training:
            features = augment(features, tf.stack([epoch_seed, index]))
        else:
            features = ops.temporal_window(features, frames, eval_crop_ratio, eval_window_position)
            if mirror:
                features = ops.mirror(features, mirror)
        return select(features)

    dataset = dataset.map(prepare, num_parallel_calls=tf.data.AUTOTUNE)
    return dataset.batch(per_replica_batch, drop_remainder=training).prefetch(tf.data.AUTOTUNE)
