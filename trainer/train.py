"""Train a small CNN on MNIST IDX files and track it with MLflow.

    python train.py --data DIR [--epochs 3] [--batch-size 128] [--lr 0.005] ...

DIR is torchvision's MNIST layout (DIR/MNIST/raw/*-ubyte, plain or .gz); DIR may also
be the MNIST/ or raw/ folder itself. Validation uses the test split (t10k) unless
--val-fraction holds out part of the training split instead.

MLflow: `mlflow.start_run()` resumes the run named by MLFLOW_RUN_ID when set (Azure ML
and the local aml-tui workspace set it), else starts one in experiment "mnist" (or
MLFLOW_EXPERIMENT_NAME). The model is saved to --model-output (default ./outputs/model)
and that folder logged as the run's "model" artifacts. It takes float32 (N, 1, 28, 28)
raw pixels 0..255 and returns logits (N, 10). All MLflow work happens in a child
process forked after `import torch` (see Tracking), in parallel with the training.

Distributed: with WORLD_SIZE > 1 (torchrun, Azure `distribution: pytorch`, aml-tui)
each process trains on its own shard with DDP; --batch-size is per process; rank 0
alone logs and saves.
"""

from __future__ import annotations

import argparse
import gc
import json
import logging
import math
import multiprocessing
import os
import pickle
import shutil
import signal
import sys
import time
import traceback
import warnings
from pathlib import Path

STARTED_AT = time.time()  # before torch and MLflow: the benchmark's start-up vs. the rest

_HERE = Path(__file__).resolve().parent
if str(_HERE) not in sys.path:  # sibling imports also when imported from elsewhere
    sys.path.insert(0, str(_HERE))

import data as mnist_data  # noqa: E402  (torch-free)

OPTIMIZERS = ("adamw", "sgd", "adadelta")
SCHEDULES = ("onecycle", "step", "constant")


