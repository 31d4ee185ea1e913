"""Converts a skeleton dataset into sharded TFRecords plus a manifest, in one command.

    python -m slnl_tf.data.build --dataset=ntu60 --benchmark=ntu60_xsub \\
        --raw_dir=/data/nturgb+d_skeletons --out_dir=/data/records \\
        [--ignore_list=ntu60_samples_with_missing_skeletons.txt] [--normalize]
    python -m slnl_tf.data.build --dataset=kinetics --raw_dir=/data/kinetics-skeleton \\
        --label_names=label_name.txt --out_dir=/data/records
    python -m slnl_tf.data.build --dataset=npy --raw_dir=/data/ntu60_xsub_arrays --out_dir=...
    python -m slnl_tf.data.build --dataset=pyskl --raw_dir=/data/ntu60_3danno.pkl --out_dir=...
    python -m slnl_tf.data.build --dataset=custom --raw_dir=/data/my_data --out_dir=...
    python -m slnl_tf.data.build --dataset=sbu --benchmark=sbu_fold1 --raw_dir=/data/sbu --out_dir=...
    python -m slnl_tf.data.build --dataset=nwucla --raw_dir=/data/NW-UCLA/all_sqe --out_dir=...
    python -m slnl_tf.data.build --dataset=ntu_format --benchmark=cwbg_xsub --raw_dir=/data/cwbg --out_dir=...
    python -m slnl_tf.data.build --dataset=ntu_format --train_performers=1-21 --num_classes=15 ...

Records go to `<out_dir>/<name>/{split}-NNNNN-of-NNNNN.tfrecord` (name: the benchmark or
the dataset) with `manifest.json` beside them. Work is spread over `--workers` processes
one shard at a time (a build too small to pay for starting them runs in one process); each
shard is written to a temporary file and renamed when complete, with a `.json` receipt of
what it read, wrote and skipped and what it was built from, so a rerun keeps the finished
shards whose inputs and options are unchanged and rewrites the rest; files of an earlier
build that this one does not write are removed.
Every skipped sample is listed in `skipped.txt` with its reason, and the final line
reconciles read = written + skipped.
"""
import collections
import hashlib
import json
import multiprocessing
import os
import re
import sys
import time

import numpy as np

from slnl_tf.data import preprocess, records, sources, splits
from slnl_tf.data.preprocess import Preprocessing
from slnl_tf.data.sample import PREPROCESSING_OVERFLOW, SampleError

NTU_FORMATS = ("ntu60", "ntu120", "ntu_format")
DATASETS = (*NTU_FORMATS, "sbu", "nwucla", "kinetics", "npy", "pyskl", "custom")


def _shard_path(out_dir, split, index, count):
    return os.path.join(out_dir, f"{split}-{index:05d}-of-{count:05d}.tfrecord")


def write_shard(task):
    """Reads a shard's items and writes them; returns the receipt (also saved beside it)."""
    import tensorflow as tf

    path, source, items, ignore, storage_dtype, preprocessing, origin = task
    started = time.perf_counter()  # after the TensorFlow import, which a fresh worker pays once
    receipt = {"shard": os.path.basename(path), "read": 0, "written": 0, "skipped": [], "class_counts": {},
               "origin": origin}
    temporary = f"{path}.tmp-{os.getpid()}"
    with tf.io.TFRecordWriter(temporary) as writer:
        for item in items:
            receipt["read"] += 1
            if item.name in ignore:
                receipt["skipped"].append([item.where, "in the ignore list (known to hold no skeleton)"])
                continue
            try:
                sample = source.read(item)
                if not preprocessing.is_identity:
                    sample.data = preprocessing.apply(sample.data)
                    if not np.isfinite(sample.data).all():
                        raise SampleError(item.where, PREPROCESSING_OVERFLOW)
                writer.write(records.serialize(sample, storage_dtype))
            except (SampleError, ValueError) as error:
                # A SampleError names the clip (an array file's index and name, not only the file).
                receipt["skipped"].append([getattr(error, "path", item.where), getattr(error, "problem", str(error))])
                continue
            receipt["written"] += 1
            label = str(sample.label)
            receipt["class_counts"][label] = receipt["class_counts"].get(label, 0) + 1
    os.replace(temporary, path)
    receipt["bytes"] = os.path.getsize(path)
    receipt["seconds"] = round(time.perf_counter() - started, 4)
    with open(f"{path}.json", "w") as f:
        json.dump(receipt, f)
    return receipt


