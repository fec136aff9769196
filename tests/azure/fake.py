"""A stateful fake of the Azure ML services, behind `MLClient(..., transport=...)`.

It answers what azure-ai-ml 1.35.2 and our backend send: ARM (workspace, jobs, data,
environments, models, compute, online endpoints), workspace discovery, run history (runs,
details with log SAS URLs, children with continuation tokens), the workspace's MLflow REST API
and blob storage (SAS, Range, expiry). Every request is recorded in `requests`, so tests can
assert what was sent (Range headers, which host saw a bearer token, how many round trips).

Canary secrets are planted in every kind of response: a test searches for them in whatever the
backend returns. Nothing here reaches the network.
"""

from __future__ import annotations

import base64
import io
import json
import re
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Callable
from urllib.parse import parse_qs, quote, urlsplit

import requests
import urllib3
from requests.adapters import BaseAdapter

SUB, RG, WS = "00000000-1111-2222-3333-444444444444", "rg-ml", "ws-demo"
REGION = "westeurope"
ARM = "https://management.azure.com"
API = f"https://{REGION}.api.azureml.ms"
ACCOUNT = "https://wsdemostore.blob.core.windows.net"
WS_ID = f"/subscriptions/{SUB}/resourceGroups/{RG}/providers/Microsoft.MachineLearningServices/workspaces/{WS}"
MLFLOW_PATH = f"/mlflow/v1.0{WS_ID}"

# Canaries: each must never appear in anything the backend returns.
CANARY_SIG = "CANARYsig0a1b2c3d4e5f"
CANARY_KEY = "CANARYkeyZm9vYmFyYmF6cXV4"
CANARY_TOKEN = "CANARYtokenAAAABBBBCCCC"
CANARY_RUN_TOKEN = "CANARYruntokenDDDDEEEE"
# A storage account key is base64: this one decodes to bytes, so the storage client can sign with it.
CANARY_ACCOUNT_KEY = base64.b64encode(b"CANARY-account-key-0123456789abcdef").decode()
CANARIES = (CANARY_SIG, CANARY_KEY, CANARY_TOKEN, CANARY_RUN_TOKEN, CANARY_ACCOUNT_KEY)
CONNECTION_STRING = (f"DefaultEndpointsProtocol=https;AccountName=wsdemostore;AccountKey={CANARY_KEY};"
                     "EndpointSuffix=core.windows.net")


def unsigned_jwt(**claims: Any) -> str:
    def part(d: dict) -> str:
        return base64.urlsafe_b64encode(json.dumps(d).encode()).rstrip(b"=").decode()

    body = {"tid": "72f988bf-0000-0000-0000-000000000000", "aud": "https://management.azure.com",
            "oid": "11111111-2222-3333-4444-555555555555", "canary": CANARY_TOKEN, **claims}
    return f"{part({'alg': 'none', 'typ': 'JWT'})}.{part(body)}."


class FakeCredential:
    """What `DefaultAzureCredential` would be: an unsigned JWT with tid and aud (AZURE.md)."""

    def __init__(self) -> None:
        self.calls = 0
        self.token = unsigned_jwt()

    def get_token(self, *scopes: str, **kwargs: Any):
        from azure.core.credentials import AccessToken

        self.calls += 1
        return AccessToken(self.token, int(time.time()) + 3600)