# --------------------------------------------------------------------------- arguments


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="train.py",
        description="Train an MNIST CNN; log params, metrics and the model to MLflow.",
    )
    a = p.add_argument
    a("--data", required=True, help="MNIST folder: DIR/MNIST/raw/*-ubyte[.gz], or MNIST/ or raw/ itself")
    a("--epochs", type=int, default=3, help="passes over the training split (default: 3)")
    a("--batch-size", type=int, default=128, help="per process (default: 128)")
    a("--lr", type=float, default=5e-3, help="peak learning rate (default: 0.005)")
    a("--optimizer", choices=OPTIMIZERS, default="adamw", help="default: adamw")
    a("--schedule", choices=SCHEDULES, default="onecycle",
      help="onecycle (warm up then anneal, per step), step (x gamma per epoch), constant (default: onecycle)")
    a("--gamma", type=float, default=0.7, help="lr factor per epoch for --schedule step (default: 0.7)")
    a("--momentum", type=float, default=0.9, help="SGD momentum; AdamW beta1 (default: 0.9)")
    a("--weight-decay", type=float, default=1e-4, help="default: 0.0001")
    a("--label-smoothing", type=float, default=0.0, help="default: 0")
    a("--dropout", type=float, default=0.1, help="before the last layer (default: 0.1)")
    a("--hidden", type=int, default=128, help="units of the hidden dense layer (default: 128)")
    a("--width", type=int, default=16, help="channels of the first conv block; x2, x4 after (default: 16)")
    a("--val-fraction", type=float, default=0.0,
      help="hold out this fraction of the training split for validation; 0 validates on the test split (default: 0)")
    a("--max-train-samples", type=int, default=None, help="train on at most this many images")
    a("--seed", type=int, default=0, help="default: 0")
    a("--device", choices=("auto", "cpu", "cuda"), default="auto", help="default: auto (cuda when available)")
    a("--num-threads", type=int, default=0, help="CPU threads per process; 0: cores / local processes (default: 0)")
    a("--compile", action="store_true", help="torch.compile the model")
    a("--eval-batch-size", type=int, default=2048, help="default: 2048")
    a("--log-every", type=int, default=10, help="log train_loss_step every N steps (default: 10)")
    a("--model-output", default=None,
      help="folder for the MLflow model (default: ./outputs/model); a previous MLflow model there is replaced")
    a("--experiment-name", default=None,
      help="MLflow experiment when no MLFLOW_RUN_ID / MLFLOW_EXPERIMENT_NAME is set (default: mnist)")
    a("--metrics-json", default=None, help="also write a JSON summary here (benchmarks)")
    return p


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Parse and validate everything that can be checked without torch; exit 2 on error."""
    parser = build_parser()
    args = parser.parse_args(argv)

    def need(ok: bool, arg: str, allowed: str, value) -> None:
        if not ok:
            parser.error(f"argument --{arg}: must be {allowed}, got {value!r}")

    need(args.epochs >= 1, "epochs", "an integer >= 1", args.epochs)
    need(args.batch_size >= 1, "batch-size", "an integer >= 1", args.batch_size)
    need(args.eval_batch_size >= 1, "eval-batch-size", "an integer >= 1", args.eval_batch_size)
    need(math.isfinite(args.lr) and args.lr > 0, "lr", "a number > 0", args.lr)
    need(0 < args.gamma <= 1, "gamma", "in (0, 1]", args.gamma)
    need(0 <= args.momentum < 1, "momentum", "in [0, 1)", args.momentum)
    need(args.weight_decay >= 0, "weight-decay", ">= 0", args.weight_decay)
    need(0 <= args.label_smoothing < 1, "label-smoothing", "in [0, 1)", args.label_smoothing)
    need(0 <= args.dropout < 1, "dropout", "in [0, 1)", args.dropout)
    need(args.hidden >= 1, "hidden", "an integer >= 1", args.hidden)
    need(args.width >= 1, "width", "an integer >= 1", args.width)
    need(0 <= args.val_fraction < 1, "val-fraction", "in [0, 1)", args.val_fraction)
    need(args.max_train_samples is None or args.max_train_samples >= 1,
         "max-train-samples", "an integer >= 1", args.max_train_samples)
    need(args.num_threads >= 0, "num-threads", "an integer >= 0", args.num_threads)
    need(args.log_every >= 1, "log-every", "an integer >= 1", args.log_every)

    try:
        args.raw_dir = mnist_data.locate_raw(args.data)
    except mnist_data.DataError as exc:
        parser.error(f"argument --data: {exc}")

    out = Path(args.model_output or Path("outputs") / "model")
    if out.exists() and not out.is_dir():
        parser.error(f"argument --model-output: {out} exists and is not a folder")
    if out.is_dir() and any(out.iterdir()) and not (out / "MLmodel").is_file():
        parser.error(f"argument --model-output: {out} is not empty and holds no MLflow model; "
                     "give an empty or new folder")
    args.model_output = out
    return args


# --------------------------------------------------------------------------- helpers


class Dist:
    """The process group, or a no-op stand-in for one process."""

    def __init__(self) -> None:
        self.world = int(os.environ.get("WORLD_SIZE", "1"))
        self.rank = int(os.environ.get("RANK", "0"))
        self.local_rank = int(os.environ.get("LOCAL_RANK", "0"))
        self.local_world = int(os.environ.get("LOCAL_WORLD_SIZE", self.world))
        self.main = self.rank == 0

    @property
    def enabled(self) -> bool:
        return self.world > 1

    def init(self, device) -> None:
        if not self.enabled:
            return
        import torch.distributed as td

        backend = "nccl" if device.type == "cuda" else "gloo"
        td.init_process_group(backend=backend, init_method="env://",
                              rank=self.rank, world_size=self.world)

    def sum_(self, t):
        """All-reduce a tensor by sum in place (identity for one process)."""
        if self.enabled:
            import torch.distributed as td

            td.all_reduce(t, op=td.ReduceOp.SUM)
        return t

    def close(self) -> None:
        if self.enabled:
            import torch.distributed as td

            if td.is_initialized():
                td.destroy_process_group()


def cpu_count() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def pick_device(args, dist):
    import torch

    want = args.device
    if want == "auto":
        want = "cuda" if torch.cuda.is_available() else "cpu"
    if want == "cuda":
        if not torch.cuda.is_available():
            print("train.py: error: argument --device: cuda requested but no CUDA device is available; "
                  "use --device cpu or auto", file=sys.stderr)
            sys.exit(2)
        torch.cuda.set_device(dist.local_rank % torch.cuda.device_count())
        return torch.device("cuda", torch.cuda.current_device())
    return torch.device("cpu")


class StepLog:
    """Buffers step metrics and hands them to the run log every few seconds, in one batch.

    One tracking-store call per step would cost more than the step itself on CPU.
    """

    def __init__(self, tracking: "Tracking", flush_every_s: float = 3.0) -> None:
        self._tracking = tracking
        self._buf: list[tuple[str, float, int, int]] = []
        self._every = flush_every_s
        self._last = time.monotonic()

    def add(self, key: str, value: float, step: int) -> None:
        self._buf.append((key, float(value), int(time.time() * 1000), int(step)))
        if time.monotonic() - self._last >= self._every:
            self.flush()

    def flush(self) -> None:
        self._last = time.monotonic()
        if self._buf:
            self._tracking.send("steps", self._buf)
            self._buf = []


class Phases:
    """Wall time per phase of the job, for the benchmark's breakdown (--metrics-json)."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self._last = time.perf_counter()

    def lap(self, name: str) -> None:
        """Charge the time since the previous lap to NAME."""
        now = time.perf_counter()
        self.seconds[name] = self.seconds.get(name, 0.0) + now - self._last
        self._last = now


