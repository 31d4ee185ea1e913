"""Where the converter's work items come from, per dataset kind.

A source lists `Item`s (a split, a sample name and where to read it) and reads one item
into a Sample (raising SampleError for bad input). Sources are plain picklable objects so
that worker processes can read items in parallel.
"""
import dataclasses
import fnmatch
import functools
import glob
import os

from slnl_tf.data import arrays, custom, kinetics, ntu, nwucla, preprocess, sbu, splits
from slnl_tf.data.sample import SampleError

NTU60_LABEL_COUNT = 60
DATASET_CLASSES = {"cwbg_xsub": 15}  # named benchmarks of NTU-format data that is not NTU
# Person slots a clip keeps where a benchmark's files never show two bodies: an always-empty
# slot costs the model a second pass and, through the max over persons, a learned floor
# under every feature.
DATASET_PERSONS = {"cwbg_xsub": 1}


@dataclasses.dataclass(frozen=True)
class Item:
    split: str
    name: str
    where: str  # a file path, or "path[index]" for array sources
    index: int = -1
    label: int = -1


def find_files(raw_dir, pattern):
    """(paths, skips): the files under raw_dir (searched recursively, each directory once even
    when links lead to it again, so a link loop is not followed) whose name matches the
    fnmatch `pattern`; one that is not a regular file (a FIFO, a device) is skipped with the reason."""
    paths, skips, seen = [], [], set()
    for directory, subdirectories, names in os.walk(raw_dir, followlinks=True):
        real = os.path.realpath(directory)
        if real in seen:
            subdirectories[:] = []
            continue
        seen.add(real)
        for name in names:
            if fnmatch.fnmatch(name, pattern):
                path = os.path.join(directory, name)
                if os.path.isfile(path):
                    paths.append(path)
                else:
                    skips.append((path, "not a regular file (a FIFO, device or broken link)"))
    return sorted(paths), sorted(skips)


def _require_dir(path, what):
    if not os.path.isdir(path):
        raise FileNotFoundError(f"{what} {path!r} is not a directory")


@dataclasses.dataclass(frozen=True)
class NTUSource:
    """Raw `.skeleton` files under `raw_dir` (searched recursively): NTU RGB+D 60 or 120
    under one of their benchmarks, or other data written in the NTU format (`ntu_format`,
    e.g. CWBG) under a named benchmark or a `protocol` of its own with `classes` classes.
    `persons`: the bodies kept per clip, in `body_selection`'s order (default: 2, or the
    benchmark's DATASET_PERSONS)."""

    raw_dir: str
    benchmark: str
    body_selection: str = "denoise"
    validation: bool = False
    protocol: splits.Protocol = None  # default: the benchmark's
    classes: int = None  # ntu_format: the class count (default: the benchmark's)
    persons: int = None

    @property
    def _protocol(self):
        return self.protocol or splits.protocol_of(self.benchmark)

    @property
    def dataset(self):
        return self._protocol.dataset

    @property
    def _persons(self):
        return self.persons or DATASET_PERSONS.get(self.benchmark, ntu.NUM_PERSONS)

    @property
    def layout(self):
        return {"channels": 3, "joints": 25, "persons": self._persons, "channel_names": ["x", "y", "z"],
                "landmarks": preprocess.LANDMARKS["ntu25"]}

    @property
    def num_classes(self):
        if self.classes:
            return self.classes
        return {"ntu60": NTU60_LABEL_COUNT, "ntu120": 120}.get(self.dataset, DATASET_CLASSES.get(self.benchmark))

    def items(self):
        """(items, skips): files of this dataset with their split; unparsable names and
        NTU-120 files in an NTU-60 build skipped with the reason."""
        _require_dir(self.raw_dir, "--raw_dir")
        items = []
        paths, skips = find_files(self.raw_dir, "*.skeleton")
        for path in paths:
            name = os.path.basename(path)[: -len(".skeleton")]
            try:
                meta = ntu.parse_name(name)
            except ValueError as error:
                skips.append((path, str(error)))
                continue
            if self.dataset == "ntu60" and not splits.in_dataset("ntu60", meta):
                skips.append((path, f"setup {meta['setup']} is NTU-120 only (NTU-60 is setups 1-17)"))
                continue
            items.append(Item(self._protocol.split_of(meta, self.validation), name, path))
        if not items and not skips:
            raise FileNotFoundError(f"no *.skeleton files under --raw_dir {self.raw_dir!r}")
        return items, skips

    def read(self, item):
        sample = ntu.read_sample(item.where, self.body_selection, self._persons)
        if self.num_classes is not None and sample.label >= self.num_classes:
            raise SampleError(item.where, f"action {sample.label + 1} is not in {self.dataset} "
                                          f"({self.num_classes} classes)")
        return sample


