"""Browsing an Azure workspace through the real azure-ai-ml SDK over the fake services."""

from __future__ import annotations

import json

import pytest

from tests.azure.fake import ARM, API, REGION, WS
from tui.workspace.base import AssetKind, InvalidSpecError, NotFoundError


def arm_job_lists(fake):
    return [r for r in fake.requests if r.host == ARM.removeprefix("https://") and r.path.endswith("/jobs")]


def test_info_names_the_workspace_and_region(fake, azure_ws):
    info = azure_ws.info()
    assert info.kind == "azure" and info.name == WS
    assert info.location.endswith(f"/workspaces/{WS}")
    assert info.details["region"] == REGION and info.details["resource_group"] == "rg-ml"
    azure_ws.info()
    assert fake.count(lambda r: r.path.endswith(f"/workspaces/{WS}")) == 1  # fetched once


def test_jobs_page_by_page_across_nextlinks(fake, azure_ws):
    for i in range(10):
        fake.add_job(f"job{i:02d}")
    seen, token, pages = [], None, 0
    while True:
        page = azure_ws.list_jobs(max_results=4, page_token=token)
        seen += [j.name for j in page.items]
        pages += 1
        token = page.next_token
        if not token:
            break
    assert seen == [f"job{i:02d}" for i in range(9, -1, -1)]  # newest first, each once
    assert pages == 3
    # The fake pages by 3: 10 jobs are 4 service pages, each fetched once (nextLink with $skip).
    lists = arm_job_lists(fake)
    assert len(lists) == 4 and sum("$skip=" in r.url for r in lists) == 3
    # A forged token cannot send the bearer token elsewhere.
    with pytest.raises(InvalidSpecError, match="not a page token of this workspace"):
        azure_ws.list_jobs(page_token="0:https://evil.example.com/jobs")
    assert len(fake.requests) == len(lists)


def test_all_jobs_without_max_results_reads_every_page(fake, azure_ws):
    for i in range(8):
        fake.add_job(f"job{i}")
    assert len(azure_ws.list_jobs().items) == 8
    assert len(arm_job_lists(fake)) == 3


def test_status_and_experiment_filters_are_applied_here(fake, azure_ws):
    for i in range(9):
        fake.add_job(f"job{i}", "Running" if i % 3 == 0 else "Completed", experiment="mnist" if i < 5 else "other")
    running = azure_ws.list_jobs(status="running")  # any case, as the CLI passes it
    assert [j.name for j in running.items] == ["job6", "job3", "job0"]
    both = azure_ws.list_jobs(status="Running", experiment_name="mnist")
    assert [j.name for j in both.items] == ["job3", "job0"]
    # A filtered page is filled from further service pages, and resumes where it stopped.
    first = azure_ws.list_jobs(status="Completed", max_results=2)
    rest = azure_ws.list_jobs(status="Completed", max_results=10, page_token=first.next_token)
    names = [j.name for j in first.items + rest.items]
    assert names == ["job8", "job7", "job5", "job4", "job2", "job1"] and rest.next_token is None
    for r in fake.requests:
        assert "status" not in r.url.lower().split("?")[-1]  # no such service filter
    with pytest.raises(InvalidSpecError, match="unknown status 'Runing'; allowed: NotStarted, .*NotResponding"):
        azure_ws.list_jobs(status="Runing")


def test_sweep_children_across_every_run_history_page(fake, azure_ws):
    fake.add_sweep("sweep1", trials=8)  # 3 pages of 3, 3, 2
    children = azure_ws.list_jobs(parent_job_name="sweep1")
    assert sorted(j.name for j in children.items) == sorted(f"sweep1_{i}" for i in range(8))
    assert all(j.parent_job_name == "sweep1" for j in children.items)
    assert all(j.start_time for j in children.items)
    calls = [r for r in fake.requests if r.path.endswith("/runs/sweep1/children")]
    assert len(calls) == 3
    assert [("continuationtoken=" in r.url) for r in calls] == [False, True, True]
    # Top-level listings leave trials out.
    assert [j.name for j in azure_ws.list_jobs().items] == ["sweep1"]
    running = azure_ws.list_jobs(parent_job_name="sweep1", status="Running")
    assert {j.name for j in running.items} == {"sweep1_1", "sweep1_3", "sweep1_5", "sweep1_7"}


def test_children_paged_with_max_results_resume(fake, azure_ws):
    fake.add_sweep("sw", trials=7)
    first = azure_ws.list_jobs(parent_job_name="sw", max_results=4)
    second = azure_ws.list_jobs(parent_job_name="sw", max_results=4, page_token=first.next_token)
    names = [j.name for j in first.items] + [j.name for j in second.items]
    assert sorted(names) == sorted(f"sw_{i}" for i in range(7)) and second.next_token is None