class RunLog:
    """The job's MLflow run: everything the job logs goes through here, one call at a time.

    It lives in the child process that Tracking starts (in this process where there is
    no fork), so this process never imports MLflow.
    """

    def __init__(self, args) -> None:
        t0 = time.perf_counter()
        import mlflow

        self.mlflow = mlflow
        self.model_output = args.model_output
        if not os.environ.get("MLFLOW_RUN_ID") and not (
            os.environ.get("MLFLOW_EXPERIMENT_NAME") or os.environ.get("MLFLOW_EXPERIMENT_ID")
        ):
            mlflow.set_experiment(args.experiment_name or "mnist")
        self.run = mlflow.start_run()
        self.seconds = {"mlflow_import_and_run": time.perf_counter() - t0}

    def warm_up(self, args) -> None:
        """Save an untrained twin of the model to a scratch folder while the trainer trains.

        MLflow's first save in a process imports more of MLflow and scans the files of
        every installed package (to check the pip requirements against them): about a
        second, which the real save at the end then no longer waits for.
        """
        import tempfile

        import numpy as np
        from model import MnistNet

        t0 = time.perf_counter()
        twin = MnistNet(width=args.width, hidden=args.hidden, dropout=args.dropout).eval()
        example = np.zeros((1, 1, 28, 28), dtype=np.float32)
        with tempfile.TemporaryDirectory(prefix="mlflow-warm-up-") as tmp:
            save_model(self.mlflow, twin, example, Path(tmp) / "model")
        self.seconds["warm_up"] = time.perf_counter() - t0

    def params(self, params: dict) -> None:
        # A resumed run (MLFLOW_RUN_ID) may hold some of these already, and MLflow
        # refuses to change a param's value: keep what the launcher recorded.
        self.mlflow.log_params({k: v for k, v in params.items() if k not in self.run.data.params})

    def metrics(self, metrics: dict, step: int | None = None) -> None:
        self.mlflow.log_metrics(metrics, step=step)

    def steps(self, points: list) -> None:
        from mlflow.entities import Metric

        metrics = [Metric(key, value, timestamp, step) for key, value, timestamp, step in points]
        client = self.mlflow.MlflowClient()
        # log_batch accepts up to 1000 metrics per call.
        for i in range(0, len(metrics), 1000):
            client.log_batch(self.run.info.run_id, metrics=metrics[i:i + 1000])

    def finish(self, status: str, model: bytes | None = None) -> dict:
        """Save and log the model (pickled (module, example images)) if given; end the run."""
        if model is not None:
            t0 = time.perf_counter()
            net, example = pickle.loads(model)
            save_model(self.mlflow, net, example, self.model_output)
            t1 = time.perf_counter()
            # The saved folder is the logged model: serialising it again with
            # log_model would cost as much once more.
            self.mlflow.log_artifacts(str(self.model_output), artifact_path="model")
            self.seconds.update(model_save=t1 - t0, model_log=time.perf_counter() - t1)
        t0 = time.perf_counter()
        self.mlflow.end_run(status=status)
        self.seconds["end_run"] = time.perf_counter() - t0
        return {"run_id": self.run.info.run_id, "seconds": self.seconds}


