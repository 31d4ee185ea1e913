"""The tf.data input of training and evaluation, from the project's TFRecords."""
import json
import os

import tensorflow as tf

from data_pipeline import ops, records


def read_manifest(records_dir):
    """The manifest.json of a built dataset, with a clear error naming the build command."""
    path = os.path.join(records_dir, "manifest.json")
    if not os.path.exists(path):
        raise FileNotFoundError(
            f"{path} not found: {records_dir!r} is not a built dataset; build one with "
            "`python -m data_pipeline.build --dataset=... --raw_dir=... --out_dir=...`")
    with open(path) as f:
        return json.load(f)


def make_dataset(records_dir, split, *, batch_size, frames, training, input_context=None, seed=None,
                 crop_ratio=(0.5, 1.0), eval_crop_ratio=0.95, rotation_degrees=0.0, scale_range=None,
                 shuffle_buffer=2048, keep_names=False):
    """Batches of `{"skeleton": (B, C, frames, V, M) float32, "label": (B,) int32}` (plus
    `name` when keep_names) from `<records_dir>/<split>-*.tfrecord`.

    training: shards in random order and interleaved, samples shuffled before batching,
    repeated forever, random temporal crop (ratio in crop_ratio) and optional rotation /
    scale; the last partial batch is dropped. Otherwise: one pass in order, centre crop of
    eval_crop_ratio. batch_size is global: with an `input_context` (from
    `distribute_datasets_from_function`) each pipeline reads its own shards (or its own
    share of records when there are fewer shards than pipelines) and batches its replica's
    share.
    """
    manifest = read_manifest(records_dir)
    files = sorted(tf.io.gfile.glob(os.path.join(records_dir, f"{split}-*.tfrecord")))
    if not files:
        raise FileNotFoundError(f"no {split}-*.tfrecord in {records_dir!r} (splits: {sorted(manifest['splits'])})")
    storage_dtype = manifest["storage_dtype"]
    coordinate_channels = 2 if manifest["layout"].get("channel_names", [""])[-1] == "score" else 3
    pipelines, pipeline_id = (1, 0) if input_context is None else (
        input_context.num_input_pipelines, input_context.input_pipeline_id)
    per_replica_batch = batch_size if input_context is None else input_context.get_per_replica_batch_size(batch_size)

    dataset = tf.data.Dataset.from_tensor_slices(files)
    shard_files = len(files) >= pipelines
    if shard_files and pipelines > 1:
        dataset = dataset.shard(pipelines, pipeline_id)
    if training:
        dataset = dataset.shuffle(len(files), seed=seed, reshuffle_each_iteration=True)
    dataset = dataset.interleave(tf.data.TFRecordDataset, cycle_length=min(len(files), 8),
                                 num_parallel_calls=tf.data.AUTOTUNE, deterministic=not training)
    if not shard_files and pipelines > 1:
        dataset = dataset.shard(pipelines, pipeline_id)
    if training:
        dataset = dataset.shuffle(shuffle_buffer, seed=seed, reshuffle_each_iteration=True).repeat()
    dataset = dataset.map(lambda s: records.parse(s, storage_dtype), num_parallel_calls=tf.data.AUTOTUNE)

    def augment(features, seed_pair):
        crop_seed, rotation_seed, scale_seed = tf.unstack(tf.random.experimental.stateless_split(seed_pair, 3))
        features = ops.random_temporal_crop(features, crop_seed, frames, *crop_ratio)
        if rotation_degrees:
            features = ops.random_rotation(features, rotation_seed, rotation_degrees, coordinate_channels)
        if scale_range:
            features = ops.random_scale(features, scale_seed, *scale_range, coordinate_channels)
        return features

    if training:
        seeds = tf.data.Dataset.random(seed=seed).batch(2)
        dataset = tf.data.Dataset.zip((dataset, seeds)).map(augment, num_parallel_calls=tf.data.AUTOTUNE)
    else:
        dataset = dataset.map(lambda f: ops.center_temporal_crop(f, frames, eval_crop_ratio),
                              num_parallel_calls=tf.data.AUTOTUNE)
    keys = ("skeleton", "label", "name") if keep_names else ("skeleton", "label")
    dataset = dataset.map(lambda f: {k: f[k] for k in keys}, num_parallel_calls=tf.data.AUTOTUNE)
    return dataset.batch(per_replica_batch, drop_remainder=training).prefetch(tf.data.AUTOTUNE)