@dataclasses.dataclass(frozen=True)
class SBUSource:
    """SBU Kinect Interaction: `raw_dir/<set>/<class>/<take>/skeleton_pos.txt`."""

    raw_dir: str
    benchmark: str = "sbu_fold1"
    validation: bool = False

    layout = {"channels": 3, "joints": sbu.NUM_JOINTS, "persons": sbu.PERSONS, "channel_names": ["x", "y", "z"],
              "joint_names": list(sbu.JOINT_NAMES), "landmarks": preprocess.LANDMARKS["sbu15"]}
    num_classes = len(sbu.CLASS_NAMES)

    def items(self):
        _require_dir(self.raw_dir, "--raw_dir")
        protocol = splits.protocol_of(self.benchmark)
        items = []
        paths, skips = find_files(self.raw_dir, sbu.FILE_NAME)
        for path in paths:
            name = sbu.sample_name(path)
            try:
                meta = sbu.parse_name(name)
            except ValueError as error:
                skips.append((path, str(error)))
                continue
            if meta["set"] not in splits.SBU_SETS:
                skips.append((path, f"set {meta['set']} is in no fold of the SBU protocol"))
                continue
            items.append(Item(protocol.split_of(meta, self.validation), name, path))
        if not items and not skips:
            raise FileNotFoundError(f"no */*/*/{sbu.FILE_NAME} under --raw_dir {self.raw_dir!r}")
        return items, skips

    def read(self, item):
        return sbu.read_sample(item.where)


@dataclasses.dataclass(frozen=True)
class NWUCLASource:
    """NW-UCLA as released with CTR-GCN: `raw_dir/aXX_sYY_eZZ_vWW.json` (searched recursively)."""

    raw_dir: str
    benchmark: str = "nwucla_xview"
    validation: bool = False

    layout = {"channels": 3, "joints": nwucla.NUM_JOINTS, "persons": 1, "channel_names": ["x", "y", "z"],
              "joint_names": list(nwucla.JOINT_NAMES), "landmarks": preprocess.LANDMARKS["kinect20"]}
    num_classes = len(nwucla.ACTIONS)

    def items(self):
        _require_dir(self.raw_dir, "--raw_dir")
        protocol = splits.protocol_of(self.benchmark)
        items = []
        paths, skips = find_files(self.raw_dir, "*.json")
        for path in paths:
            name = os.path.basename(path)[: -len(".json")]
            try:
                meta = nwucla.parse_name(name)
            except ValueError as error:
                skips.append((path, str(error)))
                continue
            items.append(Item(protocol.split_of(meta, self.validation), name, path))
        if not items and not skips:
            raise FileNotFoundError(f"no aXX_sYY_eZZ_vWW.json files under --raw_dir {self.raw_dir!r}")
        return items, skips

    def read(self, item):
        return nwucla.read_sample(item.where)


@dataclasses.dataclass(frozen=True)
class KineticsSource:
    """ST-GCN's Kinetics-skeleton layout: `raw_dir/kinetics_{train,val}/*.json` with
    optional `raw_dir/kinetics_{train,val}_label.json` (labels from there take precedence;
    `has_skeleton: false` clips are skipped); any other sub-directory of JSON files becomes
    a split of its own name."""

    raw_dir: str
    label_names: tuple = ()

    layout = {"channels": 3, "joints": 18, "persons": 2, "channel_names": ["x", "y", "score"]}

    @property
    def num_classes(self):
        return len(self.label_names) or 400

    def items(self):
        _require_dir(self.raw_dir, "--raw_dir")
        items, skips = [], []
        for directory in sorted(glob.glob(os.path.join(self.raw_dir, "*", ""))):
            folder = os.path.basename(os.path.dirname(directory))
            split = split_of_release(folder.replace("kinetics_", ""))
            label_file = os.path.join(self.raw_dir, f"{folder}_label.json")
            info = kinetics.read_label_file(label_file) if os.path.exists(label_file) else {}
            for path in sorted(glob.glob(os.path.join(directory, "*.json"))):
                name = os.path.basename(path)[:-5]
                entry = info.get(name, {})
                label = entry.get("label_index", -1) if isinstance(entry, dict) else None
                if not isinstance(label, int) or isinstance(label, bool):
                    skips.append((path, f"entry {entry!r} in {label_file} has no integer label_index"))
                    continue
                if entry.get("has_skeleton", True) is False:
                    skips.append((path, "has_skeleton is false in the label file"))
                    continue
                items.append(Item(split, name, path, label=label))
        if not items and not skips:
            raise FileNotFoundError(f"no */*.json clips under --raw_dir {self.raw_dir!r}")
        return items, skips

    def read(self, item):
        label = item.label if item.label >= 0 else None
        return kinetics.read_sample(item.where, list(self.label_names) or None, label=label)


def split_of_release(name):
    """The record split of a released split name: Kinetics-skeleton, the ST-GCN / 2s-AGCN
    arrays and PYSKL call their evaluation split `val`, which every paper scores as the test
    set; here `val` is held out from training to choose checkpoints, so theirs is `test`."""
    return "test" if name == "val" else name


_LOADED_ARRAYS = {}  # per worker process: path -> memory-mapped array