class TrackingError(RuntimeError):
    """The MLflow side of the job failed; the message holds its traceback."""


class Tracking:
    """Hands what the job logs to a RunLog in a child process forked after `import torch`.

    Importing MLflow and opening its store cost about 2 s, as much as torch's import; in
    a thread they would only take turns with this one for the GIL. The child does them
    on another core while this process loads the data and trains, and it shares torch
    with this process, so it saves the model without importing torch again. Without
    fork (Windows) the RunLog runs here, in line.
    """

    def __init__(self, args) -> None:
        self._local = self._proc = self._conn = None
        self.finished = False
        if not hasattr(os, "fork"):
            self._local = RunLog(args)
            return
        sys.stdout.flush()  # or the child would print this process's pending output again
        sys.stderr.flush()
        ctx = multiprocessing.get_context("fork")
        self._conn, child_end = ctx.Pipe()
        self._proc = ctx.Process(target=_run_log_child, args=(args, child_end, self._conn),
                                 name="mlflow-run-log", daemon=True)
        with warnings.catch_warnings():
            # Python 3.12+ warns on forking with threads; the only other thread here is
            # OpenBLAS's idle pool (numpy's), which shuts down and restarts around a fork.
            warnings.simplefilter("ignore", DeprecationWarning)
            self._proc.start()
        child_end.close()

    def send(self, method: str, *payload) -> None:
        if self._local is not None:
            getattr(self._local, method)(*payload)
            return
        if self._conn.poll():  # the child speaks first only to report its failure
            raise self._child_error()
        try:
            self._conn.send((method, payload))
        except OSError:  # the child is gone
            raise self._child_error() from None

    def finish(self, status: str, model: bytes | None = None) -> dict:
        """End the run (after saving and logging the model, if given); wait for the child."""
        self.finished = True
        if self._local is not None:
            return self._local.finish(status, model)
        self.send("finish", status, model)
        try:
            reply = self._conn.recv()
        except EOFError:
            reply = ("error", None)
        self._proc.join()
        if reply[0] != "ok":
            raise self._child_error(reply[1])
        return reply[1]

    def _child_error(self, message: str | None = None) -> TrackingError:
        if message is None:
            try:
                message = self._conn.recv()[1] if self._conn.poll(5) else None
            except (EOFError, OSError):
                message = None
        self._proc.join(5)
        return TrackingError(message or f"the MLflow process exited with code {self._proc.exitcode}")


def _run_log_child(args, conn, parent_end) -> None:
    """The child's loop: apply each message to a RunLog until "finish" or the parent's end."""
    parent_end.close()  # the fork's copy: open here, it would hide the parent's exit (EOF)
    # Ctrl-C reaches the whole process group: the trainer handles it and ends the run.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        log = RunLog(args)
        log.warm_up(args)
        while True:
            try:
                method, payload = conn.recv()
            except EOFError:
                return  # the trainer died: whatever runs the job records how it ended
            if method == "finish":
                conn.send(("ok", log.finish(*payload)))
                return
            getattr(log, method)(*payload)
    except BaseException:
        conn.send(("error", traceback.format_exc()))
        raise SystemExit(1)


def clear_model_dir(out: Path) -> None:
    """Empty a folder that holds a previous MLflow model (checked in parse_args)."""
    if not out.is_dir():
        return
    for child in out.iterdir():
        if child.is_dir() and not child.is_symlink():
            shutil.rmtree(child)
        else:
            child.unlink()


