"""The same sweep YAML on Azure: trainer/sweep.yml through `load_job` + `create_or_update`
against the fake services (tests/azure/fake.py), trials across every page of children, the
best trial from the sweep's properties."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.azure.fake import FakeAzure
from tests.conftest import REPO
from tui.workspace import spec
from tui.workspace.base import InvalidSpecError

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:azure.storage.*")
SWEEP_YML = REPO / "trainer" / "sweep.yml"


@pytest.fixture
def fake(monkeypatch) -> FakeAzure:
    fake = FakeAzure(children_page_size=3)
    fake.route_storage(monkeypatch)
    fake.add_asset("environments", "mnist-cpu", "1")
    fake.add_asset("data", "mnist-sample", "1")
    fake.add_compute("cpu-cluster")
    return fake


@pytest.fixture
def azure_ws(fake):
    from tui.workspace.azure import AzureWorkspace

    ws = AzureWorkspace(fake.client())
    yield ws
    ws.close()


def test_the_trainers_sweep_loads_with_azure_ai_ml_unchanged():
    from azure.ai.ml import load_job
    from azure.ai.ml.sweep import BanditPolicy, Choice, LogUniform, Uniform

    job = load_job(SWEEP_YML)
    assert type(job).__name__ == "SweepJob"
    space = job.search_space
    assert isinstance(space["lr"], LogUniform) and isinstance(space["dropout"], Uniform)
    assert isinstance(space["batch_size"], Choice) and isinstance(space["optimizer"], Choice)
    assert space["optimizer"].values == ["adamw", "sgd"]
    for name in ("lr", "batch_size", "dropout", "optimizer"):
        assert f"${{{{search_space.{name}}}}}" in job.trial.command
    assert isinstance(job.early_termination, BanditPolicy)
    assert (job.objective.primary_metric, job.objective.goal) == ("val_accuracy", "maximize")
    assert job.limits.max_total_trials == 8 and job.limits.max_concurrent_trials == 2
    # Our own schema takes it as it is, with the local workspace's rules too.
    from tui.workspace.local.rules import LOCAL_RULES

    assert spec.parse_job(spec.load_yaml_file(SWEEP_YML), str(SWEEP_YML), rules=LOCAL_RULES.job).type == "sweep"


def test_a_sweep_submitted_to_azure_lists_its_trials_across_every_page_and_names_the_best(fake, azure_ws):
    document = spec.load_yaml_file(SWEEP_YML)
    job = azure_ws.create_job(document, base_dir=SWEEP_YML.parent, source=str(SWEEP_YML))
    assert job.type == "sweep" and job.name in fake.jobs
    submitted = fake.jobs[job.name].body["submitted"]
    assert submitted["jobType"] == "Sweep" and submitted["objective"]["primaryMetric"] == "val_accuracy"
    assert set(submitted["searchSpace"]) == {"lr", "batch_size", "dropout", "optimizer"}
    assert submitted["limits"]["maxTotalTrials"] == 8 and submitted["earlyTermination"]["policyType"] == "Bandit"
    assert "/codes/" in submitted["trial"]["codeId"]  # the trainer's folder was uploaded as the trial's code

    for _ in range(3):
        fake.tick()
    job = azure_ws.get_job(job.name)
    assert job.status == "Completed"
    best = job.fields["properties"]["best_child_run_id"]
    trials = azure_ws.list_jobs(parent_job_name=job.name).items
    assert sorted(t.name for t in trials) == sorted(f"{job.name}_{i}" for i in range(8))
    assert all(t.parent_job_name == job.name for t in trials)
    pages = [r for r in fake.requests if r.path.endswith(f"/runs/{job.name}/children")]
    assert len(pages) == 3  # 3 + 3 + 2: every page, not the SDK's first one only
    scores = {t.name: azure_ws.job_metrics(t.name)["val_accuracy"][-1].value for t in trials}
    assert best == max(scores, key=scores.get)
    assert float(job.fields["properties"]["score"]) == scores[best]


def test_azure_refuses_a_bad_sweep_as_locally_and_sends_nothing(fake, azure_ws):
    document = spec.apply_overrides(spec.load_yaml_file(SWEEP_YML), ["limits.max_concurrent_trials=9"],
                                    str(SWEEP_YML))
    with pytest.raises(InvalidSpecError, match="at most max_total_trials") as info:
        azure_ws.create_job(document, base_dir=SWEEP_YML.parent, source=str(SWEEP_YML))
    assert info.value.field == "limits.max_concurrent_trials" and info.value.exit_code == 2
    bad_code = json.loads(json.dumps(spec.load_yaml_file(SWEEP_YML)))
    bad_code["trial"]["code"] = "no-such-folder"
    with pytest.raises(InvalidSpecError, match="does not exist") as info:
        azure_ws.create_job(bad_code, base_dir=Path(SWEEP_YML.parent), source=str(SWEEP_YML))
    assert info.value.field == "trial.code"
    assert fake.requests == []
