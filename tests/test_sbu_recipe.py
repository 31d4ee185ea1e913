"""The shipped SBU recipe learns real human motion: one fold, a shortened schedule, on CPU.

The recipe's full schedule (200 epochs) and all five folds are bench/accuracy.py's job; this
checks in about a minute and a half that configs/sbu.flags, the SBU reader and its preprocessing
together learn the real interactions far above chance (1/8). The recipe the project shipped
before (configs/ntu_cs.flags at half width, T=32, 30-60 epochs, no merged persons) reached
59-71 % per fold at its full schedule, under the floor here.
"""
import json
import subprocess
import sys
from pathlib import Path

import pytest

from slnl_tf.data import build, sbu, sources
from shared_data import SHARED_DATA

ROOT = Path(__file__).resolve().parents[1]
SHORT_EPOCHS = 30
FUSED_TOP1_FLOOR = 0.75  # 87.3-89.1 % measured (seeds 0-2, 2 cores)


@pytest.mark.slow
def test_sbu_recipe_on_fold_1_learns_far_above_chance(tmp_path):
    if not sorted((SHARED_DATA / "sbu").glob(f"*/*/*/{sbu.FILE_NAME}")):
        pytest.skip("no SBU files in shared/data")
    source = sources.SBUSource(str(SHARED_DATA / "sbu"), "sbu_fold1", validation=True)
    data_dir = tmp_path / "sbu_fold1"
    build.build(source, str(data_dir), workers=1, progress=False, log=lambda _: None,
                preprocessing=build.choose_preprocessing("sbu", source.layout))
    model_dir = tmp_path / "run"
    result = subprocess.run(
        [sys.executable, "train_main.py", "--flagfile=configs/sbu.flags", f"--data_dir={data_dir}",
         f"--model_dir={model_dir}", f"--epochs={SHORT_EPOCHS}", "--seed=0"],
        cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    metrics = json.loads((model_dir / "eval_test" / "metrics.json").read_text())
    assert metrics["scored"]["split"] == "test" and metrics["samples"] == 55
    history = json.loads((model_dir / "history.json").read_text())
    # 77-81 % measured at 30 epochs (seeds 0-2), still rising: half the clips are mirrored,
    # which slows fitting; the full schedule reaches 100 %.
    assert history["concat_top1"][-1] > 0.7, history["concat_top1"][-5:]
    assert metrics["fused_top1"] >= FUSED_TOP1_FLOOR, metrics
