"""The package as `pip install .` lays it out (not the checkout): the shipped configs found
by name from any directory, the console scripts, and the data code inside slnl_tf."""
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
COMMANDS = ("slnl-train", "slnl-build", "slnl-evaluate", "slnl-export", "slnl-predict", "slnl-summary",
            "slnl-serving-client", "slnl-visualize", "slnl-stream")


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """A non-editable install of the checkout's package (no dependencies) and its environment."""
    tmp_path = tmp_path_factory.mktemp("installed")
    source = tmp_path / "source"
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(
        ".venv", ".git", "runs", "build", "data", "*.egg-info", "__pycache__", ".pytest_cache", "tests", "bench"))
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
                    "--target", str(tmp_path / "site"), str(source)], check=True, capture_output=True)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    return tmp_path / "site", elsewhere, {**os.environ, "PYTHONPATH": str(tmp_path / "site")}


def _run(arguments, cwd, env):
    return subprocess.run(arguments, cwd=cwd, env=env, capture_output=True, text=True, timeout=120)


def test_installed_package_holds_the_configs_and_no_top_level_generic_names(installed):
    site, _, _ = installed
    assert sorted(p.name for p in site.iterdir() if not p.name.endswith(".dist-info")) == ["bin", "slnl_tf"]
    shipped = {str(p.relative_to(site / "slnl_tf" / "configs")) for p in (site / "slnl_tf" / "configs").rglob("*.flags")}
    in_checkout = {str(p.relative_to(ROOT / "configs")) for p in (ROOT / "configs").rglob("*.flags")}
    assert shipped == in_checkout and "ntu_cs.flags" in shipped and "ablation/loss_ce.flags" in shipped
    assert {p.name for p in (site / "bin").iterdir()} >= set(COMMANDS)


def test_a_config_by_name_works_from_any_directory_nested_flagfiles_included(installed):
    site, elsewhere, env = installed
    # ablation/loss_ce reads configs/ntu_cs.flags inside: from here that is the package's file.
    result = _run([sys.executable, "-m", "slnl_tf.train", "--config=ablation/loss_ce", "--data_dir=not_built",
                   "--model_dir=m"], elsewhere, env)
    assert result.returncode == 1 and "--data_dir=not_built is not a built dataset" in result.stderr, result.stderr
    result = _run([sys.executable, "-m", "slnl_tf.train", "--config=no_such"], elsewhere, env)
    assert result.returncode == 1 and "--config=no_such: no such config" in result.stderr and "ntu_cs" in result.stderr
    assert not list(elsewhere.iterdir())


def test_console_scripts_show_their_documentation_and_flags(installed):
    site, elsewhere, env = installed
    for command, flag in (("slnl-train", "--config"), ("slnl-evaluate", "--checkpoint")):
        result = _run([sys.executable, str(site / "bin" / command), "--help"], elsewhere, env)
        assert result.returncode == 0 and flag in result.stdout, (command, result.stdout[-500:], result.stderr[-500:])
        assert "USAGE" not in result.stdout.splitlines()[0], command  # the module's own documentation first
