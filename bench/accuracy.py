"""Accuracy on real datasets: one command reruns a row of README's results table and prints it.

    python bench/accuracy.py --recipe=sbu                    # 5 folds, SLnL-rFA and the HCN-like baseline
    python bench/accuracy.py --recipe=cwbg --seeds=0,1,2 --models=slnl
    python bench/accuracy.py --recipe=nwucla --raw_dir=/data/NW-UCLA/all_sqe
    python bench/accuracy.py --recipe=sbu --folds=1 --epochs=20   # a shortened look at one fold
    python bench/accuracy.py --recipe=cwbg --train_flag=--eval_mirror   # the recipe with a change
    python bench/accuracy.py --from_json=bench/accuracy-sbu.json,more.json  # runs of records as one row

For each benchmark of the recipe (SBU: its five folds; CWBG, NW-UCLA: one split, run once
per seed) the dataset is built from --raw_dir with the dataset's default preprocessing
(skipped when already built), then `train_main.py --flagfile=configs/<recipe>.flags` trains
SLnL-rFA and, with the same recipe, the HCN-like baseline (`--m1=0 --m2=6 --attention=none
--loss=ce`), one run at a time, each in its own process on all cores. A run's test figures
are those train_main prints: the final weights (end of the schedule) on the test split,
never a checkpoint chosen on it. Printed: per run, the test top-1 of each head and fused,
the training top-1 of the concat head in the last epoch, and the wall time; per model, the
mean and spread (min-max) over the runs, as one markdown table row; then SLnL-rFA's lead
over the baseline in fused top-1, paired by split and seed, with its standard error, a
sign-flip test's p-value and whether that is a measurable difference (p < 0.05). The
figures go to `--out` (JSON; default bench/accuracy-<recipe>.json, the table row's record,
or in --work_dir when --epochs or --train_flag changes the recipe). A run that finished
with the same command in the same --work_dir is reused, so adding seeds or rerunning after
an interruption only trains what is missing; --from_json joins records made elsewhere.
"""
import json
import math
import os
import shutil
import subprocess
import sys
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED_DATA = os.path.join(os.path.dirname(ROOT), "shared", "data")
BASELINE_FLAGS = ("--m1=0", "--m2=6", "--attention=none", "--loss=ce")
HEADS = ("position", "velocity", "concat", "fused")
RECIPES = {
    # name: (build flags, benchmarks, default raw dir, protocol, published)
    "sbu": (("--dataset=sbu",), [f"sbu_fold{k}" for k in range(1, 6)], os.path.join(SHARED_DATA, "sbu"),
            "5-fold cross-validation", "HCN 98.6, VA-LSTM 97.2, ST-LSTM 93.3"),
    "cwbg": (("--dataset=ntu_format",), ["cwbg_xsub"], os.path.join(SHARED_DATA, "cwbg"),
             "cross-subject (P001-P021 train, P022-P030 test)", "none published"),
    "nwucla": (("--dataset=nwucla",), ["nwucla_xview"], None, "cross-view (views 1, 2 train; view 3 tests)",
               "HBRNN 78.5, AGC-LSTM 93.3, CTR-GCN 96.5"),
}


def build_data(recipe, benchmark, raw_dir, data_root, log=print):
    """Builds `benchmark` under data_root (once) and returns its records directory."""
    out = os.path.join(data_root, benchmark)
    if os.path.exists(os.path.join(out, "manifest.json")):
        return out
    command = [sys.executable, "-m", "slnl_tf.data.build", *RECIPES[recipe][0], f"--benchmark={benchmark}",
               f"--raw_dir={raw_dir}", f"--out_dir={data_root}"]
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    if result.returncode != 0:
        raise SystemExit(f"building {benchmark} failed:\n{result.stderr[-3000:]}")
    log(result.stdout.strip().splitlines()[-1])
    return out