def test_children_of_an_unknown_job(azure_ws):
    with pytest.raises(NotFoundError, match="job 'nope' not found"):
        azure_ws.list_jobs(parent_job_name="nope")


def test_get_job_has_run_history_times_and_plain_enums(fake, azure_ws):
    fake.add_job("train1", "Completed", experiment="mnist", display_name="first try")
    job = azure_ws.get_job("train1")
    assert job.status == "Completed" and job.is_terminal
    assert job.experiment_name == "mnist" and job.display_name == "first try"
    assert job.compute == "cpu-cluster" and job.type == "command"
    assert job.start_time and job.end_time and job.duration() == pytest.approx(60)
    assert job.fields["properties"]["StartTimeUtc"].startswith("20")
    dumped = json.dumps(job.to_dict())
    assert "JobStatus." not in dumped and "CreatedByType." not in dumped
    assert job.fields["creation_context"]["created_by_type"] == "User"
    assert job.fields["environment"] == "azureml:mnist-cpu:1"
    with pytest.raises(NotFoundError, match="job 'missing' not found"):
        azure_ws.get_job("missing")


@pytest.mark.parametrize("service_status, expected, terminal", [
    ("Provisioning", "Provisioning", False), ("NotResponding", "NotResponding", False),
    ("Paused", "Paused", False), ("Unknown", "Unknown", False), ("CancelRequested", "CancelRequested", False),
    ("Finalizing", "Finalizing", False), ("Canceled", "Canceled", True), ("Failed", "Failed", True),
])
def test_azure_statuses_are_kept_and_only_three_are_terminal(fake, azure_ws, service_status, expected, terminal):
    from tui.workspace.azure.normalise import ACTIVE_JOB_STATUSES

    fake.add_job("j", service_status)
    listed = azure_ws.list_jobs().items[0]
    shown = azure_ws.get_job("j")
    assert listed.status == shown.status == expected
    assert shown.is_terminal is terminal and (expected in ACTIVE_JOB_STATUSES) is not terminal


def test_status_normalisation():
    from tui.workspace.azure.normalise import status

    assert status("JobStatus.RUNNING") == "Running"
    assert status("JobStatus.NOT_RESPONDING") == "NotResponding"
    assert status("cancelled") == "Canceled" and status("COMPLETED") == "Completed"
    assert status(None) == "Unknown"


def test_job_moves_queued_running_completed_between_polls(fake, azure_ws):
    fake.add_job("j", "Queued", script=[("Running", {"user_logs/std_log.txt": b"epoch 1\n"}),
                                        ("Completed", {"user_logs/std_log.txt": b"done\n"})])
    seen = []
    for _ in range(3):
        job = azure_ws.get_job("j")
        seen.append((job.status, job.start_time is not None, job.end_time is not None))
        fake.tick()
    assert seen == [("Queued", False, False), ("Running", True, False), ("Completed", True, True)]
    before = len(fake.requests)
    assert azure_ws.job_status("j") == "Completed" and len(fake.requests) == before + 1  # a follower's check


def test_counts_are_capped_where_counting_would_list_everything(fake):
    from tui.workspace.azure import AzureWorkspace

    for i in range(12):
        fake.add_job(f"job{i}")
    fake.add_asset("data", "digits", "1")
    fake.add_asset("data", "digits", "2")
    fake.add_asset("environments", "env", "1")
    fake.add_compute("cpu-cluster")
    ws = AzureWorkspace(fake.client(), count_cap=5)
    counts = ws.counts()
    assert counts[AssetKind.JOBS] == 5 and ws.counts_capped == {AssetKind.JOBS}
    assert counts[AssetKind.DATA] == 1 and counts[AssetKind.ENVIRONMENTS] == 1 and counts[AssetKind.COMPUTE] == 1
    assert counts[AssetKind.MODELS] == 0 and counts[AssetKind.ENDPOINTS] == 0
    assert len(arm_job_lists(fake)) == 2  # 6 jobs seen, then it stopped
    uncapped = AzureWorkspace(fake.client(), count_cap=100)
    assert uncapped.counts()[AssetKind.JOBS] == 12 and not uncapped.counts_capped


