"""Converts a skeleton dataset into sharded TFRecords plus a manifest, in one command.

    python -m data_pipeline.build --dataset=ntu60 --benchmark=ntu60_xsub \\
        --raw_dir=/data/nturgb+d_skeletons --out_dir=/data/records \\
        [--ignore_list=ntu60_samples_with_missing_skeletons.txt] [--normalize]
    python -m data_pipeline.build --dataset=kinetics --raw_dir=/data/kinetics-skeleton \\
        --label_names=label_name.txt --out_dir=/data/records
    python -m data_pipeline.build --dataset=npy --raw_dir=/data/ntu60_xsub_arrays --out_dir=...
    python -m data_pipeline.build --dataset=pyskl --raw_dir=/data/ntu60_3danno.pkl --out_dir=...
    python -m data_pipeline.build --dataset=custom --raw_dir=/data/my_data --out_dir=...

Records go to `<out_dir>/<name>/{split}-NNNNN-of-NNNNN.tfrecord` (name: the benchmark or
the dataset) with `manifest.json` beside them. Work is spread over `--workers` processes
one shard at a time; each shard is written to a temporary file and renamed when complete,
with a `.json` receipt of what it read, wrote and skipped, so a rerun skips finished shards.
Every skipped sample is listed in `skipped.txt` with its reason, and the final line
reconciles read = written + skipped.
"""
import collections
import json
import multiprocessing
import os
import sys
import time

from data_pipeline import records, sources, splits
from data_pipeline.sample import SampleError

DATASETS = ("ntu60", "ntu120", "kinetics", "npy", "pyskl", "custom")


def _shard_path(out_dir, split, index, count):
    return os.path.join(out_dir, f"{split}-{index:05d}-of-{count:05d}.tfrecord")


def write_shard(task):
    """Reads a shard's items and writes them; returns the receipt (also saved beside it)."""
    import tensorflow as tf

    path, source, items, ignore, storage_dtype = task
    started = time.perf_counter()  # after the TensorFlow import, which a fresh worker pays once
    receipt = {"shard": os.path.basename(path), "read": 0, "written": 0, "skipped": [], "class_counts": {}}
    temporary = f"{path}.tmp-{os.getpid()}"
    with tf.io.TFRecordWriter(temporary) as writer:
        for item in items:
            receipt["read"] += 1
            if item.name in ignore:
                receipt["skipped"].append([item.where, "in the ignore list (known to hold no skeleton)"])
                continue
            try:
                sample = source.read(item)
                writer.write(records.serialize(sample, storage_dtype))
            except (SampleError, ValueError) as error:
                receipt["skipped"].append([item.where, getattr(error, "problem", str(error))])
                continue
            receipt["written"] += 1
            label = str(sample.label)
            receipt["class_counts"][label] = receipt["class_counts"].get(label, 0) + 1
    os.replace(temporary, path)
    receipt["seconds"] = round(time.perf_counter() - started, 4)
    with open(f"{path}.json", "w") as f:
        json.dump(receipt, f)
    return receipt