def train_once(recipe, data_dir, model_dir, seed, extra_flags, log=print):
    """Runs train_main once; returns its test metrics, last-epoch training top-1 and seconds.
    A finished run in `model_dir` is reused when its command and the recipe's flagfile are
    the same."""
    command = [sys.executable, "train_main.py", f"--flagfile=configs/{recipe}.flags", f"--data_dir={data_dir}",
               f"--model_dir={model_dir}", f"--seed={seed}", *extra_flags]
    with open(os.path.join(ROOT, "configs", f"{recipe}.flags")) as f:
        recipe_flags = f.read()
    record = os.path.join(model_dir, "accuracy-run.json")
    if os.path.exists(record):
        with open(record) as f:
            finished = json.load(f)
        # The same command line with an edited flagfile is another run.
        if finished["command"] == command[1:] and finished.get("flagfile") == recipe_flags:
            log(f"reusing the finished run in {model_dir}")
            return finished["run"]
    # Otherwise a fresh run: train_main would resume (and finish at once) from what is there.
    shutil.rmtree(model_dir, ignore_errors=True)
    started = time.time()
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    seconds = time.time() - started
    if result.returncode != 0:
        raise SystemExit(f"training failed ({' '.join(command)}):\n{result.stdout[-2000:]}\n{result.stderr[-3000:]}")
    with open(os.path.join(model_dir, "eval_test", "metrics.json")) as f:
        metrics = json.load(f)
    with open(os.path.join(model_dir, "history.json")) as f:
        history = json.load(f)
    run = {"test_top1": {head: metrics[f"{head}_top1"] for head in HEADS}, "samples": metrics["samples"],
           "scored": metrics.get("scored"), "train_concat_top1": history["concat_top1"][-1],
           "epochs": len(history["concat_top1"]), "seconds": round(seconds, 1)}
    with open(record, "w") as f:
        json.dump({"command": command[1:], "flagfile": recipe_flags, "run": run}, f, indent=1)
    return run


def summarize(runs):
    """Mean and (min, max) per head over runs."""
    summary = {}
    for head in HEADS:
        values = [run["test_top1"][head] for run in runs]
        summary[head] = {"mean": sum(values) / len(values), "min": min(values), "max": max(values)}
    seconds = [run["seconds"] for run in runs]
    summary["minutes"] = {"mean": sum(seconds) / len(seconds) / 60, "max": max(seconds) / 60}
    summary["train_concat_top1"] = min(run["train_concat_top1"] for run in runs)
    return summary


def run_key(run):
    """(benchmark, seed): what identifies a run within a model's runs and pairs it across models."""
    return run["benchmark"], run["seed"]


def compare(slnl_runs, baseline_runs, head="fused", alpha=0.05):
    """SLnL-rFA minus the baseline on `head`, paired by (benchmark, seed): both models of a
    pair trained on the same split with the same input stream (order, crops, augmentation),
    so the fold's difficulty and the data's draw cancel in each difference. Two-sided
    sign-flip test: under "no difference" each pair's sign is a coin toss; exact for up to
    16 pairs (all 2^n flips), else 2^16 random flips."""
    def keyed(runs):
        return {run_key(run): run["test_top1"][head] for run in runs}

    slnl, baseline = keyed(slnl_runs), keyed(baseline_runs)
    if set(slnl) != set(baseline):
        raise ValueError(f"the models ran different (benchmark, seed) pairs: {sorted(set(slnl) ^ set(baseline))}")
    differences = np.array([100 * (slnl[key] - baseline[key]) for key in sorted(slnl)])
    n = len(differences)
    if n <= 16:
        signs = 1 - 2 * ((np.arange(2**n)[:, None] >> np.arange(n)) & 1)
    else:
        signs = np.random.default_rng(0).choice([1, -1], size=(2**16, n))
    observed = abs(differences.sum())
    # The tolerance counts flips that tie the observed sum up to float rounding as extreme.
    p_value = float(np.mean(np.abs(signs @ differences) >= observed - 1e-9))
    mean = float(differences.mean())
    standard_error = float(differences.std(ddof=1) / math.sqrt(n)) if n > 1 else float("nan")
    if p_value < alpha:
        verdict = "SLnL-rFA leads" if mean > 0 else "the baseline leads"
    else:
        verdict = "no measurable difference"
    return {"head": head, "pairs": n, "mean_difference": mean, "standard_error": standard_error,
            "p_value": p_value, "alpha": alpha, "verdict": verdict,
            "ahead": int((differences > 0).sum()), "behind": int((differences < 0).sum())}