def test_versioned_assets_latest_per_name_newest_first(fake, azure_ws):
    fake.add_asset("data", "old", "1")
    fake.add_asset("data", "digits", "1")
    fake.add_asset("data", "labels", "1")
    fake.add_asset("data", "digits", "2")  # digits changed last
    page = azure_ws.list_assets(AssetKind.DATA)
    assert [(a.name, a.version) for a in page.items] == [("digits", "2"), ("labels", "1"), ("old", "1")]
    first = azure_ws.list_assets(AssetKind.DATA, max_results=2)
    rest = azure_ws.list_assets(AssetKind.DATA, max_results=2, page_token=first.next_token)
    assert [a.name for a in first.items + rest.items] == ["digits", "labels", "old"] and rest.next_token is None
    latest = azure_ws.get_asset(AssetKind.DATA, "digits")
    assert latest.version == "2" and latest.fields["type"] == "uri_folder"
    assert azure_ws.get_asset(AssetKind.DATA, "digits", "1").fields["description"] == "digits v1"
    assert [a.version for a in azure_ws.list_versions(AssetKind.DATA, "digits")] == ["2", "1"]
    with pytest.raises(NotFoundError, match="data 'digits:9' not found"):
        azure_ws.get_asset(AssetKind.DATA, "digits", "9")
    with pytest.raises(NotFoundError, match="data 'nope' not found"):
        azure_ws.get_asset(AssetKind.DATA, "nope")


def test_environments_and_models(fake, azure_ws):
    fake.add_asset("environments", "mnist-cpu", "1")
    fake.add_asset("models", "digits", "1")
    fake.add_asset("models", "digits", "2")
    env = azure_ws.get_asset(AssetKind.ENVIRONMENTS, "mnist-cpu")
    assert env.fields["image"].startswith("mcr.microsoft.com") and env.fields["conda_file"]["name"] == "env"
    assert [(a.name, a.version) for a in azure_ws.list_assets(AssetKind.MODELS).items] == [("digits", "2")]
    model = azure_ws.get_asset(AssetKind.MODELS, "digits", "1")
    assert model.fields["type"] == "mlflow_model"


def test_compute_state_size_and_node_counts(fake, azure_ws):
    fake.add_compute("gpu-cluster", size="STANDARD_NC6", min=0, max=4, current=1, target=3)
    fake.add_compute("ci-ada", "ComputeInstance", state="Stopped")
    items = azure_ws.list_assets(AssetKind.COMPUTE).items
    assert [a.name for a in items] == ["ci-ada", "gpu-cluster"]
    ci, cluster = items
    assert ci.fields["state"] == "Stopped" and ci.fields["type"] == "computeinstance"
    assert cluster.fields["size"] == "STANDARD_NC6" and cluster.fields["max_instances"] == 4
    assert cluster.fields["current_node_count"] == 1 and cluster.fields["target_node_count"] == 3
    assert cluster.fields["allocation_state"] == "Resizing"
    assert cluster.fields["provisioning_state"] == "Succeeded"  # not ProvisioningState.SUCCEEDED
    assert azure_ws.get_asset(AssetKind.COMPUTE, "gpu-cluster").fields["node_state_counts"]["running_node_count"] == 1
    with pytest.raises(NotFoundError, match="compute 'nope' not found"):
        azure_ws.get_asset(AssetKind.COMPUTE, "nope")


def test_online_endpoints_with_deployments_and_traffic(fake, azure_ws):
    fake.add_endpoint("digits-ep", {"blue": 90, "green": 10},
                      {"blue": {"instances": 2}, "green": {"state": "Updating"}})
    listed = azure_ws.list_assets(AssetKind.ENDPOINTS).items
    assert [a.name for a in listed] == ["digits-ep"] and listed[0].fields["traffic"] == {"blue": 90, "green": 10}
    ep = azure_ws.get_asset(AssetKind.ENDPOINTS, "digits-ep")
    assert ep.fields["provisioning_state"] == "Succeeded"
    deps = {d["name"]: d for d in ep.fields["deployments"]}
    assert deps["blue"]["instance_count"] == 2 and deps["green"]["provisioning_state"] == "Updating"


def test_list_assets_of_jobs_is_list_jobs(fake, azure_ws):
    fake.add_job("a")
    fake.add_job("b")
    assert [j.name for j in azure_ws.list_assets(AssetKind.JOBS).items] == ["b", "a"]
    assert azure_ws.get_asset(AssetKind.JOBS, "a").name == "a"


def test_no_request_goes_anywhere_but_the_fake(fake, azure_ws):
    fake.add_job("j", logs={"user_logs/std_log.txt": b"x\n"})
    azure_ws.get_job("j")
    azure_ws.read_log("j", "user_logs/std_log.txt")
    hosts = {r.host for r in fake.requests}
    assert hosts <= {ARM.removeprefix("https://"), API.removeprefix("https://"), "wsdemostore.blob.core.windows.net"}
