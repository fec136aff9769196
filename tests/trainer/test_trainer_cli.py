"""train.py rejects bad arguments fast and clearly; data folders are found leniently."""

from __future__ import annotations

import gzip
import shutil
import sys
from pathlib import Path

import pytest

from conftest import TRAINER, run_train, trainer_env


@pytest.fixture
def no_torch(tmp_path) -> dict[str, str]:
    """An environment where importing torch fails: errors must come before the import."""
    fake = tmp_path / "fake"
    (fake / "torch").mkdir(parents=True)
    (fake / "torch" / "__init__.py").write_text("raise ImportError('torch imported too early')\n")
    return trainer_env(PYTHONPATH=str(fake))


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--data", "{missing}"], "argument --data: folder {missing} does not exist"),
        (["--data", "{empty}"], "argument --data: no MNIST IDX files in {empty}"),
        (["--data", "{data}", "--epochs", "-1"], "argument --epochs: must be an integer >= 1, got -1"),
        (["--data", "{data}", "--epochs", "0"], "argument --epochs: must be an integer >= 1, got 0"),
        (["--data", "{data}", "--batch-size", "0"], "argument --batch-size: must be an integer >= 1"),
        (["--data", "{data}", "--lr", "0"], "argument --lr: must be a number > 0"),
        (["--data", "{data}", "--lr", "-0.1"], "argument --lr: must be a number > 0"),
        (["--data", "{data}", "--dropout", "1.5"], "argument --dropout: must be in [0, 1)"),
        (["--data", "{data}", "--optimizer", "adam"], "argument --optimizer: invalid choice"),
        (["--data", "{data}", "--epochs", "two"], "argument --epochs: invalid int value"),
        (["--epochs", "2"], "the following arguments are required: --data"),
    ],
)
def test_bad_arguments_exit_2_with_one_clear_line(args, message, tmp_path, synthetic_root, no_torch):
    (tmp_path / "empty").mkdir()
    paths = {"missing": tmp_path / "nope", "empty": tmp_path / "empty", "data": synthetic_root}
    args = [a.format(**paths) for a in args]
    proc = run_train(args, cwd=tmp_path, env=no_torch, timeout=60)
    assert proc.returncode == 2, proc.stderr
    assert message.format(**paths) in proc.stderr
    assert proc.stderr.strip().splitlines()[-1].startswith("train.py: error: ")
    assert "Traceback" not in proc.stderr and proc.stdout == ""


def test_partial_data_names_the_missing_files(tmp_path, synthetic_root, no_torch):
    raw = tmp_path / "d" / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for f in (synthetic_root / "MNIST" / "raw").glob("train-*"):
        shutil.copy(f, raw)
    proc = run_train(["--data", str(tmp_path / "d")], cwd=tmp_path, env=no_torch, timeout=60)
    assert proc.returncode == 2
    assert "t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte" in proc.stderr


def test_refuses_to_overwrite_a_folder_that_is_not_a_model(tmp_path, synthetic_root, no_torch):
    out = tmp_path / "out"
    out.mkdir()
    (out / "precious.txt").write_text("keep me")
    proc = run_train(["--data", str(synthetic_root), "--model-output", str(out)],
                     cwd=tmp_path, env=no_torch, timeout=60)
    assert proc.returncode == 2
    assert "argument --model-output" in proc.stderr
    assert (out / "precious.txt").read_text() == "keep me"


def test_help_lists_the_hyperparameters():
    import subprocess

    out = subprocess.run([sys.executable, str(TRAINER / "train.py"), "--help"],
                         capture_output=True, text=True, timeout=60).stdout
    for flag in ("--epochs", "--batch-size", "--lr", "--optimizer", "--momentum", "--weight-decay",
                 "--dropout", "--hidden", "--seed", "--device", "--val-fraction", "--num-threads",
                 "--compile", "--model-output", "--log-every", "--max-train-samples"):
        assert flag in out, flag


def _layouts(synthetic_root: Path, tmp: Path) -> dict[str, Path]:
    raw = synthetic_root / "MNIST" / "raw"
    gz = tmp / "asset" / "v1"  # an extra level, as a mounted data asset may have
    gz.mkdir(parents=True)
    for f in raw.iterdir():
        with open(f, "rb") as fin, gzip.open(gz / (f.name + ".gz"), "wb") as fout:
            fout.write(fin.read())
    return {"root": synthetic_root, "mnist": synthetic_root / "MNIST", "raw": raw,
            "gz-nested": tmp / "asset"}


def test_data_folder_is_found_leniently_and_read_by_torchvision(synthetic_root, tmp_path):
    sys.path.insert(0, str(TRAINER))
    try:
        import data
    finally:
        sys.path.remove(str(TRAINER))
    expected = None
    for name, folder in _layouts(synthetic_root, tmp_path).items():
        raw = data.locate_raw(folder)
        (tx, ty), (vx, vy) = data.load_splits(raw)
        assert tx.shape == (1200, 28, 28) and vx.shape == (300, 28, 28), name
        got = (tx.sum().item(), ty.tolist(), vy.tolist())
        assert expected is None or got == expected, name
        expected = got


@pytest.mark.parametrize("steps", [1, 2, 3, 4, 5, 40])
def test_the_one_cycle_schedule_runs_for_any_number_of_steps(steps):
    # 4 steps (batch 1024, 1 epoch, 4,000 images: a sweep over batch sizes meets it) divided by zero.
    import torch

    sys.path.insert(0, str(TRAINER))
    try:
        import train
    finally:
        sys.path.remove(str(TRAINER))
    args = train.build_parser().parse_args(["--data", ".", "--schedule", "onecycle"])
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=args.lr, momentum=args.momentum)
    sched = train.make_schedule(args, opt, steps)
    rates = []
    for _ in range(steps):
        opt.step()
        rates.append(opt.param_groups[0]["lr"])
        if sched is not None:
            sched.step()
    assert len(rates) == steps and max(rates) <= args.lr + 1e-12
    assert sched is not None or steps < 3