# --------------------------------------------------------------------------- training


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    t_start = time.perf_counter()
    phases = Phases()

    dist = Dist()
    # Spinning OpenMP threads wait for cores the other jobs on a shared machine hold: on
    # 2 busy cores a 2-thread epoch took 10x as long as with passive waiting.
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    import torch

    phases.lap("import_torch")
    device = pick_device(args, dist)  # may refuse --device cuda: before any run exists
    threads = args.num_threads or max(1, cpu_count() // max(1, dist.local_world))
    torch.set_num_threads(threads)
    # Forked before the process group starts: a fork must not copy its threads and sockets.
    tracking = Tracking(args) if dist.main else None  # rank 0 alone logs
    phases.lap("fork_tracking")
    try:
        dist.init(device)
        return _train(args, dist, device, threads, t_start, tracking, phases)
    finally:
        if tracking is not None and not tracking.finished:
            try:
                tracking.finish("FAILED")
            except Exception:  # the error on its way out matters more
                pass
        dist.close()


def _train(args, dist, device, threads, t_start, tracking, phases) -> int:
    import torch
    import torch.nn.functional as F

    from model import MnistNet

    say = print if dist.main else (lambda *a, **k: None)
    torch.manual_seed(args.seed)  # same initial weights on every rank
    cuda = device.type == "cuda"
    if cuda:
        torch.backends.cudnn.benchmark = True
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True

    # Whole splits as tensors on the device, once: no per-sample work while training.
    phases.lap("device_setup")
    (train_x, train_y), (test_x, test_y) = mnist_data.load_splits(args.raw_dir)
    train_x = train_x.unsqueeze(1)
    test_x = test_x.unsqueeze(1)
    split_gen = torch.Generator().manual_seed(args.seed)
    if args.val_fraction > 0:
        order = torch.randperm(len(train_x), generator=split_gen)
        n_val = max(1, int(round(len(train_x) * args.val_fraction)))
        val_x, val_y = train_x[order[:n_val]], train_y[order[:n_val]]
        train_x, train_y = train_x[order[n_val:]], train_y[order[n_val:]]
    else:
        val_x, val_y = test_x, test_y
    if args.max_train_samples and args.max_train_samples < len(train_x):
        keep = torch.randperm(len(train_x), generator=split_gen)[: args.max_train_samples]
        train_x, train_y = train_x[keep], train_y[keep]

    def to_dev(x, y):
        return x.to(device, torch.float32).contiguous(), y.to(device)

    train_x, train_y = to_dev(train_x, train_y)
    val_x, val_y = to_dev(val_x, val_y)
    n_train = len(train_x)
    per_rank = n_train // dist.world
    if per_rank < 1:
        print(f"train.py: error: {n_train} training images cannot be shared by {dist.world} processes",
              file=sys.stderr)
        return 2
    steps_per_epoch = math.ceil(per_rank / args.batch_size)
    total_steps = steps_per_epoch * args.epochs

    # channels_last: oneDNN (CPU) and cuDNN (GPU) convolutions both run about twice as fast.
    net = MnistNet(width=args.width, hidden=args.hidden, dropout=args.dropout).to(
        device, memory_format=torch.channels_last)
    model = net
    if dist.enabled:
        from torch.nn.parallel import DistributedDataParallel as DDP

        model = DDP(net, device_ids=[device.index] if cuda else None)
    if args.compile:
        model = torch.compile(model)

    opt = make_optimizer(args, net)
    sched = make_schedule(args, opt, total_steps)
    autocast = torch.autocast("cuda", dtype=torch.bfloat16, enabled=cuda)
    phases.lap("data_and_model")

    steps = None
    if dist.main:
        steps = StepLog(tracking)
        params = {k: v for k, v in vars(args).items() if k not in ("raw_dir", "metrics_json")}
        params.update(
            model_output=str(args.model_output), world_size=dist.world, device=str(device),
            num_threads=threads, train_samples=n_train, val_samples=len(val_x),
            val_split="train holdout" if args.val_fraction > 0 else "test",
            steps_per_epoch=steps_per_epoch,
            model_parameters=sum(p.numel() for p in net.parameters()),
        )
        tracking.send("params", params)
        say(f"training on {device} x{dist.world} ({threads} threads/process): {n_train} train, "
            f"{len(val_x)} val images, {steps_per_epoch} steps/epoch", flush=True)
        phases.lap("params")

    history = []
    status = "FAILED"
    try:
        step = 0
        for epoch in range(1, args.epochs + 1):
            # Same permutation on every rank (shared seed), each rank a disjoint slice.
            g = torch.Generator(device="cpu").manual_seed(args.seed * 100_003 + epoch)
            perm = torch.randperm(n_train, generator=g)[: per_rank * dist.world]
            shard = perm.view(per_rank, dist.world)[:, dist.rank].to(device)

            model.train()
            loss_sum = torch.zeros((), device=device)
            window = torch.zeros((), device=device)
            in_window = 0
            if cuda:
                torch.cuda.synchronize()
            t0 = time.perf_counter()
            phases.lap("other")
            for i in range(steps_per_epoch):
                idx = shard[i * args.batch_size:(i + 1) * args.batch_size]
                x, y = train_x[idx].contiguous(memory_format=torch.channels_last), train_y[idx]
                with autocast:
                    loss = F.cross_entropy(model(x), y, label_smoothing=args.label_smoothing)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                if sched is not None and args.schedule == "onecycle":
                    sched.step()
                step += 1
                loss = loss.detach().float()
                loss_sum += loss * len(idx)
                if dist.main:
                    window += loss
                    in_window += 1
                    if step % args.log_every == 0:
                        steps.add("train_loss_step", window.item() / in_window, step)
                        window.zero_()
                        in_window = 0
            if cuda:
                torch.cuda.synchronize()
            epoch_time = time.perf_counter() - t0
            phases.lap("train")
            if sched is not None and args.schedule == "step":
                sched.step()

            totals = dist.sum_(torch.stack([loss_sum, torch.tensor(float(per_rank), device=device)]))
            train_loss = (totals[0] / totals[1]).item()
            t1 = time.perf_counter()
            val_loss, val_acc = evaluate(net, val_x, val_y, args.eval_batch_size, dist, autocast)
            eval_time = time.perf_counter() - t1
            phases.lap("eval")
            row = {
                "epoch": epoch,
                "train_loss": train_loss,
                "val_loss": val_loss,
                "val_accuracy": val_acc,
                "epoch_time": epoch_time,
                "eval_time": eval_time,
                "samples_per_sec": per_rank * dist.world / epoch_time,
                "lr": opt.param_groups[0]["lr"],
                "elapsed": time.perf_counter() - t_start,
            }
            history.append(row)
            if dist.main:
                steps.flush()
                tracking.send("metrics", {k: v for k, v in row.items() if k not in ("epoch", "elapsed")}, epoch)
                say(f"epoch {epoch}/{args.epochs}  train_loss={train_loss:.4f}  val_loss={val_loss:.4f}  "
                    f"val_accuracy={val_acc:.4f}  {row['samples_per_sec']:.0f} samples/s  "
                    f"{epoch_time:.2f}s", flush=True)
            phases.lap("epoch_logging")

        if dist.main:
            if args.val_fraction > 0:
                tx, ty = to_dev(test_x, test_y)
                _, test_acc = evaluate(net, tx, ty, args.eval_batch_size, None, autocast)
            else:
                test_acc = history[-1]["val_accuracy"]
            tracking.send("metrics", {"test_accuracy": test_acc})
            phases.lap("eval")
            cpu_net = net.to("cpu", memory_format=torch.contiguous_format).float().eval()
            model = pickle.dumps((cpu_net, test_x[:5].float().numpy()))  # raw 0..255 pixels
            phases.lap("model_pickle")
            finished = tracking.finish("FINISHED", model)
            phases.lap("model_save_log_and_end_run")
            say(f"test_accuracy={test_acc:.4f}; model logged to run {finished['run_id']} "
                f"and saved to {args.model_output}", flush=True)
        status = "FINISHED"
    finally:
        if dist.main and status != "FINISHED":
            try:
                steps.flush()  # the curve up to the failure; main() then ends the run
            except Exception:  # the original error matters more
                pass
    if dist.main and args.metrics_json:
        phases.seconds.update({f"mlflow_process:{k}": v for k, v in finished["seconds"].items()})
        Path(args.metrics_json).write_text(json.dumps({
            "run_id": finished["run_id"], "device": str(device), "world_size": dist.world,
            "threads": threads, "train_samples": n_train, "epochs": history,
            "test_accuracy": test_acc,
            "train_time": sum(r["epoch_time"] for r in history),
            "total_time": time.perf_counter() - t_start,
            "phases": phases.seconds,
            "started_at": STARTED_AT, "ended_at": time.time(),
        }, indent=2))
    return 0


def make_optimizer(args, net):
    import torch

    # No weight decay on batch-norm and bias parameters: it only fights their role.
    decay = [p for p in net.parameters() if p.ndim > 1]
    no_decay = [p for p in net.parameters() if p.ndim <= 1]
    groups = [{"params": decay, "weight_decay": args.weight_decay},
              {"params": no_decay, "weight_decay": 0.0}]
    if args.optimizer == "adamw":
        return torch.optim.AdamW(groups, lr=args.lr, betas=(args.momentum, 0.999))
    if args.optimizer == "sgd":
        return torch.optim.SGD(groups, lr=args.lr, momentum=args.momentum, nesterov=args.momentum > 0)
    return torch.optim.Adadelta(groups, lr=args.lr)


def make_schedule(args, opt, total_steps):
    import torch

    if args.schedule == "onecycle":
        if total_steps < 3:  # too few steps for a warm-up and a decay: a constant rate
            return None
        return torch.optim.lr_scheduler.OneCycleLR(
            # The warm-up ends after at least one step: OneCycleLR divides by its length
            # (4 steps at 0.25 made it zero).
            opt, max_lr=args.lr, total_steps=total_steps, pct_start=max(0.25, 2 / total_steps),
            # Adadelta has neither momentum nor betas to cycle.
            cycle_momentum=args.optimizer != "adadelta",
            base_momentum=0.85 * args.momentum, max_momentum=args.momentum,
        )
    if args.schedule == "step":
        return torch.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=args.gamma)
    return None


