"""prepare_mnist and synthetic: IDX files torchvision reads, numpy only."""

from __future__ import annotations

import subprocess
import sys

import numpy as np

from conftest import REPO, TRAINER


def read_mnist(root):
    from torchvision.datasets import MNIST

    return [MNIST(root=str(root), train=t, download=False) for t in (True, False)]


def test_prepare_mnist_script_writes_a_stratified_split(tmp_path):
    proc = subprocess.run([sys.executable, str(TRAINER / "prepare_mnist.py"), "--out", str(tmp_path)],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    train, test = read_mnist(tmp_path)
    assert train.data.shape == (4000, 28, 28) and test.data.shape == (1000, 28, 28)
    assert np.bincount(train.targets.numpy(), minlength=10).tolist() == [400] * 10
    assert np.bincount(test.targets.numpy(), minlength=10).tolist() == [100] * 10
    # Real digits, shuffled (the source is sorted by label), and no image in both splits.
    assert 30 < train.data.float().mean() < 50
    assert len(set(train.targets[:20].tolist())) > 3
    seen = {bytes(x) for x in train.data.numpy()}
    assert not any(bytes(x) in seen for x in test.data.numpy())


def test_prepare_sample_is_importable_without_torch_and_deterministic(tmp_path):
    code = (
        "import sys; sys.path.insert(0, sys.argv[1]);"
        "from trainer.prepare_mnist import prepare_sample;"
        "print(prepare_sample(sys.argv[2], test_fraction=0.1));"
        "assert 'torch' not in sys.modules"
    )
    for out in ("a", "b"):
        proc = subprocess.run([sys.executable, "-c", code, str(REPO), str(tmp_path / out)],
                              capture_output=True, text=True, timeout=60)
        assert proc.returncode == 0, proc.stderr
        assert proc.stdout.strip() == str(tmp_path / out)
    for name in ("train-images-idx3-ubyte", "t10k-labels-idx1-ubyte"):
        a = (tmp_path / "a" / "MNIST" / "raw" / name).read_bytes()
        assert a == (tmp_path / "b" / "MNIST" / "raw" / name).read_bytes()
    labels = (tmp_path / "a" / "MNIST" / "raw" / "t10k-labels-idx1-ubyte").read_bytes()
    assert len(labels) == 8 + 500


def test_idx_headers_are_big_endian_with_mnist_magic(tmp_path):
    from trainer.synthetic import write_synthetic

    write_synthetic(tmp_path, n_train=30, n_test=10)
    raw = tmp_path / "MNIST" / "raw"
    head = (raw / "train-images-idx3-ubyte").read_bytes()[:16]
    assert np.frombuffer(head, ">u4").tolist() == [2051, 30, 28, 28]
    head = (raw / "t10k-labels-idx1-ubyte").read_bytes()[:8]
    assert np.frombuffer(head, ">u4").tolist() == [2049, 10]


def test_synthetic_digits_are_balanced_and_read_by_torchvision(tmp_path):
    proc = subprocess.run([sys.executable, str(TRAINER / "synthetic.py"), "--out", str(tmp_path),
                           "--train", "200", "--test", "50", "--seed", "3"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    train, test = read_mnist(tmp_path)
    assert len(train) == 200 and len(test) == 50
    assert np.bincount(train.targets.numpy(), minlength=10).tolist() == [20] * 10
    img, label = train[0]  # the PIL path works too
    assert img.size == (28, 28) and 0 <= label <= 9


def test_trainer_reads_mnist_without_the_rest_of_torchvision(synthetic_root):
    # All of torchvision (models, ops and through them torch._dynamo) costs more than torch.
    code = (
        "import sys; sys.path.insert(0, sys.argv[1]); import data;"
        "(tx, ty), (vx, vy) = data.load_splits(data.locate_raw(sys.argv[2]));"
        "print(tuple(tx.shape), tuple(vy.shape), ty[:8].tolist());"
        "print(sorted(m for m in sys.modules if m.startswith(('torchvision', 'torch._dynamo'))));"
        "import torchvision, torchvision.datasets;"
        "print(torchvision.datasets.MNIST(sys.argv[2], train=True).targets[:8].tolist(),"
        "      hasattr(torchvision, 'models'))"
    )
    proc = subprocess.run([sys.executable, "-c", code, str(TRAINER), str(synthetic_root)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    shapes, loaded, whole = proc.stdout.splitlines()
    labels = shapes.split("(300,) ")[1]
    assert shapes.startswith("(1200, 28, 28) (300,)")
    assert loaded == "[]"  # nothing of torchvision left behind, torch._dynamo never imported
    # A later `import torchvision` still gets the whole package, reading the same labels.
    assert whole == f"{labels} True"
