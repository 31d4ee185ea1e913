"""Split logic against the published NTU benchmark counts, on generated sample names.

The real per-setup performer table is not available here, so the names are generated from
the dataset's known structure: every (setup, performer) pair recorded all its actions
(1-60 in setups 1-17, 61-120 in setups 18-32) twice (R001, R002) from 3 cameras, giving
158 pairs x 360 = 56,880 NTU-60 files and 160 more pairs x 360 = 57,600 for NTU-120. The
pairs include every pair of the real missing-skeleton lists; the other pairs are filled in
so that the numbers of training-performer and even-setup pairs are the ones the published
counts imply (112 of 158 NTU-60 pairs with a training performer, 176 of 318 for NTU-120,
152 even-setup pairs). The cross-view counts follow from the grid and the real missing
list alone.
"""
import itertools

import pytest

from slnl_tf.data import ntu, splits
from shared_data import SHARED_DATA

MISSING = {
    "ntu60": SHARED_DATA / "ntu" / "ntu60_samples_with_missing_skeletons.txt",
    "ntu120": SHARED_DATA / "ntu" / "ntu120_samples_with_missing_skeletons.txt",
}
PUBLISHED = {
    "ntu60_xsub": (40091, 16487),
    "ntu60_xview": (37646, 18932),
    "ntu120_xsub": (63026, 50919),
    "ntu120_xset": (54468, 59477),
}


def _pairs(missing_names):
    pairs = {(m["setup"], m["performer"]) for m in map(ntu.parse_name, missing_names)}
    evens_wanted = 152 - sum(setup % 2 == 0 for setup, _ in pairs)
    # (extension setups 18-32?, training performer?) -> number of pairs
    targets = {(False, True): 112, (False, False): 46, (True, True): 64, (True, False): 96}
    for (extension, train), target in targets.items():
        setups = range(18, 33) if extension else range(1, 18)
        performers = [p for p in (range(1, 107) if extension else range(1, 41))
                      if (p in splits.NTU120_XSUB_TRAIN_PERFORMERS) == train]
        cell = set(itertools.product(setups, performers))
        have = len(cell & pairs)
        for pair in sorted(cell - pairs, key=lambda p: (p[0] % 2, p)):  # even setups first
            if have == target:
                break
            if pair[0] % 2 == 0:
                if evens_wanted == 0:
                    continue
                evens_wanted -= 1
            pairs.add(pair)
            have += 1
    return pairs


def _names(pairs):
    for (setup, performer), replication, camera in itertools.product(sorted(pairs), (1, 2), (1, 2, 3)):
        for action in range(1, 61) if setup <= 17 else range(61, 121):
            yield f"S{setup:03d}C{camera:03d}P{performer:03d}R{replication:03d}A{action:03d}"


@pytest.fixture(scope="module")
def generated():
    missing = {name: splits.read_name_list(path) for name, path in MISSING.items()}
    names = list(_names(_pairs(missing["ntu120"])))
    return names, missing


def test_generated_grid_has_the_datasets_size(generated):
    names, missing = generated
    assert len(names) == 114480
    assert sum(splits.in_dataset("ntu60", ntu.parse_name(n)) for n in names) == 56880
    assert len(missing["ntu60"]) == 302 and len(missing["ntu120"]) == 535
    assert missing["ntu60"] <= missing["ntu120"] <= set(names)


@pytest.mark.parametrize("benchmark", sorted(PUBLISHED))
def test_split_counts_match_the_published_numbers(generated, benchmark):
    names, missing = generated
    dataset = splits.BENCHMARKS[benchmark].dataset
    counts = {"train": 0, "test": 0}
    for name in names:
        meta = ntu.parse_name(name)
        if splits.in_dataset(dataset, meta) and name not in missing[dataset]:
            counts[splits.split_of(benchmark, meta)] += 1
    assert (counts["train"], counts["test"]) == PUBLISHED[benchmark]


def test_split_rules():
    meta = ntu.parse_name("S002C001P003R001A010")
    assert splits.split_of("ntu60_xsub", meta) == "test"  # performer 3
    assert splits.split_of("ntu60_xview", meta) == "test"  # camera 1
    assert splits.split_of("ntu120_xset", meta) == "train"  # setup 2
    assert splits.split_of("ntu120_xsub", ntu.parse_name("S020C001P045R001A070")) == "train"
    with pytest.raises(ValueError, match="benchmark must be one of"):
        splits.split_of("ntu60_cs", meta)