def evaluate(net, x, y, batch, dist, autocast):
    """(mean loss, accuracy) over x; with dist, each rank takes a disjoint slice and sums are reduced."""
    import torch
    import torch.nn.functional as F

    net.eval()
    if dist is not None and dist.enabled:
        x, y = x[dist.rank::dist.world], y[dist.rank::dist.world]
    sums = torch.zeros(3, device=x.device, dtype=torch.float64)
    with torch.inference_mode(), autocast:
        for i in range(0, len(x), batch):
            xb, yb = x[i:i + batch].contiguous(memory_format=torch.channels_last), y[i:i + batch]
            logits = net(xb).float()  # the bare module: no DDP hooks needed for inference
            sums[0] += F.cross_entropy(logits, yb, reduction="sum").double()
            sums[1] += (logits.argmax(1) == yb).sum()
            sums[2] += len(yb)
    if dist is not None:
        dist.sum_(sums)
    net.train()
    loss, correct, n = sums.tolist()
    return loss / max(n, 1), correct / max(n, 1)


def save_model(mlflow, net, example, out: Path) -> None:
    """Save NET (on the CPU, in eval mode) as an MLflow model in OUT.

    EXAMPLE: float32 numpy images as the model takes them, raw 0..255 pixels (N, 1, 28, 28).
    """
    import torch
    from mlflow.models import infer_signature

    with torch.inference_mode():
        signature = infer_signature(example, net(torch.from_numpy(example)).numpy())
    version = torch.__version__.split("+")[0]
    common = dict(
        signature=signature,
        input_example=example,
        # pickle, not MLflow's default pt2: torch.export costs seconds on a small CPU
        # job; the pickle needs the class, which code_paths ships beside it.
        serialization_format="pickle",
        code_paths=[str(_HERE / "model.py")],
        # Explicit requirements: inferring them loads the model in a subprocess (seconds).
        pip_requirements=[f"torch=={version}", f"mlflow=={mlflow.__version__}", "numpy"],
    )
    clear_model_dir(out)
    quiet = _DropPickleWarning()
    logger = logging.getLogger("mlflow.pytorch")
    logger.addFilter(quiet)
    try:
        mlflow.pytorch.save_model(net, str(out), **common)
    finally:
        logger.removeFilter(quiet)


class _DropPickleWarning(logging.Filter):
    """MLflow warns on every pickle save; the choice is deliberate (see save_model)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "Pickle" not in record.getMessage()


if __name__ == "__main__":
    code = main()
    # On its way out Python collects every object still alive, and torch (with the
    # torch._dynamo its optimizers import) leaves about 300,000: a second on 2 cores, up
    # to 5 on busy ones. Frozen objects are skipped; the memory goes back with the process.
    gc.freeze()
    sys.exit(code)
