"""The commands the README, docs/ and each command's --help show: every flag they use is a
flag of that program, every --config exists, and README's NTU walk-through runs as written
(on generated raw files in a temp dir, the training shortened by flags appended to it)."""
import functools
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from slnl_tf import flags as project_flags

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
MODULES = {"slnl-train": "slnl_tf.train", "slnl-build": "slnl_tf.data.build", "slnl-evaluate": "slnl_tf.evaluate",
           "slnl-export": "slnl_tf.export", "slnl-predict": "slnl_tf.predict", "slnl-summary": "slnl_tf.summary",
           "slnl-serving-client": "slnl_tf.serving_client", "slnl-visualize": "slnl_tf.visualize",
           "slnl-stream": "slnl_tf.stream",
           "train_main.py": "slnl_tf.train",
           "bench/accuracy.py": "bench/accuracy.py", "bench/run.py": "bench/run.py"}
# Programs that are not this project's.
OTHERS = ("make", "pip", "docker", "curl", "tensorboard", "saved_model_cli", "-v", "-e")


def shell_commands(text):
    """The commands in the ```sh blocks of Markdown `text`: continuation lines joined,
    comments dropped."""
    for block in re.findall(r"```sh\n(.*?)```", text, re.S):
        for line in block.replace("\\\n", " ").splitlines():
            line = re.sub(r"\s+#.*$", "", line).strip()
            if line and not line.startswith("#"):
                yield line


def program_of(arguments):
    """(the MODULES key, the arguments after it) of a command line, or (None, None)."""
    arguments = [a for a in arguments if not re.match(r"^[A-Z_]+=", a)]  # environment assignments
    for index, argument in enumerate(arguments):
        name = argument.split("/bin/")[-1]
        if name in MODULES:
            return name, arguments[index + 1:]
        if argument == "-m" and index + 1 < len(arguments):
            module = arguments[index + 1]
            key = next((k for k, m in MODULES.items() if m == module), None)
            return key, arguments[index + 2:]
    return None, None


@functools.cache
def help_of(program):
    module = MODULES[program]
    command = [sys.executable, module] if module.endswith(".py") else [sys.executable, "-m", module]
    result = subprocess.run([*command, "--help"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, (program, result.stderr[-2000:])
    return result.stdout


def flags_of(program):
    """The flags `program --help` lists, and absl's --flagfile."""
    return set(re.findall(r"^\s+--(?:\[no\])?(\w+):", help_of(program), re.M)) | {"flagfile"}


def check_command(line, where):
    """Problems of one documented command line."""
    program, rest = program_of(shlex.split(line))
    if program is None:
        assert shlex.split(line)[0].split("/")[-1] in OTHERS or line.startswith(OTHERS), f"{where}: {line}"
        return []
    known, problems = flags_of(program), []
    for argument in rest:
        if not argument.startswith("--"):
            continue
        name = argument[2:].split("=")[0]
        if name not in known and not (name.startswith("no") and name[2:] in known):
            problems.append(f"{where}: {program} has no flag --{name}: {line}")
        if name == "config" and argument.split("=", 1)[1] not in project_flags.config_names():
            problems.append(f"{where}: no config {argument}: {line}")
        if name == "flagfile" and argument.startswith("--flagfile=configs/") and not (ROOT / argument[11:]).exists():
            problems.append(f"{where}: no file {argument[11:]}: {line}")
    return problems


@pytest.mark.xdist_group("readme_help")
def test_every_documented_command_uses_flags_its_program_has():
    lines = [(f"{path.name}", line) for path in DOCUMENTS for line in shell_commands(path.read_text())]
    assert len(lines) >= 30
    problems = [p for where, line in lines for p in check_command(line, where)]
    assert not problems, "\n".join(problems)


@pytest.mark.xdist_group("readme_help")
def test_every_usage_line_in_the_commands_help_uses_their_flags():
    problems, usage_lines = [], 0
    for program in ("slnl-train", "slnl-build", "slnl-evaluate", "slnl-export", "slnl-predict", "slnl-serving-client",
                    "slnl-summary", "slnl-visualize", "slnl-stream"):
        for line in help_of(program).split("\n\nflags:")[0].replace("\\\n", " ").splitlines():
            line = re.sub(r"\s+#.*$", "", line).strip()
            if re.match(r"^(slnl-|python )", line) and "..." not in line.replace("[--flag=value ...]", ""):
                usage_lines += 1
                problems += check_command(line, f"{program} --help")
    assert usage_lines >= 6 and not problems, "\n".join(problems)


def _section(text, heading):
    start = text.index(f"\n## {heading}\n")
    return text[start: text.index("\n## ", start + 1)]


@pytest.mark.slow
def test_the_readme_ntu_walk_through_runs_as_written(tmp_path):
    """README's NTU commands in a temp working directory: build into data/records, train with
    the shipped config (found by name), evaluate a run dir and a checkpoint, export, predict.
    Only what makes it short is appended to the training command."""
    from slnl_tf.data import synthetic

    raw = tmp_path / "RAW"
    synthetic.write_raw_dataset(str(raw), num_clips=60, num_classes=6, frames=12, seed=0, log=lambda _: None)
    (tmp_path / "ntu60_samples_with_missing_skeletons.txt").write_text("")
    commands = list(shell_commands(_section((ROOT / "README.md").read_text(), "NTU RGB+D step by step")))
    assert [shlex.split(c)[0] for c in commands] == [
        "slnl-build", "slnl-train", "tensorboard", "slnl-evaluate", "slnl-export", "slnl-predict", "slnl-visualize"]
    shorter = ["--epochs=1", "--frames=8", "--stage_filters=4,4,4,4,8,8", "--fc_units=8", "--skeleton_joints=8",
               "--batch_size=8", "--lr_step_epochs=1,2", "--num_classes=60"]
    outputs = {}
    for command in commands:
        arguments = shlex.split(command.replace("RAW", str(raw)))
        if arguments[0] == "tensorboard":
            assert (tmp_path / arguments[-1]).is_dir()
            continue
        arguments[0] = str(BIN / arguments[0])
        if arguments[0].endswith("slnl-train"):
            arguments += shorter
        result = subprocess.run(arguments, cwd=tmp_path, capture_output=True, text=True, timeout=300)
        assert result.returncode == 0, (command, result.stdout[-2000:], result.stderr[-3000:])
        outputs[Path(arguments[0]).name] = result.stdout
    assert "read 60 = written 60 + skipped 0" in outputs["slnl-build"], outputs["slnl-build"][-500:]
    assert "scored runs/ntu_cs/best.keras on split 'test'" in outputs["slnl-evaluate"]
    assert (tmp_path / "exports" / "slnl_rfa" / "1" / "saved_model.pb").exists()
    assert "S001C001P001R001A001.skeleton" in outputs["slnl-predict"]
    assert (tmp_path / "S001C001P001R001A001.gif").exists() and "frames to" in outputs["slnl-visualize"]
    assert not list(tmp_path.glob("configs"))  # the config came from the package
