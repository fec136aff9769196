"""The trainer and its environments ship with the package and are found from any folder."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile

from tests.conftest import REPO
from tui.app import default_job_template
from tui.bundle import bundle_root


def test_found_from_any_folder(tmp_path):
    assert default_job_template(tmp_path) == REPO / "trainer" / "job.yml"


def test_a_project_trainer_wins(tmp_path):
    own = tmp_path / "trainer" / "job.yml"
    own.parent.mkdir()
    own.write_text("command: echo mine\n")
    assert default_job_template(tmp_path / "trainer") == own


def test_the_wheel_ships_them_where_bundle_root_looks(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    for part in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / part, src / part)
    for folder in ("tui", "trainer", "environments"):
        shutil.copytree(REPO / folder, src / folder, ignore=shutil.ignore_patterns("__pycache__"))
    proc = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                           "--disable-pip-version-check", "-q", "-w", str(tmp_path / "dist"), str(src)],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    (wheel,) = (tmp_path / "dist").glob("aml_tui-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    data = [n.split(".data/data/", 1)[1] for n in names if ".data/data/" in n]
    assert "share/aml-tui/trainer/train.py" in data and "share/aml-tui/trainer/job.yml" in data
    assert "share/aml-tui/environments/cpu.yml" in data
    # Unpacked under a prefix, as pip installs it, bundle_root finds them there.
    prefix = tmp_path / "prefix"
    with zipfile.ZipFile(wheel) as zf:
        for name in names:
            if ".data/data/" in name:
                target = prefix / name.split(".data/data/", 1)[1]
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(zf.read(name))
    assert (prefix / "share" / "aml-tui" / "trainer" / "train.py").is_file()
    assert bundle_root((str(prefix),)) in (REPO, prefix / "share" / "aml-tui")
    assert bundle_root((str(tmp_path / "nowhere"),)) == REPO  # the checkout comes first


def test_bundle_root_uses_a_prefix_when_there_is_no_checkout(tmp_path, monkeypatch):
    import tui.bundle as bundle

    share = tmp_path / "share" / "aml-tui"
    (share / "trainer").mkdir(parents=True)
    (share / "trainer" / "train.py").write_text("")
    (share / "environments").mkdir()
    monkeypatch.setattr(bundle, "__file__", str(tmp_path / "site" / "tui" / "bundle.py"))
    assert bundle.bundle_root((str(tmp_path),)) == share
    assert bundle.bundle_root((str(tmp_path / "empty"),)) is None