def iso(t: float) -> str:
    return datetime.fromtimestamp(t, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f") + "Z"


@dataclass
class Recorded:
    method: str
    url: str
    headers: dict[str, str]
    status: int = 0
    body_bytes: int = 0
    at: float = field(default_factory=time.monotonic)

    @property
    def host(self) -> str:
        return urlsplit(self.url).netloc

    @property
    def path(self) -> str:
        return urlsplit(self.url).path


@dataclass
class FakeJob:
    name: str
    status: str
    created: float
    job_type: str = "Command"
    experiment: str = "Default"
    display_name: str | None = None
    compute: str = "cpu-cluster"
    parent: str | None = None
    start: float | None = None
    end: float | None = None
    logs: dict[str, bytearray] = field(default_factory=dict)
    # Each tick() takes the next step: (status, {log file: bytes appended}).
    script: list[tuple[str, dict[str, bytes]]] = field(default_factory=list)
    metrics: dict[str, list[tuple[int, float]]] = field(default_factory=dict)
    body: dict[str, Any] = field(default_factory=dict)  # extra ARM properties (inputs, command...)
    named_outputs: list[str] = field(default_factory=list)


@dataclass
class Injected:
    match: Callable[[Recorded], bool]
    status: int
    headers: dict[str, str]
    body: Any
    times: int


class FakeAzure:
    """The services' state. `page_size` is ARM's page size, `children_page_size` run history's."""

    def __init__(self, *, page_size: int = 3, children_page_size: int = 3, latency: float = 0.0) -> None:
        self.page_size = page_size
        self.children_page_size = children_page_size
        self.latency = latency  # seconds added to every round trip (benchmarks)
        self.requests: list[Recorded] = []
        self.jobs: dict[str, FakeJob] = {}
        self.assets: dict[str, dict[str, dict[str, dict]]] = {"data": {}, "environments": {}, "models": {}}
        self.computes: dict[str, dict] = {}
        self.endpoints: dict[str, dict] = {}
        self.deployments: dict[str, dict[str, dict]] = {}
        self.blobs: dict[str, bytearray] = {}
        self.blob_metadata: dict[str, dict[str, str]] = {}
        self.codes: dict[str, dict[str, dict]] = {}
        self.output_uris: dict[str, str] = {}  # data asset id of a named output -> its azureml:// URI
        self.sas_generation = 1
        self.ignore_range = False  # a server that answers 200 with the whole blob
        self.network_down = False
        self.auth_status: int | None = None  # 401 or 403 on every bearer-token call
        self.injected: list[Injected] = []
        self.workspace_exists = True
        # What workspace discovery lists (the picker): (resource group, name). Only WS is served.
        self.workspaces: list[tuple[str, str]] = [(RG, WS)]
        self.clock = time.time() - 3600
        self.lock = threading.RLock()

    # ------------------------------------------------------------------ building state

    def _now(self) -> float:
        self.clock += 1.0
        return self.clock

    def add_job(self, name: str, status: str = "Completed", *, job_type: str = "Command", experiment: str = "Default",
                display_name: str | None = None, parent: str | None = None, logs: dict[str, bytes] | None = None,
                script: list[tuple[str, dict[str, bytes]]] | None = None,
                metrics: dict[str, list[tuple[int, float]]] | None = None, created: float | None = None,
                **body: Any) -> FakeJob:
        with self.lock:
            created = created if created is not None else self._now()
            job = FakeJob(name, status, created, job_type, experiment, display_name or name, parent=parent,
                          logs={k: bytearray(v) for k, v in (logs or {}).items()}, script=list(script or []),
                          metrics=dict(metrics or {}), body=dict(body))
            self._times_for(job)
            self.jobs[name] = job
            return job

    def add_output(self, job: str, path: str, data: bytes, output: str | None = None) -> None:
        """A file the job wrote: `outputs/x` in its artifacts, or `path` in a named output."""
        if output is None:
            self.blobs[f"/azureml/ExperimentRun/dcid.{job}/{path}"] = bytearray(data)
            return
        if output not in self.jobs[job].named_outputs:
            self.jobs[job].named_outputs.append(output)
            asset = f"azureml://locations/{REGION}/workspaces/x/data/azureml_{job}_output_data_{output}/versions/1"
            self.output_uris[asset] = (f"azureml://subscriptions/{SUB}/resourcegroups/{RG}/workspaces/{WS}/"
                                       f"datastores/workspaceblobstore/paths/azureml/{job}/{output}/")
        self.blobs[f"/azureml-blobstore/azureml/{job}/{output}/{path}"] = bytearray(data)

    def add_sweep(self, name: str, trials: int, *, status: str = "Running", experiment: str = "Default") -> FakeJob:
        sweep = self.add_job(name, status, job_type="Sweep", experiment=experiment)
        for i in range(trials):
            self.add_job(f"{name}_{i}", "Completed" if i % 2 == 0 else "Running", parent=name, experiment=experiment)
        return sweep

    def _times_for(self, job: FakeJob) -> None:
        if job.status not in ("NotStarted", "Queued", "Preparing", "Starting", "Provisioning") and job.start is None:
            job.start = job.created + 5
        if job.status in ("Completed", "Failed", "Canceled") and job.end is None:
            job.end = (job.start or job.created) + 60

    def tick(self) -> None:
        """Every job with a script takes its next step: a new status, log bytes appended."""
        with self.lock:
            for job in self.jobs.values():
                if not job.script:
                    continue
                status, grow = job.script.pop(0)
                job.status = status
                self._times_for(job)
                for file, data in grow.items():
                    job.logs.setdefault(file, bytearray()).extend(data)

    def add_asset(self, kind: str, name: str, version: str, created: float | None = None, **props: Any) -> dict:
        with self.lock:
            created = created if created is not None else self._now()
            versions = self.assets[kind].setdefault(name, {})
            versions[version] = {"created": created, "props": props}
            return versions[version]

    def add_compute(self, name: str, compute_type: str = "AmlCompute", **props: Any) -> None:
        self.computes[name] = {"type": compute_type, "created": self._now(), "props": props,
                               "state": props.pop("state", "Running")}

    def add_endpoint(self, name: str, traffic: dict[str, int], deployments: dict[str, dict]) -> None:
        self.endpoints[name] = {"created": self._now(), "traffic": traffic}
        self.deployments[name] = deployments

    def expire_sas(self) -> None:
        """Every SAS URL handed out so far stops working (403), as when its expiry passes."""
        self.sas_generation += 1

    def inject(self, match: str | Callable[[Recorded], bool], status: int, *, headers: dict | None = None,
               body: Any = None, times: int = 1) -> None:
        """The next `times` requests whose URL contains `match` get this response instead."""
        pred = match if callable(match) else (lambda r, m=match: m in r.url)
        self.injected.append(Injected(pred, status, headers or {}, body, times))

    # ------------------------------------------------------------------ HTTP

    def session(self) -> requests.Session:
        s = requests.Session()
        adapter = _Adapter(self)
        s.mount("https://", adapter)
        s.mount("http://", adapter)
        return s

    def transport(self):
        from azure.core.pipeline.transport import RequestsTransport

        return RequestsTransport(session=self.session(), session_owner=False)

    def client(self, credential: Any = None, **kwargs: Any):
        from azure.ai.ml import MLClient

        return MLClient(credential or FakeCredential(), SUB, RG, WS, transport=self.transport(),
                        enable_telemetry=False, show_progress=False,
                        **{"retry_total": 2, "retry_backoff_factor": 0.01, **kwargs})

    def count(self, pred: Callable[[Recorded], bool] | str = "") -> int:
        if isinstance(pred, str):
            return sum(pred in r.url for r in self.requests)
        return sum(1 for r in self.requests if pred(r))

    def handle(self, rec: Recorded, body: bytes | None) -> tuple[int, dict[str, str], bytes]:
        with self.lock:
            for inj in self.injected:
                if inj.times > 0 and inj.match(rec):
                    inj.times -= 1
                    return inj.status, inj.headers, _encode(inj.body if inj.body is not None else _err(inj.status))
            url = urlsplit(rec.url)
            bearer = rec.headers.get("Authorization", "")
            if url.netloc in (urlsplit(ARM).netloc, urlsplit(API).netloc) and url.path != "/discovery":
                if not bearer.startswith("Bearer "):
                    return 401, {}, _encode(_err(401, "no bearer token"))
                if self.auth_status:
                    return self.auth_status, {}, _encode(_err(self.auth_status))
            elif bearer.startswith("Bearer "):
                # A bearer token sent to storage would leak it; the real service rejects it too.
                return 400, {}, _encode(_err(400, "Authorization header on a SAS request"))
            query = {k: v[-1] for k, v in parse_qs(url.query).items()}
            try:
                status, headers, payload = self._route(rec.method, url.netloc, url.path, query, body, rec)
            except KeyError as exc:
                return 404, {}, _encode(_err(404, f"not found: {exc}"))
            return status, headers, payload if isinstance(payload, bytes) else _encode(payload)

    # ------------------------------------------------------------------ routes

    def _route(self, method: str, host: str, path: str, q: dict, body: bytes | None, rec: Recorded):
        if host == urlsplit(ACCOUNT).netloc:
            return self._blob(method, path, q, rec, body)
        if host == urlsplit(API).netloc:
            if path == "/discovery":
                return 200, {}, {"api": API, "catalog": API, "experimentation": API, "history": API,
                                 "hyperdrive": API, "modelmanagement": API, "pipelines": API,
                                 "studio": "https://ml.azure.com"}
            if path.startswith(MLFLOW_PATH):
                return self._mlflow(path[len(MLFLOW_PATH):], q)
            m = re.fullmatch(rf"/history/v1\.0{re.escape(WS_ID)}/runs/([^/]+)(/details|/children)?", path)
            if m:
                return self._history(m.group(1), m.group(2), q)
            if path == f"/history/v1.0{WS_ID}/rundata":
                return self._rundata(json.loads(body or b"{}"))
            if path == f"/data/v1.0{WS_ID}/dataversion/batchGetResolvedUris":
                ids = json.loads(body or b"{}").get("values", [])
                return 200, {}, {"values": {i: {"uri": self.output_uris[i], "type": "UriFolder"} for i in ids}}
            raise KeyError(path)
        listing = re.fullmatch(rf"/subscriptions/{SUB}(?:/resourceGroups/([^/]+))?/providers/"
                               r"Microsoft\.MachineLearningServices/workspaces", path)
        if listing:
            return 200, {}, {"value": [{**self._workspace(), "name": name,
                                        "id": f"/subscriptions/{SUB}/resourceGroups/{rg}/providers/"
                                              f"Microsoft.MachineLearningServices/workspaces/{name}"}
                                       for rg, name in self.workspaces
                                       if listing.group(1) in (None, rg)]}
        if not path.startswith(WS_ID):
            raise KeyError(path)
        if not self.workspace_exists:
            return 404, {}, {"error": {"code": "ResourceNotFound", "message":
                                       f"The Resource 'Microsoft.MachineLearningServices/workspaces/{WS}' "
                                       f"under resource group '{RG}' was not found."}}
        rest = path[len(WS_ID):]
        if rest == "":
            return 200, {}, self._workspace()
        parts = rest.strip("/").split("/")
        coll = parts[0]
        if coll == "jobs":
            return self._jobs(method, parts[1:], q, body)
        if coll in ("data", "environments", "models"):
            return self._versioned(method, coll, parts[1:], q, body)
        if coll == "datastores":
            return self._datastores(method, parts[1:], q)
        if coll == "codes":
            return self._codes(method, parts[1:], q, body)
        if coll == "computes":
            return self._computes(method, parts[1:], q, body)
        if coll == "onlineEndpoints":
            return self._endpoints(parts[1:], q)
        raise KeyError(path)

    def _workspace(self) -> dict:
        return {
            "id": WS_ID, "name": WS, "type": "Microsoft.MachineLearningServices/workspaces", "location": REGION,
            "tags": {}, "kind": "Default",
            "properties": {
                "friendlyName": "Demo workspace", "description": f"storage: {CONNECTION_STRING}",
                "discoveryUrl": f"{API}/discovery", "workspaceId": "a1b2c3d4-0000-0000-0000-000000000000",
                "mlFlowTrackingUri": f"azureml://{REGION}.api.azureml.ms{MLFLOW_PATH}",
                "storageAccount": f"/subscriptions/{SUB}/resourceGroups/{RG}/providers/Microsoft.Storage/"
                                  "storageAccounts/wsdemostore",
                "provisioningState": "Succeeded",
            },
            "systemData": {"createdAt": iso(self.clock - 86400), "createdBy": "ada@example.com",
                           "createdByType": "User"},
        }

    def _page(self, items: list, q: dict, link: str) -> dict:
        skip = int(q.get("$skip", 0))
        page = items[skip:skip + self.page_size]
        out: dict[str, Any] = {"value": page}
        if skip + self.page_size < len(items):
            out["nextLink"] = f"{link}{'&' if '?' in link else '?'}$skip={skip + self.page_size}"
        return out

    def _jobs(self, method: str, parts: list[str], q: dict, body: bytes | None):
        if not parts:
            top = sorted((j for j in self.jobs.values() if j.parent is None), key=lambda j: -j.created)
            link = f"{ARM}{WS_ID}/jobs?api-version={q.get('api-version')}&listViewType=ActiveOnly"
            page = self._page(top, q, link)
            page["value"] = [self._arm_job(j) for j in page["value"]]
            return 200, {}, page
        name = parts[0]
        if len(parts) == 2 and parts[1] == "cancel" and method == "POST":
            job = self.jobs[name]
            if job.status not in ("Completed", "Failed", "Canceled"):
                job.status = "CancelRequested"
                job.script = [("Canceled", {})]
            return 202, {"Location": f"{ARM}{WS_ID}/jobs/{name}/cancelstatus"}, b""
        if method == "PUT":
            doc = json.loads(body or b"{}")
            props = doc.get("properties", {})
            job = self.add_job(name, "Starting", job_type=props.get("jobType", "Command"),
                               experiment=props.get("experimentName") or "Default",
                               display_name=props.get("displayName"), **{"submitted": props})
            job.script = [("Queued", {}), ("Running", {"user_logs/std_log.txt": b"started\n"}),
                          ("Completed", {"user_logs/std_log.txt": b"done\n"})]
            if job.job_type == "Sweep":
                self._run_sweep(job, props)
            return 201, {}, self._arm_job(job)
        return 200, {}, self._arm_job(self.jobs[name])

    def _run_sweep(self, sweep: FakeJob, props: dict) -> None:
        """A submitted sweep's trials (`<sweep>_<i>`, max_total_trials of them, all Completed,
        each with its primary metric) and, once the sweep completes, HyperDrive's properties
        naming the best one."""
        metric = props["objective"]["primaryMetric"]
        scores = {}
        for i in range(props["limits"]["maxTotalTrials"]):
            score = round(0.5 + ((i * 7) % 10) / 20, 3)
            scores[f"{sweep.name}_{i}"] = score
            self.add_job(f"{sweep.name}_{i}", "Completed", parent=sweep.name, experiment=sweep.experiment,
                         metrics={metric: [(0, score / 2), (1, score)]})
        best = max(scores, key=scores.get)
        sweep.body["best"] = {"best_child_run_id": best, "score": str(scores[best])}

    def _arm_job(self, job: FakeJob) -> dict:
        compute_id = f"{WS_ID}/computes/{job.compute}"
        props: dict[str, Any] = {
            "jobType": job.job_type, "status": job.status, "displayName": job.display_name,
            "experimentName": job.experiment, "computeId": compute_id, "isArchived": False,
            "description": f"job {job.name}",
            "properties": {"azureml.git.repository_uri": "https://github.com/x/y",
                           "ContentSnapshotId": "abc",
                           "_azureml.ComputeTargetType": "amlctrain",
                           "outputs_sas": f"{ACCOUNT}/azureml/out?sv=2021&sig={CANARY_SIG}"},
            "tags": {"team": "vision"},
            "services": {"Studio": {"endpoint": f"https://ml.azure.com/runs/{job.name}", "jobServiceType": "Studio"},
                         "Tracking": {"endpoint": f"azureml://{REGION}.api.azureml.ms{MLFLOW_PATH}",
                                      "jobServiceType": "Tracking"}},
        }
        if job.job_type == "Sweep":
            props.update({
                "objective": {"goal": "maximize", "primaryMetric": "accuracy"},
                "samplingAlgorithm": {"samplingAlgorithmType": "Random"},
                "searchSpace": {"lr": ["uniform", [0.01, 0.1]]},
                "limits": {"jobLimitsType": "Sweep", "maxTotalTrials": 9, "maxConcurrentTrials": 3},
                "trial": {"command": "python train.py --lr ${{search_space.lr}}",
                          "environmentId": f"{WS_ID}/environments/mnist-cpu/versions/1",
                          "environmentVariables": {}},
                "inputs": {}, "outputs": {},
            })
        else:
            props.update({
                "command": "python train.py --epochs ${{inputs.epochs}}",
                "environmentId": f"{WS_ID}/environments/mnist-cpu/versions/1",
                "inputs": {"epochs": {"jobInputType": "literal", "value": "2"}},
                "outputs": {"default": {"jobOutputType": "uri_folder", "mode": "ReadWriteMount",
                                        "uri": f"azureml://datastores/workspaceartifactstore/ExperimentRun/dcid.{job.name}"}},
                "environmentVariables": {"STORAGE": CONNECTION_STRING, "API_TOKEN": CANARY_TOKEN},
                "resources": {"instanceCount": 1},
                "distribution": None,
            })
        for output in job.named_outputs:
            props.setdefault("outputs", {})[output] = {"jobOutputType": "uri_folder", "mode": "ReadWriteMount"}
        props.update(job.body.get("submitted", {}))
        if job.status == "Completed" and job.body.get("best"):
            props["properties"] = {**props.get("properties", {}), **job.body["best"]}
        props["status"] = job.status
        return {"id": f"{WS_ID}/jobs/{job.name}", "name": job.name,
                "type": "Microsoft.MachineLearningServices/workspaces/jobs", "properties": props,
                "systemData": {"createdAt": iso(job.created), "createdBy": "ada@example.com",
                               "createdByType": "User", "lastModifiedAt": iso(job.created)}}

    def _log_url(self, job: FakeJob, file: str) -> str:
        return (f"{ACCOUNT}/azureml/ExperimentRun/dcid.{job.name}/{quote(file)}"
                f"?sv=2021-08-06&sr=b&sp=r&se=gen{self.sas_generation}&sig={CANARY_SIG}{self.sas_generation}")

    def _run(self, job: FakeJob) -> dict:
        run = {"runId": job.name, "parentRunId": job.parent, "rootRunId": job.parent or job.name,
               "experimentId": "e1f2", "status": job.status, "displayName": job.display_name,
               "createdUtc": iso(job.created), "startTimeUtc": iso(job.start) if job.start else None,
               "endTimeUtc": iso(job.end) if job.end else None, "runType": "azureml.scriptrun",
               "token": CANARY_RUN_TOKEN, "target": job.compute, "properties": {"score": "0.9"},
               "tags": {"hyperparameters": '{"lr": 0.05}'},
               "createdBy": {"userName": "ada@example.com"}, "description": None}
        return run

    def _history(self, run_id: str, what: str | None, q: dict):
        job = self.jobs[run_id]
        if what is None:
            return 200, {}, self._run(job)
        if what == "/details":
            details = {"runId": job.name, "status": job.status, "target": job.compute,
                       "startTimeUtc": iso(job.start) if job.start else None,
                       "endTimeUtc": iso(job.end) if job.end else None,
                       "logFiles": {f: self._log_url(job, f) for f in sorted(job.logs)},
                       "properties": {"azureml.runsource": "azureml.scriptrun"}}
            return 200, {}, details
        children = sorted((j for j in self.jobs.values() if j.parent == run_id), key=lambda j: j.created)
        skip = int(q.get("$continuationtoken", 0))
        page = children[skip:skip + self.children_page_size]
        out: dict[str, Any] = {"value": [self._run(c) for c in page]}
        if skip + self.children_page_size < len(children):
            # The service pages with a continuation token and no nextLink (AZURE.md).
            out["continuationToken"] = str(skip + self.children_page_size)
        return 200, {}, out

    def _blob(self, method: str, path: str, q: dict, rec: Recorded, body: bytes | None):
        path = _unquote(path)
        if method in ("PUT", "HEAD"):
            return self._blob_write(method, path, q, rec, body)
        if q.get("comp") == "list":
            return self._blob_list(path, q)
        auth = rec.headers.get("Authorization", "")
        if auth.startswith("SharedKey ") or q.get("sig") == CANARY_SIG:
            # The SDK's downloads, signed with the datastore's account key (or a SAS).
            data = bytes(self._all_blobs()[path])
            return self._ranged(data, rec)
        m = re.fullmatch(r"/azureml/ExperimentRun/dcid\.([^/]+)/(.+)", path)
        if m:
            if q.get("se") != f"gen{self.sas_generation}" or q.get("sig") != f"{CANARY_SIG}{self.sas_generation}":
                return 403, {"x-ms-error-code": "AuthenticationFailed"}, (
                    b"<?xml version=\"1.0\"?><Error><Code>AuthenticationFailed</Code><Message>Signature not valid "
                    b"in the specified time frame</Message></Error>")
            data = bytes(self.jobs[m.group(1)].logs[m.group(2)])
        else:
            data = bytes(self.blobs[path])
        return self._ranged(data, rec)

    def _ranged(self, data: bytes, rec: Recorded):
        rng = rec.headers.get("Range") or rec.headers.get("x-ms-range")
        if not rng or self.ignore_range:
            return 200, {"Content-Type": "application/octet-stream"}, data
        a, _, b = rng.removeprefix("bytes=").partition("-")
        start = int(a)
        if start >= len(data):
            return 416, {"Content-Range": f"bytes */{len(data)}"}, b""
        end = min(int(b) if b else len(data) - 1, len(data) - 1)
        return 206, {"Content-Range": f"bytes {start}-{end}/{len(data)}", "Content-Type": "application/octet-stream",
                     "ETag": '"0x8D0"', "Last-Modified": "Mon, 01 Jan 2024 00:00:00 GMT",
                     "x-ms-blob-type": "BlockBlob"}, data[start:end + 1]

    def _all_blobs(self) -> dict[str, bytes]:
        out = {p: bytes(b) for p, b in self.blobs.items()}
        for job in self.jobs.values():
            for file, data in job.logs.items():
                out[f"/azureml/ExperimentRun/dcid.{job.name}/{file}"] = bytes(data)
        return out

    def _blob_list(self, path: str, q: dict):
        from xml.sax.saxutils import escape

        container = path.strip("/")
        prefix = q.get("prefix", "")
        names = sorted(p[len(container) + 2:] for p in self._all_blobs() if p.startswith(f"/{container}/"))
        blobs = "".join(
            f"<Blob><Name>{escape(n)}</Name><Properties><Content-Length>{len(self._all_blobs()[f'/{container}/{n}'])}"
            "</Content-Length><BlobType>BlockBlob</BlobType><Etag>0x8D0</Etag>"
            "<Last-Modified>Mon, 01 Jan 2024 00:00:00 GMT</Last-Modified></Properties><Metadata /></Blob>"
            for n in names if n.startswith(prefix))
        xml = (f'<?xml version="1.0" encoding="utf-8"?><EnumerationResults ServiceEndpoint="{ACCOUNT}/" '
               f'ContainerName="{container}"><Prefix>{escape(prefix)}</Prefix><Blobs>{blobs}</Blobs><NextMarker />'
               "</EnumerationResults>")
        return 200, {"Content-Type": "application/xml"}, xml.encode()

    def _rundata(self, request: dict):
        job = self.jobs[request["runId"]]
        run = self._run(job)
        run["outputs"] = {o: {"assetId": a, "type": "uri_folder"} for a, u in self.output_uris.items()
                          for o in job.named_outputs if f"_{job.name}_output_data_{o}/" in a}
        return 200, {}, {"runMetadata": run}

    def _datastores(self, method: str, parts: list[str], q: dict):
        stores = {"workspaceblobstore": "azureml-blobstore", "workspaceartifactstore": "azureml"}

        def store(name: str) -> dict:
            return {"id": f"{WS_ID}/datastores/{name}", "name": name,
                    "type": "Microsoft.MachineLearningServices/workspaces/datastores",
                    "properties": {"datastoreType": "AzureBlob", "accountName": "wsdemostore",
                                   "containerName": stores[name], "endpoint": "core.windows.net",
                                   "protocol": "https", "isDefault": name == "workspaceblobstore",
                                   "credentials": {"credentialsType": "AccountKey"}},
                    "systemData": {"createdAt": iso(self.clock), "createdBy": "ada@example.com",
                                   "createdByType": "User", "lastModifiedAt": iso(self.clock)}}

        if not parts:
            names = [n for n in stores if q.get("isDefault") != "true" or n == "workspaceblobstore"]
            return 200, {}, {"value": [store(n) for n in names]}
        if len(parts) == 2 and parts[1] == "listSecrets" and method == "POST":
            stores[parts[0]]  # noqa: B018 - raises KeyError -> 404
            return 200, {}, {"secretsType": "AccountKey", "key": CANARY_ACCOUNT_KEY}
        return 200, {}, store(parts[0]) if parts[0] in stores else _missing(parts[0])

    def _blob_write(self, method: str, path: str, q: dict, rec: Recorded, body: bytes | None):
        """Enough of Blob storage for the SDK's uploads: HEAD a blob, PUT one, PUT its metadata."""
        if q.get("sig") != CANARY_SIG:
            return 403, {"x-ms-error-code": "AuthenticationFailed"}, b""
        stamp = {"ETag": '"0x8D0"', "Last-Modified": "Mon, 01 Jan 2024 00:00:00 GMT", "x-ms-version": "2021-08-06",
                 "x-ms-request-server-encrypted": "true"}
        if method == "HEAD":
            if path not in self.blobs:
                return 404, {"x-ms-error-code": "BlobNotFound"}, b""
            meta = {f"x-ms-meta-{k}": v for k, v in self.blob_metadata.get(path, {}).items()}
            return 200, {**stamp, "Content-Length": str(len(self.blobs[path])), "x-ms-blob-type": "BlockBlob",
                         **meta}, b""
        if q.get("comp") == "metadata":
            self.blob_metadata[path] = {k[len("x-ms-meta-"):]: v for k, v in rec.headers.items()
                                        if k.lower().startswith("x-ms-meta-")}
            return 200, stamp, b""
        self.blobs[path] = bytearray(body or b"")
        return 201, stamp, b""

    def _mlflow(self, path: str, q: dict):
        if path == "/api/2.0/mlflow/runs/get":
            job = self.jobs[q["run_id"]]
            latest = [{"key": k, "value": v[-1][1], "step": v[-1][0], "timestamp": int(job.created * 1000)}
                      for k, v in job.metrics.items() if v]
            return 200, {}, {"run": {"info": {"run_id": job.name, "run_uuid": job.name, "status": "FINISHED",
                                              "artifact_uri": f"{ACCOUNT}/x?sig={CANARY_SIG}"},
                                     "data": {"metrics": latest, "params": [{"key": "lr", "value": "0.1"}],
                                              "tags": [{"key": "mlflow.source.name", "value": "train.py"}]}}}
        if path == "/api/2.0/mlflow/metrics/get-history":
            job = self.jobs[q["run_id"]]
            points = job.metrics.get(q["metric_key"], [])
            size = int(q.get("max_results") or 25000)
            skip = int(q.get("page_token") or 0)
            page = points[skip:skip + size]
            out: dict[str, Any] = {"metrics": [{"key": q["metric_key"], "value": v, "step": s,
                                                "timestamp": int((job.created + s) * 1000)} for s, v in page]}
            if skip + size < len(points):
                out["next_page_token"] = str(skip + size)
            return 200, {}, out
        raise KeyError(path)

    def _versioned(self, method: str, kind: str, parts: list[str], q: dict, body: bytes | None):
        store = self.assets[kind]
        link = f"{ARM}{WS_ID}/{kind}"
        if not parts:
            containers = sorted(store, key=lambda n: max(v["created"] for v in store[n].values()))
            page = self._page(containers, q, f"{link}?api-version={q.get('api-version')}&listViewType=ActiveOnly")
            page["value"] = [self._container(kind, n) for n in page["value"]]
            return 200, {}, page
        name = parts[0]
        if len(parts) == 1:
            if method == "PUT":
                store.setdefault(name, {})
                return 200, {}, self._container(kind, name)
            store[name]  # noqa: B018 - raises KeyError -> 404
            return 200, {}, self._container(kind, name)
        if len(parts) == 2:  # versions
            versions = sorted(store[name].items(), key=lambda kv: -kv[1]["created"])
            page = self._page(versions, q, f"{link}/{name}/versions?api-version={q.get('api-version')}")
            page["value"] = [self._version(kind, name, v, d) for v, d in page["value"]]
            return 200, {}, page
        version = parts[2]
        if method == "PUT":
            props = json.loads(body or b"{}").get("properties", {})
            self.add_asset(kind, name, version, **props)
            return 201, {}, self._version(kind, name, version, store[name][version])
        return 200, {}, self._version(kind, name, version, store[name][version])

    def _codes(self, method: str, parts: list[str], q: dict, body: bytes | None):
        """Code snapshots: look up by hash, start a pending upload (a SAS for a fresh container),
        register the version."""
        name = parts[0]
        versions = self.codes.setdefault(name, {})
        if len(parts) == 2:
            # Snapshots are found by content hash, whatever anonymous name they were stored under.
            found = [(n, v["version"]) for n, vs in self.codes.items() for v in vs.values()
                     if q.get("hash") and v["hash"] == q.get("hash")]
            return 200, {}, {"value": [self._code(n, v) for n, v in found]}
        version = parts[2]
        if len(parts) == 4 and parts[3] == "startPendingUpload":
            container = f"upload-{len(self.blobs) + len(self.codes)}"
            return 200, {}, {"pendingUploadId": container, "pendingUploadType": "TemporaryBlobReference",
                             "blobReferenceForConsumption": {
                                 "blobUri": f"{ACCOUNT}/{container}",
                                 "storageAccountArmId": "x",
                                 "credential": {"credentialType": "SAS",
                                                "sasUri": f"{ACCOUNT}/{container}?sv=2021&sr=c&sp=rcw&sig={CANARY_SIG}"}}}
        if method == "PUT":
            props = json.loads(body or b"{}").get("properties", {})
            versions[version] = {"version": version, "props": props,
                                 "hash": (props.get("properties") or {}).get("hash_sha256")}
            return 201, {}, self._code(name, version)
        return 200, {}, self._code(name, version)

    def _code(self, name: str, version: str) -> dict:
        v = self.codes[name][version]
        return {"id": f"{WS_ID}/codes/{name}/versions/{version}", "name": version,
                "type": "Microsoft.MachineLearningServices/workspaces/codes/versions",
                "properties": {**v["props"], "isAnonymous": True},
                "systemData": {"createdAt": iso(self.clock), "createdBy": "ada@example.com", "createdByType": "User",
                               "lastModifiedAt": iso(self.clock)}}

    def route_storage(self, monkeypatch) -> None:
        """The SDK's uploads and downloads use azure-storage-blob clients, which do not take
        MLClient's transport: give them this fake's transport, so no byte reaches the network."""
        from azure.ai.ml._artifacts import _blob_storage_helper as helper
        from azure.storage.blob import BlobServiceClient, ContainerClient

        fake = self

        class RoutedService(BlobServiceClient):
            def __init__(self, account_url, credential=None, **kw):
                super().__init__(account_url, credential=credential, transport=fake.transport(), **kw)

        class RoutedContainer(ContainerClient):
            def __init__(self, account_url, container_name, credential=None, **kw):
                super().__init__(account_url, container_name, credential=credential, transport=fake.transport(),
                                 **kw)

        monkeypatch.setattr(helper, "BlobServiceClient", RoutedService)
        monkeypatch.setattr(helper, "ContainerClient", RoutedContainer)

    def _container(self, kind: str, name: str) -> dict:
        versions = self.assets[kind][name]
        latest = max(versions, key=lambda v: versions[v]["created"]) if versions else None
        created = min((v["created"] for v in versions.values()), default=self.clock)
        modified = max((v["created"] for v in versions.values()), default=self.clock)
        props: dict[str, Any] = {"latestVersion": latest, "nextVersion": str(len(versions) + 1),
                                 "description": None, "tags": {}, "isArchived": False, "properties": {}}
        if kind == "data":
            props["dataType"] = versions[latest]["props"].get("dataType", "uri_folder") if latest else "uri_folder"
        return {"id": f"{WS_ID}/{kind}/{name}", "name": name, "type": f"Microsoft.MachineLearningServices/"
                f"workspaces/{kind}", "properties": props,
                "systemData": {"createdAt": iso(created), "createdBy": "ada@example.com", "createdByType": "User",
                               "lastModifiedAt": iso(modified)}}

    def _version(self, kind: str, name: str, version: str, d: dict) -> dict:
        props: dict[str, Any] = {"description": f"{name} v{version}", "tags": {"source": "test"},
                                 "properties": {}, "isArchived": False, "isAnonymous": False}
        if kind == "data":
            props.update({"dataType": "uri_folder",
                          "dataUri": f"{ACCOUNT}/data/{name}/{version}/?sv=2021&sig={CANARY_SIG}"})
        elif kind == "environments":
            props.update({"image": "mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu22.04",
                          "condaFile": "name: env\ndependencies:\n- python=3.11\n- pip:\n  - torch\n",
                          "osType": "Linux"})
        else:
            props.update({"modelType": "mlflow_model",
                          "modelUri": f"azureml://subscriptions/{SUB}/resourcegroups/{RG}/workspaces/{WS}/"
                                      f"datastores/workspaceblobstore/paths/models/{name}/{version}",
                          "jobName": None, "flavors": {"python_function": {"data": {"loader_module": "mlflow.pytorch"}}}})
        props.update(d["props"])
        return {"id": f"{WS_ID}/{kind}/{name}/versions/{version}", "name": version,
                "type": f"Microsoft.MachineLearningServices/workspaces/{kind}/versions", "properties": props,
                "systemData": {"createdAt": iso(d["created"]), "createdBy": "ada@example.com",
                               "createdByType": "User", "lastModifiedAt": iso(d["created"])}}

    def _computes(self, method: str, parts: list[str], q: dict, body: bytes | None):
        if not parts:
            names = sorted(self.computes)
            page = self._page(names, q, f"{ARM}{WS_ID}/computes?api-version={q.get('api-version')}")
            page["value"] = [self._compute(n) for n in page["value"]]
            return 200, {}, page
        name = parts[0]
        if len(parts) == 2 and method == "POST":
            c = self.computes[name]
            c["state"] = {"start": "Starting", "stop": "Stopping", "restart": "Restarting"}[parts[1]]
            return 202, {"Location": f"{ARM}{WS_ID}/computes/{name}/operationResults/x"}, b""
        if method == "PUT":
            doc = json.loads(body or b"{}").get("properties", {})
            self.computes[name] = {"type": doc.get("computeType", "AmlCompute"), "created": self._now(),
                                   "props": {"description": doc.get("description")}, "state": "Creating",
                                   "provisioning": "Creating", "submitted": doc}
            return 201, {"Azure-AsyncOperation": f"{ARM}{WS_ID}/computeOperations/op1?api-version=2023"}, \
                self._compute(name)
        return 200, {}, self._compute(name)

    def _compute(self, name: str) -> dict:
        c = self.computes[name]
        props = dict(c["props"])
        description = props.pop("description", None)
        inner: dict[str, Any]
        if c["type"] == "ComputeInstance":
            inner = {"vmSize": props.get("size", "STANDARD_DS3_V2"), "state": c["state"],
                     "connectivityEndpoints": {"publicIpAddress": "10.0.0.4"},
                     "sshSettings": {"adminUserName": "azureuser", "sshPort": 50000, "sshPublicAccess": "Disabled"}}
        else:
            inner = {"vmSize": props.get("size", "STANDARD_DS3_V2"), "vmPriority": "Dedicated",
                     "scaleSettings": {"minNodeCount": props.get("min", 0), "maxNodeCount": props.get("max", 4),
                                       "nodeIdleTimeBeforeScaleDown": "PT120S"},
                     "currentNodeCount": props.get("current", 1), "targetNodeCount": props.get("target", 2),
                     "allocationState": "Resizing" if props.get("current", 1) != props.get("target", 2) else "Steady",
                     "nodeStateCounts": {"idleNodeCount": 0, "runningNodeCount": props.get("current", 1),
                                         "preparingNodeCount": 0, "unusableNodeCount": 0, "leavingNodeCount": 0,
                                         "preemptedNodeCount": 0},
                     "userAccountCredentials": {"adminUserName": "azureuser", "adminUserPassword": CANARY_KEY}}
        return {"id": f"{WS_ID}/computes/{name}", "name": name, "location": REGION,
                "type": "Microsoft.MachineLearningServices/workspaces/computes",
                "properties": {"computeType": c["type"], "provisioningState": c.get("provisioning", "Succeeded"),
                               "description": description, "computeLocation": REGION,
                               "createdOn": iso(c["created"]), "modifiedOn": iso(c["created"]),
                               "disableLocalAuth": True, "properties": inner},
                "systemData": {"createdAt": iso(c["created"]), "createdBy": "ada@example.com",
                               "createdByType": "User"}}

    def _endpoints(self, parts: list[str], q: dict):
        if not parts:
            return 200, {}, {"value": [self._endpoint(n) for n in sorted(self.endpoints)]}
        name = parts[0]
        if len(parts) == 1:
            return 200, {}, self._endpoint(name)
        if len(parts) == 2 and parts[1] == "deployments":
            deps = self.deployments[name]
            return 200, {}, {"value": [self._deployment(name, d, p) for d, p in sorted(deps.items())]}
        raise KeyError("/".join(parts))

    def _endpoint(self, name: str) -> dict:
        e = self.endpoints[name]
        return {"id": f"{WS_ID}/onlineEndpoints/{name}", "name": name, "location": REGION, "kind": "Managed",
                "type": "Microsoft.MachineLearningServices/workspaces/onlineEndpoints",
                "identity": {"type": "SystemAssigned", "principalId": "p", "tenantId": "t"},
                "properties": {"authMode": "Key", "description": "digits", "provisioningState": "Succeeded",
                               "scoringUri": f"https://{name}.{REGION}.inference.ml.azure.com/score",
                               "swaggerUri": f"https://{name}.{REGION}.inference.ml.azure.com/swagger.json"
                                             f"?sig={CANARY_SIG}",
                               "traffic": e["traffic"], "properties": {}},
                "systemData": {"createdAt": iso(e["created"]), "createdBy": "ada@example.com",
                               "createdByType": "User", "lastModifiedAt": iso(e["created"]),
                               "lastModifiedBy": "ada@example.com", "lastModifiedByType": "User"}}

    def _deployment(self, endpoint: str, name: str, p: dict) -> dict:
        return {"id": f"{WS_ID}/onlineEndpoints/{endpoint}/deployments/{name}", "name": name, "location": REGION,
                "type": "Microsoft.MachineLearningServices/workspaces/onlineEndpoints/deployments",
                "sku": {"name": "Default", "capacity": p.get("instances", 1)},
                "properties": {"endpointComputeType": "Managed", "provisioningState": p.get("state", "Succeeded"),
                               "model": f"{WS_ID}/models/digits/versions/1",
                               "instanceType": p.get("instance_type", "Standard_DS3_v2"),
                               "scaleSettings": {"scaleType": "Default"},
                               "requestSettings": {"maxConcurrentRequestsPerInstance": 1},
                               "environmentVariables": {"SECRET_KEY": CANARY_KEY}},
                "systemData": {"createdAt": iso(self.clock), "createdBy": "ada@example.com", "createdByType": "User",
                               "lastModifiedAt": iso(self.clock)}}


def _missing(name: str):
    raise KeyError(name)


def _unquote(s: str) -> str:
    from urllib.parse import unquote

    return unquote(s)


def _err(status: int, message: str | None = None) -> dict:
    code = {401: "AuthenticationFailed", 403: "AuthorizationFailed", 404: "NotFound", 429: "TooManyRequests"}.get(
        status, "Error")
    if message is None and status == 403:
        message = (f"The client 'ada@example.com' with object id '1111' does not have authorization to perform "
                   f"action 'Microsoft.MachineLearningServices/workspaces/jobs/read' over scope '{WS_ID}' or "
                   "the scope is invalid.")
    return {"error": {"code": code, "message": message or f"HTTP {status}: Bearer {CANARY_TOKEN} "
                      f"{ACCOUNT}/x?sig={CANARY_SIG}"}}


def _encode(payload: Any) -> bytes:
    if isinstance(payload, bytes):
        return payload
    return json.dumps(payload).encode()


class _Adapter(BaseAdapter):
    def __init__(self, fake: FakeAzure) -> None:
        super().__init__()
        self.fake = fake

    def send(self, request, stream=False, timeout=None, verify=True, cert=None, proxies=None):
        rec = Recorded(request.method, request.url, dict(request.headers))
        self.fake.requests.append(rec)
        if self.fake.latency:
            time.sleep(self.fake.latency)
        if self.fake.network_down:
            rec.status = -1
            raise requests.ConnectionError(f"Failed to resolve '{urlsplit(request.url).netloc}' "
                                           "([Errno -3] Temporary failure in name resolution)")
        body = request.body
        if hasattr(body, "read"):
            body = body.read()
        if isinstance(body, str):
            body = body.encode()
        status, headers, data = self.fake.handle(rec, body)
        rec.status, rec.body_bytes = status, len(data)
        all_headers = {"Content-Type": "application/json", **headers, "Content-Length": str(len(data))}
        resp = requests.Response()
        resp.status_code = status
        resp.raw = urllib3.HTTPResponse(body=io.BytesIO(data), status=status, headers=all_headers,
                                        preload_content=False, decode_content=False)
        resp.headers = requests.structures.CaseInsensitiveDict(all_headers)
        resp.url = request.url
        resp.request = request
        resp.reason = {200: "OK", 201: "Created", 202: "Accepted", 206: "Partial Content", 404: "Not Found",
                       403: "Forbidden", 401: "Unauthorized", 416: "Range Not Satisfiable",
                       429: "Too Many Requests"}.get(status, "")
        return resp

    def close(self) -> None:
        pass
