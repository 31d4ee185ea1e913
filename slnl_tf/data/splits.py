"""Evaluation protocols (benchmarks): which samples train, which test, which validate.

A protocol decides by one field of a sample's parsed name (NTU: performer, camera or
setup; SBU: the set; NW-UCLA: the view) which samples train; the others test. Its
validation group is a part of the training samples (held-out performers, subjects or
sets: never test samples) that, when the build keeps validation on, becomes the split
`val`, for choosing checkpoints and watching training without looking at the test split.
"""
import dataclasses

NTU60_XSUB_TRAIN_PERFORMERS = frozenset(
    (1, 2, 4, 5, 8, 9, 13, 14, 15, 16, 17, 18, 19, 25, 27, 28, 31, 34, 35, 38))
NTU60_XVIEW_TRAIN_CAMERAS = frozenset((2, 3))
NTU120_XSUB_TRAIN_PERFORMERS = NTU60_XSUB_TRAIN_PERFORMERS | frozenset(
    (45, 46, 47, 49, 50, 52, 53, 54, 55, 56, 57, 58, 59, 70, 74, 78, 80, 81, 82, 83, 84, 85, 86, 89, 91, 92,
     93, 94, 95, 97, 98, 100, 103))
NTU60_MAX_SETUP = 17  # NTU-60 is setups 1-17 (actions 1-60) of NTU-120
# Two of NTU-60's 20 training performers (about a tenth of the training clips) validate.
NTU_VALIDATION_PERFORMERS = frozenset((35, 38))

# SBU Kinect Interaction's five folds of sets (as in HCN and the SBU paper).
SBU_FOLDS = (
    ("s01s02", "s03s04", "s05s02", "s06s04"),
    ("s02s03", "s02s07", "s03s05", "s05s03"),
    ("s01s03", "s01s07", "s07s01", "s07s03"),
    ("s02s01", "s02s06", "s03s02", "s03s06"),
    ("s04s02", "s04s03", "s04s06", "s06s02", "s06s03"),
)
SBU_SETS = tuple(sorted(s for fold in SBU_FOLDS for s in fold))
NWUCLA_VALIDATION_SUBJECTS = frozenset((10,))  # of the 10 subjects: about a tenth of views 1-2
CWBG_TRAIN_PERFORMERS = frozenset(range(1, 22))  # P001-P021 train, P022-P030 test (its source)
CWBG_VALIDATION_PERFORMERS = frozenset((20, 21))


@dataclasses.dataclass(frozen=True)
class Protocol:
    """`metadata[key] in train` trains (else tests); of those, `metadata[validation_key] in
    validation` validates when validation is on."""

    dataset: str
    key: str
    train: frozenset
    validation_key: str = None
    validation: frozenset = frozenset()
    description: str = ""

    def split_of(self, metadata, validation=False):
        if metadata[self.key] not in self.train:
            return "test"
        if validation and metadata[self.validation_key or self.key] in self.validation:
            return "val"
        return "train"


def _sbu_fold(k):
    test = SBU_FOLDS[k - 1]
    # One set of the next fold validates: about a sixteenth of the training clips.
    held_out = SBU_FOLDS[k % len(SBU_FOLDS)][0]
    return Protocol("sbu", "set", frozenset(s for s in SBU_SETS if s not in test), validation=frozenset((held_out,)),
                    description=f"5-fold cross-validation over the sets: fold {k} ({', '.join(test)}) tests, "
                                f"{held_out} validates")


BENCHMARKS = {
    "ntu60_xsub": Protocol("ntu60", "performer", NTU60_XSUB_TRAIN_PERFORMERS, "performer",
                           NTU_VALIDATION_PERFORMERS, "cross-subject: 20 performers train"),
    "ntu60_xview": Protocol("ntu60", "camera", NTU60_XVIEW_TRAIN_CAMERAS, "performer", NTU_VALIDATION_PERFORMERS,
                            "cross-view: cameras 2 and 3 train"),
    "ntu120_xsub": Protocol("ntu120", "performer", NTU120_XSUB_TRAIN_PERFORMERS, "performer",
                            NTU_VALIDATION_PERFORMERS, "cross-subject: 53 performers train"),
    "ntu120_xset": Protocol("ntu120", "setup", frozenset(range(2, 33, 2)), "performer", NTU_VALIDATION_PERFORMERS,
                            "cross-setup: even setups train"),
    **{f"sbu_fold{k}": _sbu_fold(k) for k in range(1, len(SBU_FOLDS) + 1)},
    "nwucla_xview": Protocol("nwucla", "view", frozenset((1, 2)), "subject", NWUCLA_VALIDATION_SUBJECTS,
                             "cross-view: views 1 and 2 train, view 3 tests"),
    "cwbg_xsub": Protocol("ntu_format", "performer", CWBG_TRAIN_PERFORMERS, "performer",
                          CWBG_VALIDATION_PERFORMERS, "cross-subject: P001-P021 train, P022-P030 test"),
}


def benchmarks_of(dataset):
    return [name for name, protocol in BENCHMARKS.items() if protocol.dataset == dataset]


def protocol_of(benchmark):
    if benchmark not in BENCHMARKS:
        raise ValueError(f"benchmark must be one of {sorted(BENCHMARKS)}, got {benchmark!r}")
    return BENCHMARKS[benchmark]


def split_of(benchmark, metadata, validation=False):
    """'train', 'test' or (with validation) 'val' for a sample's parsed name under a benchmark."""
    return protocol_of(benchmark).split_of(metadata, validation)


def in_dataset(dataset, metadata):
    """Whether a parsed NTU name belongs to ntu60 (setups 1-17) or ntu120 (all)."""
    return dataset == "ntu120" or metadata["setup"] <= NTU60_MAX_SETUP


def parse_number_list(text):
    """`"1-21,25"` -> frozenset({1, ..., 21, 25}); ValueError naming the bad part."""
    numbers = set()
    for part in (p.strip() for p in str(text).split(",") if p.strip()):
        low, _, high = part.partition("-")
        try:
            numbers.update(range(int(low), int(high or low) + 1))
        except ValueError:
            raise ValueError(f"not a number or range a-b: {part!r}")
    return frozenset(numbers)


def read_name_list(path):
    """Sample names, one per line (blank lines and surrounding space ignored)."""
    with open(path) as f:
        return {line.strip() for line in f if line.strip()}