SHARD_FILE = re.compile(r"^.+-\d{5}-of-\d{5}\.tfrecord(\.json|\.tmp-\d+)?$")


def _file_state(where):
    """(size, mtime_ns) of the file an item is read from (`where` may be `path[index]`)."""
    for path in (where, where.rsplit("[", 1)[0]):
        if os.path.isfile(path):
            state = os.stat(path)
            return [state.st_size, state.st_mtime_ns]
    return None


def shard_origin(chunk, ignore, settings):
    """What a shard is built from: the settings shared by the whole build (project version,
    storage dtype, preprocessing, options, layout) and a digest of its items (split, name,
    where, label, ignored or not, and each input file's size and modification time)."""
    inputs = [[item.split, item.name, item.where, item.index, item.label, item.name in ignore,
               _file_state(item.where)] for item in chunk]
    digest = hashlib.sha256(json.dumps(inputs).encode()).hexdigest()
    return json.loads(json.dumps({**settings, "inputs": digest}))  # as the receipt will hold it


def _changes(old, new):
    """Which parts of a shard's origin differ, for the log."""
    if not isinstance(old, dict):
        return "written by a converter that did not record its origin"
    return "another " + ", ".join(key if key != "inputs" else "input (files, names, labels or splits)"
                                  for key in new if old.get(key) != new[key])


def _where(item):
    return f"{item.where}[{item.index}]" if item.index >= 0 and not item.where.endswith("]") else item.where


def unique_names(items):
    """(items, skips): one item per sample name, the first by where it is read from; every
    further one is skipped naming the first (the same clip in two folders or listed twice)."""
    first, skips = {}, []
    for item in sorted(items, key=lambda item: (item.where, item.index)):
        if item.name in first:
            skips.append((_where(item), f"sample name {item.name} again (first at {_where(first[item.name])}); "
                                        "one record per name"))
        else:
            first[item.name] = item
    kept = set(map(id, first.values()))
    return [item for item in items if id(item) in kept], skips


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


# Worker processes each start by importing TensorFlow, which a small build does not win
# back: real NTU files, 2 cores: 300 files in 1.0 s in this process and 4.1 s on two
# workers, 1,500 in 5.1 and 6.4 s; two workers pay from about 2,000.
MIN_CLIPS_FOR_WORKERS = 2000


