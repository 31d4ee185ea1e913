"""The standard NTU RGB+D evaluation benchmarks."""

NTU60_XSUB_TRAIN_PERFORMERS = frozenset(
    (1, 2, 4, 5, 8, 9, 13, 14, 15, 16, 17, 18, 19, 25, 27, 28, 31, 34, 35, 38))
NTU60_XVIEW_TRAIN_CAMERAS = frozenset((2, 3))
NTU120_XSUB_TRAIN_PERFORMERS = NTU60_XSUB_TRAIN_PERFORMERS | frozenset(
    (45, 46, 47, 49, 50, 52, 53, 54, 55, 56, 57, 58, 59, 70, 74, 78, 80, 81, 82, 83, 84, 85, 86, 89, 91, 92,
     93, 94, 95, 97, 98, 100, 103))

BENCHMARKS = {
    # name: (dataset, rule deciding "train" from the parsed sample name)
    "ntu60_xsub": ("ntu60", lambda m: m["performer"] in NTU60_XSUB_TRAIN_PERFORMERS),
    "ntu60_xview": ("ntu60", lambda m: m["camera"] in NTU60_XVIEW_TRAIN_CAMERAS),
    "ntu120_xsub": ("ntu120", lambda m: m["performer"] in NTU120_XSUB_TRAIN_PERFORMERS),
    "ntu120_xset": ("ntu120", lambda m: m["setup"] % 2 == 0),
}
NTU60_MAX_SETUP = 17  # NTU-60 is setups 1-17 (actions 1-60) of NTU-120


def split_of(benchmark, metadata):
    """'train' or 'test' for a sample's parsed name under a benchmark."""
    if benchmark not in BENCHMARKS:
        raise ValueError(f"benchmark must be one of {sorted(BENCHMARKS)}, got {benchmark!r}")
    return "train" if BENCHMARKS[benchmark][1](metadata) else "test"


def in_dataset(dataset, metadata):
    """Whether a parsed NTU name belongs to ntu60 (setups 1-17) or ntu120 (all)."""
    return dataset == "ntu120" or metadata["setup"] <= NTU60_MAX_SETUP


def read_name_list(path):
    """Sample names, one per line (blank lines and surrounding space ignored)."""
    with open(path) as f:
        return {line.strip() for line in f if line.strip()}