def comparison_line(comparison):
    c = comparison
    return (f"SLnL-rFA - baseline, {c['head']} top-1, {c['pairs']} runs paired by split and seed: "
            f"{c['mean_difference']:+.1f} points (standard error {c['standard_error']:.1f}; ahead in {c['ahead']}, "
            f"behind in {c['behind']}), sign-flip p = {c['p_value']:.3f}: {c['verdict']} at {c['alpha']:g}")


def _figure(stats):
    return f"{100 * stats['mean']:.1f} ({100 * stats['min']:.1f}-{100 * stats['max']:.1f})"


def table_row(recipe, summaries, runs_per_model, epochs, train_flags=()):
    """The README table's row for a recipe: dataset | protocol | SLnL-rFA | baseline | published."""
    _, _, _, protocol, published = RECIPES[recipe]
    cells = []
    for model in ("slnl", "baseline"):
        if model not in summaries:
            cells.append("not run")
            continue
        s = summaries[model]
        heads = ", ".join(f"{head[0]} {100 * s[head]['mean']:.1f}" for head in HEADS[:3])
        cells.append(f"**{_figure(s['fused'])}** ({heads}); {s['minutes']['mean']:.0f} min a run")
    runs = f"{runs_per_model} run" + ("s" if runs_per_model != 1 else "")
    config = " ".join((f"configs/{recipe}.flags", *train_flags))
    return (f"| {recipe} | {protocol}, {runs}, {epochs} epochs, `{config}` | "
            f"{cells[0]} | {cells[1]} | {published} |")


def main(argv):
    from absl import app, flags

    FLAGS = flags.FLAGS
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {' '.join(argv[1:])}")
    if FLAGS.from_json:
        try:
            report(saved_results(FLAGS.from_json), FLAGS.out)
        except ValueError as error:
            raise app.UsageError(f"--from_json: {error}")
        return
    if FLAGS.recipe is None:
        raise app.UsageError("--recipe is needed (or --from_json)")
    build_flags, benchmarks, default_raw, _, _ = RECIPES[FLAGS.recipe]
    raw_dir = FLAGS.raw_dir or default_raw
    if raw_dir is None or not os.path.exists(raw_dir):
        raise app.UsageError(f"--raw_dir is needed for {FLAGS.recipe} (the dataset's files; {raw_dir!r} not found)")
    if FLAGS.folds:
        chosen = [int(k) for k in FLAGS.folds]
        if FLAGS.recipe != "sbu" or not set(chosen) <= set(range(1, 6)):
            raise app.UsageError("--folds is for --recipe=sbu: numbers 1-5")
        benchmarks = [f"sbu_fold{k}" for k in chosen]
    seeds = [int(s) for s in FLAGS.seeds] if FLAGS.seeds else [0]
    work = FLAGS.work_dir or os.path.join(ROOT, "runs", "accuracy", FLAGS.recipe)
    extra = ([f"--epochs={FLAGS.epochs}"] if FLAGS.epochs else []) + FLAGS.train_flag
    results = {"recipe": FLAGS.recipe, "train_flags": FLAGS.train_flag, "runs": {}}
    for model in FLAGS.models:
        model_flags = list(BASELINE_FLAGS) if model == "baseline" else []
        runs = []
        for benchmark in benchmarks:
            data_dir = build_data(FLAGS.recipe, benchmark, raw_dir, os.path.join(work, "data"))
            for seed in seeds:
                model_dir = os.path.join(work, f"{model}-{benchmark}-seed{seed}")
                run = train_once(FLAGS.recipe, data_dir, model_dir, seed, model_flags + extra)
                run.update(benchmark=benchmark, seed=seed)
                runs.append(run)
                print(f"{model} {benchmark} seed {seed}: test top-1 " + ", ".join(
                    f"{head} {100 * run['test_top1'][head]:.1f}" for head in HEADS) +
                    f" ({run['samples']} clips); training concat top-1 {100 * run['train_concat_top1']:.1f} "
                    f"after {run['epochs']} epochs; {run['seconds'] / 60:.1f} min", flush=True)
        results["runs"][model] = runs
    report(results, FLAGS.out or default_out(FLAGS.recipe, work, changed=bool(extra)))