def build(source, out_dir, *, ignore=frozenset(), storage_dtype="float16", files_per_shard=1000, workers=2,
          min_clips_for_workers=MIN_CLIPS_FOR_WORKERS, options=None, class_names=None, preprocessing=None,
          progress=True, log=print):
    """Converts `source` into records under `out_dir`, each clip passed through
    `preprocessing` (a slnl_tf.data.preprocess.Preprocessing) first; returns the manifest dict.
    The shards are written by `workers` processes when there are at least
    `min_clips_for_workers` clips to write, else in this process."""
    from tqdm import tqdm

    from slnl_tf import __version__

    if storage_dtype not in records.STORAGE_DTYPES:
        raise ValueError(f"storage_dtype must be one of {records.STORAGE_DTYPES}, got {storage_dtype!r}")
    items, listing_skips = source.items()
    items, duplicates = unique_names(items)
    listing_skips = [*listing_skips, *duplicates]
    os.makedirs(out_dir, exist_ok=True)
    plan = plan_shards(items, out_dir, files_per_shard)
    options = {**(options or {}), "files_per_shard": files_per_shard}
    preprocessing = preprocessing or Preprocessing()
    settings = {"project_version": __version__, "storage_dtype": storage_dtype,
                "preprocessing": preprocessing.to_dict(), "options": options, "layout": source.layout}
    receipts, tasks, rebuilt = {}, [], collections.Counter()
    for split, path, chunk in plan:
        origin = shard_origin(chunk, ignore, settings)
        receipt = None
        if os.path.exists(path) and os.path.exists(f"{path}.json"):
            with open(f"{path}.json") as f:
                receipt = json.load(f)
        if receipt is not None and receipt.get("origin") == origin:
            receipts[path] = receipt
            continue
        if receipt is not None:
            rebuilt[_changes(receipt.get("origin"), origin)] += 1
        tasks.append((path, source, chunk, frozenset(ignore), storage_dtype, preprocessing, origin))
    planned = {os.path.basename(path) for _, path, _ in plan}
    stale = sorted(name for name in os.listdir(out_dir) if SHARD_FILE.match(name)
                   and (".tmp-" in name or name.removesuffix(".json") not in planned))
    if tasks or stale:
        # No manifest while shards change: a build stopped half-way is not taken for a dataset.
        if os.path.exists(os.path.join(out_dir, "manifest.json")):
            os.remove(os.path.join(out_dir, "manifest.json"))
    for name in stale:
        os.remove(os.path.join(out_dir, name))
    if stale:
        log(f"removed {len(stale)} files of an earlier build that this one does not write (other shards, "
            f"partial writes)")
    for why, count in sorted(rebuilt.items()):
        log(f"rebuilding {count} finished shard(s): {why}")
    if receipts:
        log(f"resuming: {len(receipts)} of {len(plan)} shards already finished with the same inputs and "
            "options, kept")
    started = time.time()
    clips = sum(len(t[2]) for t in tasks)
    bar = tqdm(total=clips, unit="clip", disable=not progress, file=sys.stderr)
    if workers > 1 and len(tasks) > 1 and clips >= min_clips_for_workers:
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
                                                     "shard_bytes": [], "class_counts": collections.Counter()})
        summary["shards"].append(os.path.basename(path))
        summary["shard_bytes"].append(receipt.get("bytes", os.path.getsize(path)))
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
        "format": "slnl_tf tf.train.Example v1 (slnl_tf/data/records.py)",
        "storage_dtype": storage_dtype,
        "layout": preprocessing.output_layout(source.layout),
        "num_classes": source.num_classes,
        "class_names": class_names,
        "options": options,
        "preprocessing": preprocessing.to_dict(),
        "splits": split_summaries,
        "read": read,
        "written": written,
        "skipped": len(skipped),
    }
    with open(os.path.join(out_dir, "skipped.txt"), "w") as f:
        f.writelines(f"{where}\t{why}\n" for where, why in sorted(skipped))
    if not read:
        raise SampleError(options.get("raw_dir", out_dir), "nothing to convert: the input lists no clips")
    if not written:
        reasons = collections.Counter(why for _, why in skipped).most_common(3)
        raise SampleError(out_dir, f"no clip was written: all {read} inputs were skipped (e.g. "
                                   f"{'; '.join(f'{n} x {why}' for why, n in reasons)}); every reason is in "
                                   f"{os.path.join(out_dir, 'skipped.txt')}")
    with open(os.path.join(out_dir, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=2)
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


# Preprocessing defaults per dataset, from what the strongest published pipelines do
# (docs/design.md): CTR-GCN / SGN centre NTU and NW-UCLA on the first frame's
# spine, and CTR-GCN scales each NW-UCLA clip into [-1, 1]; Kinetics is centred by the
# reader (ST-GCN's -0.5) and preprocessed arrays (npy, pyskl) arrive prepared.
DEFAULT_PREPROCESSING = {
    "ntu60": {"center": "first_frame"},
    "ntu120": {"center": "first_frame"},
    "ntu_format": {"center": "first_frame", "scale": "torso"},
    # SBU's actions are interactions: both persons' joints form one body (preprocess.py, step 4).
    "sbu": {"center": "first_frame", "scale": "torso", "merge_persons": True},
    "nwucla": {"center": "first_frame", "scale": "extent"},
}


def choose_preprocessing(dataset, layout, center="auto", scale="auto", align_view="auto", center_joint=None,
                         normalize=False, merge_persons="auto"):
    """The dataset's default Preprocessing for `layout` with the build flags' choices on
    top (`auto`: the default; `normalize`: 2s-AGCN's rule); ValueError for a bad joint."""
    chosen = {"center": "none", "scale": "none", "align_view": False, "merge_persons": False,
              **DEFAULT_PREPROCESSING.get(dataset, {})}
    if normalize:
        chosen.update(center="every_frame", align_view=True)
    chosen.update({name: value for name, value in (("center", center), ("scale", scale)) if value != "auto"})
    for name, value in (("align_view", align_view), ("merge_persons", merge_persons)):
        if value != "auto":
            chosen[name] = value == "true"
    landmarks = dict(layout.get("landmarks", {}))
    center_joint = landmarks.get("center", 0) if center_joint is None else center_joint
    if not 0 <= center_joint < layout["joints"]:
        raise ValueError(f"--center_joint={center_joint} is not one of the {layout['joints']} joints (0-based)")
    return Preprocessing(center=chosen["center"], center_joint=center_joint, align_view=chosen["align_view"],
                         scale=chosen["scale"], landmarks=tuple(landmarks.items()),
                         coordinate_channels=preprocess.coordinate_channels(layout),
                         merge_persons=chosen["merge_persons"] and layout["persons"] > 1)


def preprocessing_from_flags(dataset, layout):
    """The Preprocessing the build flags ask for on top of the dataset's defaults."""
    from absl import flags

    FLAGS = flags.FLAGS
    return choose_preprocessing(dataset, layout, FLAGS.center, FLAGS.scale, FLAGS.align_view, FLAGS.center_joint,
                                FLAGS.normalize, FLAGS.merge_persons)


def _benchmark(FLAGS, dataset):
    """The --benchmark for a dataset with named protocols, checked."""
    names = splits.benchmarks_of(dataset)
    benchmark = FLAGS.benchmark or names[0]
    if benchmark not in names:
        from absl import app

        raise app.UsageError(f"--benchmark for {dataset} must be one of {names}, got {benchmark!r}")
    return benchmark


def _ntu_format_source(FLAGS):
    """NTU-format data that is not NTU: a named benchmark or --train_performers."""
    from absl import app

    if FLAGS.train_performers:
        try:
            train = splits.parse_number_list(FLAGS.train_performers)
            validation = splits.parse_number_list(FLAGS.validation_performers or "")
        except ValueError as error:
            raise app.UsageError(f"--train_performers / --validation_performers: {error}")
        if not validation <= train:
            raise app.UsageError("--validation_performers must be training performers (a part of --train_performers)")
        protocol = splits.Protocol("ntu_format", "performer", train, "performer", validation,
                                   f"performers {FLAGS.train_performers} train")
        if not FLAGS["num_classes"].present:
            raise app.UsageError("--dataset=ntu_format with --train_performers needs --num_classes")
        return sources.NTUSource(FLAGS.raw_dir, "custom", FLAGS.body_selection, FLAGS.validation, protocol,
                                 FLAGS.num_classes, FLAGS.persons), "ntu_format"
    if FLAGS.benchmark is None:
        raise app.UsageError(f"--dataset=ntu_format needs --benchmark (one of {splits.benchmarks_of('ntu_format')}) "
                             "or --train_performers with --num_classes")
    benchmark = _benchmark(FLAGS, "ntu_format")
    return sources.NTUSource(FLAGS.raw_dir, benchmark, FLAGS.body_selection, FLAGS.validation,
                             classes=FLAGS.num_classes if FLAGS["num_classes"].present else None,
                             persons=FLAGS.persons), benchmark


def make_source(FLAGS):
    """(source, records folder name, class names or None) for the build flags."""
    from absl import app

    label_names = ()
    if FLAGS.label_names:
        try:
            label_names = tuple(sources.kinetics.read_label_names(FLAGS.label_names))
        except OSError as error:
            raise app.UsageError(f"--label_names {FLAGS.label_names!r}: {error.strerror}")
    dataset = FLAGS.dataset
    if FLAGS.persons is not None and dataset not in NTU_FORMATS:
        raise app.UsageError(f"--persons applies to the NTU formats ({', '.join(NTU_FORMATS)}), not {dataset}")
    if dataset in ("ntu60", "ntu120"):
        benchmark = _benchmark(FLAGS, dataset)
        source, name = sources.NTUSource(FLAGS.raw_dir, benchmark, FLAGS.body_selection, FLAGS.validation,
                                         persons=FLAGS.persons), benchmark
    elif dataset == "ntu_format":
        source, name = _ntu_format_source(FLAGS)
        if not label_names and os.path.isfile(os.path.join(FLAGS.raw_dir, "class_names.txt")):
            label_names = tuple(sources.kinetics.read_label_names(os.path.join(FLAGS.raw_dir, "class_names.txt")))
    elif dataset == "sbu":
        benchmark = _benchmark(FLAGS, "sbu")
        source, name = sources.SBUSource(FLAGS.raw_dir, benchmark, FLAGS.validation), benchmark
        label_names = label_names or sources.sbu.CLASS_NAMES
    elif dataset == "nwucla":
        benchmark = _benchmark(FLAGS, "nwucla")
        source, name = sources.NWUCLASource(FLAGS.raw_dir, benchmark, FLAGS.validation), benchmark
        label_names = label_names or sources.nwucla.CLASS_NAMES
    elif dataset == "kinetics":
        source, name = sources.KineticsSource(FLAGS.raw_dir, label_names), "kinetics"
    elif dataset == "npy":
        if FLAGS.channel_names and len(FLAGS.channel_names) != FLAGS.channels:
            raise app.UsageError(f"--channel_names names {len(FLAGS.channel_names)} channels, --channels is "
                                 f"{FLAGS.channels}")
        source = sources.NpySource(FLAGS.raw_dir, FLAGS.num_classes, FLAGS.joints, FLAGS.channels,
                                   tuple(FLAGS.channel_names))
        name = "npy"
    elif dataset == "pyskl":
        source = sources.PysklSource(FLAGS.raw_dir, FLAGS.pyskl_split_prefix, FLAGS.num_classes)
        name = f"pyskl_{FLAGS.pyskl_split_prefix}"
    else:
        source, name = sources.CustomSource(FLAGS.raw_dir), "custom"
    if dataset == "pyskl" and not os.path.isfile(FLAGS.raw_dir):
        raise app.UsageError(f"--raw_dir {FLAGS.raw_dir!r} is not a file (pyskl takes the annotation .pkl)")
    if dataset != "pyskl" and not os.path.isdir(FLAGS.raw_dir):
        raise app.UsageError(f"--raw_dir {FLAGS.raw_dir!r} is not a directory")
    class_names = None
    if label_names:
        # NTU-60's classes are the first 60 of NTU-120's names file.
        class_names = list(label_names[: source.num_classes]) if source.num_classes else list(label_names)
        if source.num_classes and len(class_names) < source.num_classes:
            raise app.UsageError(f"--label_names has {len(class_names)} names for {source.num_classes} classes")
    if dataset == "custom":
        class_names = sources.custom.read_layout(FLAGS.raw_dir)["class_names"]
    return source, name, class_names


def main(argv):
    from absl import app, flags

    FLAGS = flags.FLAGS
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {' '.join(argv[1:])}")
    try:
        source, name, class_names = make_source(FLAGS)
        preprocessing = preprocessing_from_flags(FLAGS.dataset, source.layout)
    except (FileNotFoundError, SampleError, ValueError) as error:
        raise app.UsageError(str(error))
    ignore = splits.read_name_list(FLAGS.ignore_list) if FLAGS.ignore_list else frozenset()
    options = {"dataset": FLAGS.dataset, "raw_dir": os.path.abspath(FLAGS.raw_dir),
               "ignore_list": FLAGS.ignore_list, "body_selection": FLAGS.body_selection,
               "validation": FLAGS.validation}
    if hasattr(source, "benchmark"):
        options["benchmark"] = source.benchmark
        protocol = getattr(source, "protocol", None) or splits.protocol_of(source.benchmark)
        options["protocol"] = protocol.description
    try:
        build(source, os.path.join(FLAGS.out_dir, name), ignore=ignore, storage_dtype=FLAGS.storage_dtype,
              files_per_shard=FLAGS.files_per_shard, workers=FLAGS.workers, options=options,
              class_names=class_names, preprocessing=preprocessing)
    except (FileNotFoundError, SampleError) as error:
        raise app.UsageError(str(error))


def define_flags():
    from absl import flags

    from slnl_tf.data.ntu import BODY_SELECTIONS
    from slnl_tf.data.preprocess import CENTERS, SCALES

    flags.DEFINE_enum("dataset", None, DATASETS, "what --raw_dir holds")
    flags.DEFINE_string("raw_dir", None, "the dataset's files (see the module docstring per dataset)")
    flags.DEFINE_string("out_dir", None, "records go to <out_dir>/<benchmark or dataset>/")
    flags.DEFINE_string("benchmark", None, f"evaluation protocol: {', '.join(splits.BENCHMARKS)} "
                                           "(default: the dataset's first)")
    flags.DEFINE_bool("validation", True, "write the benchmark's validation group (held-out training performers, "
                                          "subjects or sets) as split 'val' instead of 'train'")
    flags.DEFINE_string("train_performers", None, "ntu_format: performers that train, e.g. 1-21 (others test)")
    flags.DEFINE_string("validation_performers", None, "ntu_format: training performers that validate, e.g. 20,21")
    flags.DEFINE_string("ignore_list", None, "file of sample names to skip (the official missing-skeleton list)")
    flags.DEFINE_enum("body_selection", "denoise", BODY_SELECTIONS, "NTU format: which bodies to keep")
    flags.DEFINE_integer("persons", None, "NTU format: bodies kept per clip, in --body_selection's order (default: 2; "
                         "1 for cwbg_xsub, whose files hold one child)", lower_bound=1)
    flags.DEFINE_enum("center", "auto", ("auto",) + CENTERS, "subtract the first person's centre joint: in its "
                      "first frame, or in every frame (auto: the dataset's default, README)")
    flags.DEFINE_integer("center_joint", None, "0-based joint --center uses (default: the layout's centre)")
    flags.DEFINE_enum("scale", "auto", ("auto",) + SCALES, "divide the coordinates by the torso length or half "
                      "the clip's extent (auto: the dataset's default)")
    flags.DEFINE_enum("align_view", "auto", ("auto", "true", "false"), "rotate the first person's first-frame "
                      "spine onto +z and shoulders onto +x (2s-AGCN)")
    flags.DEFINE_enum("merge_persons", "auto", ("auto", "true", "false"), "join the persons' joints into one body "
                      "of joints x persons joints, for interactions (auto: the dataset's default; on for sbu)")
    flags.DEFINE_bool("normalize", False, "2s-AGCN's NTU rule: centre on the spine in every frame and align the view")
    flags.DEFINE_string("label_names", None, "class names, one a line in index order (Kinetics: label_name.txt; "
                                             "ntu_format: default <raw_dir>/class_names.txt)")
    flags.DEFINE_integer("num_classes", 60, "npy, pyskl, ntu_format: number of classes, to check labels",
                         lower_bound=1)
    flags.DEFINE_string("pyskl_split_prefix", "xsub", "pyskl: use the pickle's splits starting with this")
    flags.DEFINE_integer("joints", 25, "npy: joints per skeleton", lower_bound=1)
    flags.DEFINE_integer("channels", 3, "npy: values per joint", lower_bound=1)
    flags.DEFINE_list("channel_names", [], "npy: what each value is (default x,y,z; x,y,score for ST-GCN's "
                                           "Kinetics arrays, so that augmentation leaves the score alone)")
    flags.DEFINE_enum("storage_dtype", "float16", records.STORAGE_DTYPES, "skeleton storage in the records")
    flags.DEFINE_integer("files_per_shard", 1000, "samples per TFRecord shard", lower_bound=1)
    flags.DEFINE_integer("workers", 2, f"parallel worker processes, for builds of {MIN_CLIPS_FOR_WORKERS:,} clips "
                                       "or more (below, starting them costs more than they save)", lower_bound=1)
    flags.mark_flags_as_required(["dataset", "raw_dir", "out_dir"])


def cli():
    """The command line (console script and `python -m`)."""
    from slnl_tf import flags as project_flags

    define_flags()
    project_flags.run(main)


if __name__ == "__main__":
    cli()