def plan_shards(items, out_dir, files_per_shard):
    """[(split, shard path, items)] with items in name order within each split."""
    by_split = collections.defaultdict(list)
    for item in items:
        by_split[item.split].append(item)
    plan = []
    for split, members in sorted(by_split.items()):
        members.sort(key=lambda item: (item.name, item.index))
        count = -(-len(members) // files_per_shard)
        for index in range(count):
            chunk = members[index * files_per_shard : (index + 1) * files_per_shard]
            plan.append((split, _shard_path(out_dir, split, index, count), chunk))
    return plan


def build(source, out_dir, *, ignore=frozenset(), storage_dtype="float16", files_per_shard=1000, workers=2,
          options=None, class_names=None, progress=True, log=print):
    """Converts `source` into records under `out_dir`; returns the manifest dict."""
    from tqdm import tqdm

    from slnl_tf import __version__

    if storage_dtype not in records.STORAGE_DTYPES:
        raise ValueError(f"storage_dtype must be one of {records.STORAGE_DTYPES}, got {storage_dtype!r}")
    items, listing_skips = source.items()
    os.makedirs(out_dir, exist_ok=True)
    plan = plan_shards(items, out_dir, files_per_shard)
    receipts, tasks = {}, []
    for split, path, chunk in plan:
        if os.path.exists(path) and os.path.exists(f"{path}.json"):
            with open(f"{path}.json") as f:
                receipts[path] = json.load(f)
        else:
            tasks.append((path, source, chunk, frozenset(ignore), storage_dtype))
    if receipts:
        log(f"resuming: {len(receipts)} of {len(plan)} shards already finished, skipped")
    started = time.time()
    bar = tqdm(total=sum(len(t[2]) for t in tasks), unit="clip", disable=not progress, file=sys.stderr)
    if workers > 1 and len(tasks) > 1:
        context = multiprocessing.get_context("spawn")  # TF is not fork-safe
        with context.Pool(min(workers, len(tasks))) as pool:
            for receipt in pool.imap_unordered(write_shard, tasks):
                receipts[os.path.join(out_dir, receipt["shard"])] = receipt
                bar.update(receipt["read"])
    else:
        for task in tasks:
            receipts[task[0]] = write_shard(task)
            bar.update(receipts[task[0]]["read"])
    bar.close()
    elapsed = time.time() - started

    split_summaries = {}
    skipped = [list(s) for s in listing_skips]
    for split, path, _ in plan:
        receipt = receipts[path]
        summary = split_summaries.setdefault(split, {"read": 0, "written": 0, "skipped": 0, "shards": [],
                                                     "class_counts": collections.Counter()})
        summary["shards"].append(os.path.basename(path))
        summary["read"] += receipt["read"]
        summary["written"] += receipt["written"]
        summary["skipped"] += len(receipt["skipped"])
        summary["class_counts"].update({int(k): v for k, v in receipt["class_counts"].items()})
        skipped += receipt["skipped"]
    for summary in split_summaries.values():
        summary["class_counts"] = {str(k): v for k, v in sorted(summary["class_counts"].items())}
    read = sum(s["read"] for s in split_summaries.values()) + len(listing_skips)
    written = sum(s["written"] for s in split_summaries.values())
    manifest = {
        "project_version": __version__,
        "format": "slnl_tf tf.train.Example v1 (data_pipeline/records.py)",
        "storage_dtype": storage_dtype,
        "layout": source.layout,
        "num_classes": source.num_classes,
        "class_names": class_names,
        "options": {**(options or {}), "files_per_shard": files_per_shard},
        "splits": split_summaries,
        "read": read,
        "written": written,
        "skipped": len(skipped),
    }
    with open(os.path.join(out_dir, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=2)
    with open(os.path.join(out_dir, "skipped.txt"), "w") as f:
        f.writelines(f"{where}\t{why}\n" for where, why in sorted(skipped))
    for where, why in sorted(skipped)[:20]:
        log(f"skipped {where}: {why}")
    if len(skipped) > 20:
        log(f"... {len(skipped) - 20} more skipped samples listed in {os.path.join(out_dir, 'skipped.txt')}")
    for split, summary in sorted(split_summaries.items()):
        log(f"{split}: {summary['written']} written, {summary['skipped']} skipped, {len(summary['shards'])} shards")
    log(f"read {read} = written {written} + skipped {len(skipped)} "
        f"({len(tasks)} shards written in {elapsed:.1f} s, {len(receipts) - len(tasks)} reused) -> {out_dir}")
    if read != written + len(skipped):
        raise RuntimeError(f"bookkeeping error: read {read} != written {written} + skipped {len(skipped)}")
    return manifest


def main(argv):
    from absl import app, flags

    FLAGS = flags.FLAGS
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {' '.join(argv[1:])}")
    label_names = ()
    if FLAGS.label_names:
        try:
            label_names = tuple(sources.kinetics.read_label_names(FLAGS.label_names))
        except OSError as error:
            raise app.UsageError(f"--label_names {FLAGS.label_names!r}: {error.strerror}")
    if FLAGS.dataset in ("ntu60", "ntu120"):
        benchmark = FLAGS.benchmark or f"{FLAGS.dataset}_xsub"
        if splits.BENCHMARKS.get(benchmark, (None,))[0] != FLAGS.dataset:
            names = [b for b, (d, _) in splits.BENCHMARKS.items() if d == FLAGS.dataset]
            raise app.UsageError(f"--benchmark for {FLAGS.dataset} must be one of {names}, got {benchmark!r}")
        source = sources.NTUSource(FLAGS.raw_dir, benchmark, FLAGS.body_selection, FLAGS.normalize)
        name = benchmark
    elif FLAGS.dataset == "kinetics":
        source, name = sources.KineticsSource(FLAGS.raw_dir, label_names), "kinetics"
    elif FLAGS.dataset == "npy":
        source = sources.NpySource(FLAGS.raw_dir, FLAGS.num_classes, FLAGS.joints, FLAGS.channels)
        name = "npy"
    elif FLAGS.dataset == "pyskl":
        source = sources.PysklSource(FLAGS.raw_dir, FLAGS.pyskl_split_prefix, FLAGS.num_classes)
        name = f"pyskl_{FLAGS.pyskl_split_prefix}"
    else:
        source, name = sources.CustomSource(FLAGS.raw_dir), "custom"
    if FLAGS.dataset == "pyskl" and not os.path.isfile(FLAGS.raw_dir):
        raise app.UsageError(f"--raw_dir {FLAGS.raw_dir!r} is not a file (pyskl takes the annotation .pkl)")
    if FLAGS.dataset != "pyskl" and not os.path.isdir(FLAGS.raw_dir):
        raise app.UsageError(f"--raw_dir {FLAGS.raw_dir!r} is not a directory")
    ignore = splits.read_name_list(FLAGS.ignore_list) if FLAGS.ignore_list else frozenset()
    options = {"dataset": FLAGS.dataset, "raw_dir": os.path.abspath(FLAGS.raw_dir),
               "ignore_list": FLAGS.ignore_list, "body_selection": FLAGS.body_selection,
               "normalize": FLAGS.normalize}
    if FLAGS.dataset in ("ntu60", "ntu120"):
        options["benchmark"] = source.benchmark
    try:
        # NTU-60's classes are the first 60 of NTU-120's names file.
        class_names = list(label_names[: source.num_classes]) or None
        if FLAGS.dataset == "custom" and class_names is None:
            class_names = sources.custom.read_layout(FLAGS.raw_dir)["class_names"]
        build(source, os.path.join(FLAGS.out_dir, name), ignore=ignore, storage_dtype=FLAGS.storage_dtype,
              files_per_shard=FLAGS.files_per_shard, workers=FLAGS.workers, options=options,
              class_names=class_names)
    except (FileNotFoundError, SampleError) as error:
        raise app.UsageError(str(error))


def define_flags():
    from absl import flags

    from data_pipeline.ntu import BODY_SELECTIONS

    flags.DEFINE_enum("dataset", None, DATASETS, "what --raw_dir holds")
    flags.DEFINE_string("raw_dir", None, "the dataset's files (see the module docstring per dataset)")
    flags.DEFINE_string("out_dir", None, "records go to <out_dir>/<benchmark or dataset>/")
    flags.DEFINE_string("benchmark", None, f"NTU split: {', '.join(splits.BENCHMARKS)} (default: xsub)")
    flags.DEFINE_string("ignore_list", None, "file of sample names to skip (the official missing-skeleton list)")
    flags.DEFINE_enum("body_selection", "denoise", BODY_SELECTIONS, "NTU: which 2 bodies to keep")
    flags.DEFINE_bool("normalize", False, "NTU: centre on the spine and rotate (2s-AGCN) before writing")
    flags.DEFINE_string("label_names", None, "class names, one a line in index order (Kinetics: label_name.txt)")
    flags.DEFINE_integer("num_classes", 60, "npy, pyskl: number of classes, to check labels", lower_bound=1)
    flags.DEFINE_string("pyskl_split_prefix", "xsub", "pyskl: use the pickle's splits starting with this")
    flags.DEFINE_integer("joints", 25, "npy: joints per skeleton", lower_bound=1)
    flags.DEFINE_integer("channels", 3, "npy: values per joint", lower_bound=1)
    flags.DEFINE_enum("storage_dtype", "float16", records.STORAGE_DTYPES, "skeleton storage in the records")
    flags.DEFINE_integer("files_per_shard", 1000, "samples per TFRecord shard", lower_bound=1)
    flags.DEFINE_integer("workers", 2, "parallel worker processes", lower_bound=1)
    flags.mark_flags_as_required(["dataset", "raw_dir", "out_dir"])


if __name__ == "__main__":
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from absl import app

    define_flags()
    app.run(main)
