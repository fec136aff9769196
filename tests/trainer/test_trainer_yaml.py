"""Job and environment YAMLs load with the azure-ai-ml SDK, unchanged."""

from __future__ import annotations

from importlib import metadata

import pytest
import yaml

from conftest import REPO, TRAINER


@pytest.mark.parametrize("name", ["job.yml", "job-distributed.yml"])
def test_job_yaml_loads_with_azure_ai_ml(name):
    from azure.ai.ml import load_job

    job = load_job(TRAINER / name)
    assert job.type == "command"
    assert job.experiment_name == "mnist"
    assert job.environment == "azureml:mnist-cpu@latest" or "mnist-cpu" in str(job.environment)
    assert "cpu-cluster" in str(job.compute)
    assert set(job.inputs) == {"data", "epochs", "batch_size", "lr"}
    assert set(job.outputs) == {"model"}
    for ref in ("${{inputs.data}}", "${{inputs.epochs}}", "${{inputs.batch_size}}",
                "${{inputs.lr}}", "${{outputs.model}}"):
        assert ref in job.command
    assert job.command.startswith("python train.py")
    if name == "job-distributed.yml":
        assert job.distribution.type == "pytorch"
        assert job.distribution.process_count_per_instance == 2
        assert job.resources.instance_count == 1
    else:
        assert job.distribution is None


def test_job_inputs_are_valid_trainer_arguments(tmp_path):
    """The literal inputs pass train.py's own validation (parse only, no training)."""
    import sys

    sys.path.insert(0, str(TRAINER))
    try:
        import train
    finally:
        sys.path.remove(str(TRAINER))
    from trainer.synthetic import write_synthetic

    data = write_synthetic(tmp_path / "d", n_train=10, n_test=10)
    for name in ("job.yml", "job-distributed.yml"):
        inputs = yaml.safe_load((TRAINER / name).read_text())["inputs"]
        args = train.parse_args(["--data", str(data), "--epochs", str(inputs["epochs"]),
                                 "--batch-size", str(inputs["batch_size"]), "--lr", str(inputs["lr"]),
                                 "--model-output", str(tmp_path / "out")])
        assert args.epochs == inputs["epochs"]


@pytest.mark.parametrize(("name", "env_name"), [("cpu.yml", "mnist-cpu"), ("gpu.yml", "mnist-gpu")])
def test_environment_yaml_loads_with_azure_ai_ml(name, env_name):
    from azure.ai.ml import load_environment

    env = load_environment(REPO / "environments" / name)
    assert env.name == env_name and env.version == "1"
    assert env.image.startswith("mcr.microsoft.com/azureml/openmpi")
    pip = next(d["pip"] for d in env.conda_file["dependencies"] if isinstance(d, dict))
    assert "torch==2.14.1" in pip and "mlflow>=3.15.0,<=3.17.2" in pip
    assert "azureml-mlflow" in " ".join(pip)  # MLflow tracking on Azure ML


def test_cpu_environment_is_satisfied_by_this_interpreter():
    """The local workspace reuses this interpreter only if every pin matches
    (azureml-* packages are Azure-only: the local workspace skips them)."""
    from packaging.requirements import Requirement

    conda = yaml.safe_load((REPO / "environments" / "conda-cpu.yml").read_text())
    pip = next(d["pip"] for d in conda["dependencies"] if isinstance(d, dict))
    for line in pip:
        req = Requirement(line)
        if req.name.startswith("azureml-"):
            continue
        assert req.specifier.contains(metadata.version(req.name), prereleases=True), line