def report(results, out=None):
    """Adds each model's summary, the table row and (both models run) the comparison to
    `results`, prints the row and the comparison, and writes `results` to `out` as JSON."""
    runs = results["runs"]
    results["summary"] = {model: summarize(model_runs) for model, model_runs in runs.items()}
    first = next(iter(runs.values()))
    if {"slnl", "baseline"} <= set(runs):
        results["comparison"] = compare(runs["slnl"], runs["baseline"])
    results["row"] = table_row(results["recipe"], results["summary"], len(first), first[0]["epochs"],
                               results.get("train_flags", []))
    print(results["row"])
    if "comparison" in results:
        print(comparison_line(results["comparison"]))
    if out:
        with open(out, "w") as f:
            json.dump(results, f, indent=1)
        print(f"wrote {out}")


def saved_results(paths):
    """The records that bench/accuracy.py wrote (--from_json), as one: their runs merged, so
    that seeds trained in another --work_dir or on another machine join a row."""
    from absl import app

    merged = None
    for path in paths:
        try:
            with open(path) as f:
                results = json.load(f)
        except (OSError, ValueError) as error:
            raise app.UsageError(f"--from_json: cannot read {path}: {error}")
        if not isinstance(results, dict) or results.get("recipe") not in RECIPES or not results.get("runs"):
            raise app.UsageError(f"--from_json: {path} is not a record of bench/accuracy.py")
        recipe = (results["recipe"], results.get("train_flags", []))
        if merged is None:
            merged = {"recipe": recipe[0], "train_flags": recipe[1], "runs": {}}
        elif recipe != (merged["recipe"], merged["train_flags"]):
            raise app.UsageError(f"--from_json: {path} is another recipe ({recipe[0]} {recipe[1]}) than {paths[0]}")
        for model, runs in results["runs"].items():
            have = {run_key(run) for run in merged["runs"].get(model, [])}
            repeated = sorted(have & {run_key(run) for run in runs})
            if repeated:
                raise app.UsageError(f"--from_json: {path} repeats {model} runs {repeated}")
            merged["runs"].setdefault(model, []).extend(runs)
    for runs in merged["runs"].values():
        runs.sort(key=run_key)
    return merged


def default_out(recipe, work_dir, changed):
    """Where the figures go without --out: beside README's table for the recipe as it is; in the
    work directory for a changed recipe, so that a variant never replaces the row's record."""
    return os.path.join(work_dir if changed else os.path.join(ROOT, "bench"), f"accuracy-{recipe}.json")


if __name__ == "__main__":
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from absl import flags

    from slnl_tf import flags as project_flags

    flags.DEFINE_enum("recipe", None, sorted(RECIPES), "which dataset's recipe (configs/<recipe>.flags)")
    flags.DEFINE_string("raw_dir", None, "the dataset's files (default: ../shared/data/<dataset> for sbu, cwbg)")
    flags.DEFINE_list("models", ["slnl", "baseline"], "slnl (the recipe as it is) and/or baseline (HCN-like)")
    flags.DEFINE_list("folds", [], "sbu: folds to run (default: all five)")
    flags.DEFINE_list("seeds", [], "seeds per benchmark (default: 0)")
    flags.DEFINE_integer("epochs", None, "override the recipe's epochs (a shortened look; not a table figure)")
    flags.DEFINE_multi_string("train_flag", [], "a train_main flag added to the recipe's for every run (repeatable; "
                                                "the printed row names it)")
    flags.DEFINE_string("work_dir", None, "records and runs go here (default: runs/accuracy/<recipe>)")
    flags.DEFINE_list("from_json", [], "train nothing: print the row and the comparison of records this bench "
                                       "wrote, their runs merged (written only with --out)")
    flags.DEFINE_string("out", None, "JSON of the figures (default: bench/accuracy-<recipe>.json; in "
                                       "--work_dir when --epochs or --train_flag changes the recipe)")
    project_flags.run(main)