@dataclasses.dataclass(frozen=True)
class NpySource:
    """ST-GCN / 2s-AGCN arrays: `raw_dir/{split}_data_joint.npy` (or `{split}_data.npy`)
    beside `raw_dir/{split}_label.pkl`, for every split found."""

    raw_dir: str
    num_classes: int = 60
    joints: int = 25
    channels: int = 3
    channel_names: tuple = ()  # default: x, y(, z)

    @property
    def layout(self):
        return {"channels": self.channels, "joints": self.joints, "persons": 2,
                "channel_names": list(self.channel_names) or preprocess.default_channel_names(self.channels)}

    def items(self):
        _require_dir(self.raw_dir, "--raw_dir")
        items = []
        for label_file in sorted(glob.glob(os.path.join(self.raw_dir, "*_label.pkl"))):
            split = os.path.basename(label_file)[: -len("_label.pkl")]
            candidates = [os.path.join(self.raw_dir, f"{split}_data{s}.npy") for s in ("_joint", "")]
            data_file = next((c for c in candidates if os.path.exists(c)), None)
            if data_file is None:
                raise FileNotFoundError(f"{label_file} has no {candidates[0]} or {candidates[1]}")
            names, labels = arrays.read_name_label_pkl(label_file)
            count = len(arrays.load_npy(data_file))
            if count != len(names):
                raise SampleError(data_file, f"{count} clips but {len(names)} names in {label_file}")
            items += [Item(split_of_release(split), n, data_file, i, l)
                      for i, (n, l) in enumerate(zip(names, labels))]
        if not items:
            raise FileNotFoundError(f"no *_label.pkl with its data .npy under --raw_dir {self.raw_dir!r}")
        return items, []

    def read(self, item):
        if item.where not in _LOADED_ARRAYS:
            _LOADED_ARRAYS[item.where] = arrays.load_npy(item.where)
        where = f"{item.where}[{item.index}] ({item.name})"
        return arrays.npy_clip(_LOADED_ARRAYS[item.where], item.index, item.name, item.label, self.num_classes,
                               where)


@dataclasses.dataclass(frozen=True)
class CustomSource:
    """The documented own-data schema (see slnl_tf/data/custom.py and README)."""

    raw_dir: str

    @functools.cached_property
    def _layout(self):
        return custom.read_layout(self.raw_dir)

    @property
    def layout(self):
        layout = self._layout
        return {"channels": layout["channels"], "joints": layout["joints"], "persons": 2,
                "channel_names": layout["channel_names"],
                **{key: layout[key] for key in ("joint_names", "bones", "mirror_pairs") if key in layout}}

    @property
    def num_classes(self):
        return len(self._layout["class_names"])

    def items(self):
        _require_dir(self.raw_dir, "--raw_dir")
        self._layout  # fail early on a bad layout.json
        rows, skips = custom.read_index(self.raw_dir)
        if not rows and not skips:
            raise FileNotFoundError(f"{os.path.join(self.raw_dir, 'samples.csv')} lists no clips")
        return [Item(split, name, os.path.join(self.raw_dir, "clips", f"{name}.npy"), label=label)
                for name, label, split in rows], skips

    def read(self, item):
        return custom.read_sample(self.raw_dir, item.name, item.label, self._layout)


_LOADED_PICKLES = {}  # per worker process: path -> [(name, Sample or SampleError, splits)]


@dataclasses.dataclass(frozen=True)
class PysklSource:
    """A PYSKL / MMAction2 annotation pickle (`raw_dir` is the .pkl file). Splits are the
    pickle's split names that start with `split_prefix` (e.g. `xsub` -> xsub_train,
    xsub_val), without the prefix."""

    raw_dir: str
    split_prefix: str = "xsub"
    num_classes: int = 60

    @property
    def layout(self):
        for _, entry, _ in self._annotations():
            if not isinstance(entry, SampleError):
                return {"channels": entry.data.shape[0], "joints": entry.data.shape[2], "persons": 2,
                        "channel_names": entry.metadata["channel_names"]}
        return {}

    def _annotations(self):
        if self.raw_dir not in _LOADED_PICKLES:
            _LOADED_PICKLES[self.raw_dir] = list(arrays.read_pyskl(self.raw_dir, self.num_classes))
        return _LOADED_PICKLES[self.raw_dir]

    def items(self):
        if not os.path.isfile(self.raw_dir):
            raise FileNotFoundError(f"--raw_dir {self.raw_dir!r} is not a PYSKL annotation file")
        items, skips = [], []
        for index, (name, _, split_names) in enumerate(self._annotations()):
            chosen = [s[len(self.split_prefix):].lstrip("_") for s in split_names if s.startswith(self.split_prefix)]
            if not chosen:
                skips.append((f"{self.raw_dir}[{index}] ({name})", f"in no '{self.split_prefix}*' split"))
                continue
            items += [Item(split_of_release(split), name, f"{self.raw_dir}[{index}]", index) for split in chosen]
        return items, skips

    def read(self, item):
        _, entry, _ = self._annotations()[item.index]
        if isinstance(entry, SampleError):
            raise entry
        return entry
