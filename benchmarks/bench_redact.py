"""`redact()` on a 10 MB log chunk (it runs on log text; target: >= 50,000 lines/s).

Two logs: an ordinary training/pip log with no secret in it, and one where every fifth line
holds a secret (a secret-named `NAME=value`, a token, a password in a URL).
"""

from __future__ import annotations

import random
import time

from tui.workspace.redact import redact

SIZE = 10_000_000
ORDINARY = (
    "epoch {a} step {b} loss={c:.4f} acc={d:.3f} lr=0.001 key=value path=/mnt/data/{a}",
    "2024-05-01 12:00:{a:02d} INFO mlflow.tracking: logging metric train/loss {c}",
    '  File "/usr/lib/python3.11/site-packages/torch/nn/modules/module.py", line {b}, in _call_impl',
    "Collecting numpy==1.26.{a} (from -r requirements.txt (line 3)) passed, KeyError: 'x'",
    "  Downloading https://files.pythonhosted.org/packages/ab/cd/numpy-1.26.{a}.whl (18.2 MB)",
    '{{"step": {b}, "loss": {c}, "name": "run-{a}", "monkey": "x"}}',
    "Train Epoch: {a} [{b}/60000 ({d:.0f}%)]\tLoss: {c:.6f}",
    "==================================================================",
    "python main.py --epochs {a} --lr {c} --batch-size 64 --data /mnt/data/x",
)
SECRET = (
    "export DB_PASSWORD=hunter{b} && python train.py --hf-token hf_{b}abcdefghijklmnopqrstuvwxyzABCDEFG",
    "GET https://user:pw{b}@pypi.example.com/simple?sv=2022&sig=abc{b}%3D Authorization: Bearer eyJ{b}",
)


def make_log(secret_every: int | None, seed: int = 1) -> tuple[str, int]:
    rng = random.Random(seed)
    lines, size = [], 0
    while size < SIZE:
        pool = SECRET if secret_every and len(lines) % secret_every == 0 else ORDINARY
        line = rng.choice(pool).format(a=rng.randint(0, 59), b=rng.randint(0, 9999), c=rng.random(),
                                       d=rng.random() * 100)
        lines.append(line)
        size += len(line) + 1
    return "\n".join(lines) + "\n", len(lines)


def main() -> None:
    for label, every in (("ordinary log", None), ("a secret every 5th line", 5)):
        text, n = make_log(every)
        t = time.perf_counter()
        redact(text)
        dt = time.perf_counter() - t
        print(f"redact, 10 MB {label} ({n:,} lines): {dt:.2f} s = {n / dt:,.0f} lines/s   target >= 50,000 lines/s")


if __name__ == "__main__":
    main()
