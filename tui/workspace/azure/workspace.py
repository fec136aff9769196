"""`AzureWorkspace`: the `Workspace` contract over `azure.ai.ml.MLClient` (see AZURE.md).

Where the SDK falls short this calls the services itself, through the SDK's own HTTP
pipelines (so a test transport serves every request): run history for job times, children
past the first page and log-file URLs; blob Range reads for logs; the workspace's MLflow REST
API for metrics. Job list rows are built from the REST JSON, because the SDK's conversion
costs 20-40 ms a job. Every record and error passes through `normalise.scrub`/`redact`.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping

from .. import spec as specs
from ..base import (
    Asset,
    AssetKind,
    Capabilities,
    InvalidSpecError,
    Job,
    LogChunk,
    LogFile,
    MetricPoint,
    NotFoundError,
    NotSupportedError,
    Page,
    ReadOnlyError,
    TERMINAL_STATUSES,
    Workspace,
    WorkspaceError,
    WorkspaceInfo,
)
from ..redact import redact
from . import metrics as mlflow_rest
from . import normalise as norm
from .sdk import DEFAULT_RETRY_TOTAL, MANAGEMENT_SCOPE, load_sdk
from .errors import translate
from .logs import LogReader

COUNT_CAP = 1000  # counting jobs means listing them: stop here and say "1,000+"
_VERSIONED = (AssetKind.DATA, AssetKind.ENVIRONMENTS, AssetKind.MODELS)
COMPUTE_ACTIONS = ("start", "stop", "restart")


def _encode_token(service_token: str | None, skip: int) -> str:
    return f"{skip}:{service_token or ''}"


def _decode_token(token: str | None) -> tuple[str | None, int]:
    if not token:
        return None, 0
    skip, _, service = token.partition(":")
    if not skip.isdigit():
        raise InvalidSpecError(f"not a page token of this workspace: {token[:40]!r}", field="page_token")
    return service or None, int(skip)


class AzureWorkspace(Workspace):
    """An Azure ML workspace. Thread-safe: the SDK's clients are, and our caches take a lock."""

    capabilities = Capabilities(submit=True, cancel=True, sweeps=True, models=True, endpoints=True,
                                metrics=True, create_assets=True)

    def __init__(self, ml_client: Any, *, read_only: bool = False, cache_dir: Path | str | None = None,
                 count_cap: int = COUNT_CAP):
        load_sdk()  # the client exists, so the SDK is imported: this only silences its loggers
        self.ml = ml_client
        self.read_only = read_only
        # The folder of the app's list caches (a file per workspace, cache.py); None: the user
        # cache dir. The engine itself keeps nothing there.
        self.cache_dir = Path(cache_dir) if cache_dir else None
        self.count_cap = count_cap
        # Kinds whose last count stopped at `count_cap` (show "1,000+").
        self.counts_capped: frozenset[AssetKind] = frozenset()
        self.subscription_id = ml_client.subscription_id
        self.resource_group = ml_client.resource_group_name
        self.workspace_name = ml_client.workspace_name
        self._lock = threading.Lock()
        self._workspace: Any = None
        self._mlflow: Any = None
        self._held_pages: dict[tuple[str | None, str], tuple[list[Job], str | None]] = {}
        self._logs = LogReader(self._run_details, self._get_blob)

    # ------------------------------------------------------------------ plumbing

    @property
    def _where(self) -> str:
        return (f"workspace {self.workspace_name!r} in resource group {self.resource_group!r} "
                f"(subscription {self.subscription_id})")

    def _call(self, fn: Callable[[], Any], what: str | None = None) -> Any:
        try:
            return fn()
        except WorkspaceError:
            raise
        except Exception as exc:  # the SDK raises many kinds; each becomes one the user can act on
            # `from None`: the original's text may carry a SAS URL or a token.
            raise translate(exc, what=what, workspace=self._where) from None

    def _writable(self) -> None:
        if self.read_only:
            raise ReadOnlyError("the workspace is open read-only")

    def _workspace_entity(self) -> Any:
        if self._workspace is None:
            entity = self._call(lambda: self.ml.workspaces.get(self.workspace_name))
            with self._lock:
                self._workspace = entity
        return self._workspace

    def _get_json(self, client: Any, request: Any, what: str | None = None) -> dict:
        """Send a GET through one of the SDK's pipelines (its auth, retries, transport): the JSON body."""

        def call() -> dict:
            response = client.send_request(request)
            if response.status_code == 200:
                return response.json()
            raise _http_error(response)

        return self._call(call, what)

    def _history_get(self, path: str, params: Mapping[str, Any] | None = None, *, what: str | None = None) -> dict:
        """GET a run-history path (`/runs/{id}`...) of this workspace."""
        from azure.core.rest import HttpRequest

        client = self._call(lambda: self.ml.jobs._runs_operations._operation._client, what)
        url = client.format_url(f"/history/v1.0/subscriptions/{self.subscription_id}/resourceGroups/"
                                f"{self.resource_group}/providers/Microsoft.MachineLearningServices/workspaces/"
                                f"{self.workspace_name}{path}")
        return self._get_json(client, HttpRequest("GET", url, params=dict(params or {})), what)

    def _run_details(self, name: str) -> dict:
        return self._history_get(f"/runs/{name}/details", what=f"job {name!r}")

    def _get_blob(self, url: str, byte_range: str) -> tuple[int, Mapping[str, str], bytes]:
        """GET a SAS URL through the SDK's plain pipeline: no bearer token goes to storage."""

        def call():
            response = self.ml._requests_pipeline.get(url, headers={"Range": byte_range,
                                                                    "x-ms-version": "2021-08-06"})
            return response.status_code, dict(response.headers), response.read()

        return self._call(call, "a log file")

    # ------------------------------------------------------------------ workspace

    def info(self) -> WorkspaceInfo:
        ws = self._workspace_entity()
        scope = (f"/subscriptions/{self.subscription_id}/resourceGroups/{self.resource_group}"
                 f"/providers/Microsoft.MachineLearningServices/workspaces/{self.workspace_name}")
        details = {"subscription_id": self.subscription_id, "resource_group": self.resource_group,
                   "workspace_name": self.workspace_name, "region": str(getattr(ws, "location", "") or ""),
                   "display_name": str(getattr(ws, "display_name", "") or self.workspace_name)}
        return WorkspaceInfo(kind="azure", name=self.workspace_name, location=scope,
                             details={k: redact(v) for k, v in details.items()})

    def counts(self) -> dict[AssetKind, int]:
        capped: set[AssetKind] = set()
        out: dict[AssetKind, int] = {}
        for kind in AssetKind:
            if kind is AssetKind.JOBS:
                n, token = 0, None
                while True:
                    items, token = self._arm_jobs_page(token)
                    n += len(items)
                    if not token or n >= self.count_cap:
                        break
                if token:
                    capped.add(kind)
                    n = self.count_cap
                out[kind] = n
            else:
                out[kind] = len(self._all_assets(kind))
        self.counts_capped = frozenset(capped)
        return out

    # ------------------------------------------------------------------ assets

    def _ops(self, kind: AssetKind) -> Any:
        return {AssetKind.DATA: self.ml.data, AssetKind.ENVIRONMENTS: self.ml.environments,
                AssetKind.MODELS: self.ml.models}[kind]

    def _all_assets(self, kind: AssetKind) -> list[Asset]:
        if kind in _VERSIONED:
            containers = self._call(lambda: list(self._ops(kind).list()))
            assets = [self._asset(kind, c, version=getattr(c, "latest_version", None)) for c in containers]
            # Newest first by when their latest version was made (a container's last change).
            return sorted(assets, key=lambda a: _changed(a), reverse=True)
        if kind is AssetKind.COMPUTE:
            rest = self._call(lambda: list(self.ml.compute._operation.list(
                self.resource_group, self.workspace_name, cls=lambda objs: objs)))
            return sorted((self._compute(r) for r in rest), key=lambda a: a.name)
        if kind is AssetKind.ENDPOINTS:
            endpoints = self._call(lambda: list(self.ml.online_endpoints.list()))
            return sorted((self._endpoint(e) for e in endpoints), key=lambda a: a.name)
        raise NotSupportedError(f"{kind.value} are listed with list_jobs")

    def _asset(self, kind: AssetKind, entity: Any, version: str | None = None) -> Asset:
        fields = norm.entity_dict(entity)
        version = version if version is not None else getattr(entity, "version", None)
        return Asset(kind, entity.name, str(version) if version is not None else None, fields)

    def _compute(self, rest: Any) -> Asset:
        from azure.ai.ml.entities import Compute

        entity = Compute._from_rest_object(rest)
        fields = norm.entity_dict(entity)
        wire = rest.as_dict() if hasattr(rest, "as_dict") else {}
        inner = ((wire.get("properties") or {}).get("properties")) or {}
        for key, wire_key in (("current_node_count", "currentNodeCount"), ("target_node_count", "targetNodeCount"),
                              ("allocation_state", "allocationState")):
            if inner.get(wire_key) is not None:
                fields[key] = inner[wire_key]
        if isinstance(inner.get("nodeStateCounts"), Mapping):
            fields["node_state_counts"] = {norm.snake(k): v for k, v in inner["nodeStateCounts"].items()}
        return Asset(AssetKind.COMPUTE, entity.name, None, norm.scrub(fields))

    def _endpoint(self, entity: Any, deployments: Iterable[Any] | None = None) -> Asset:
        fields = norm.entity_dict(entity)
        if deployments is not None:
            fields["deployments"] = [norm.entity_dict(d) for d in deployments]
        return Asset(AssetKind.ENDPOINTS, entity.name, None, fields)

    def list_assets(self, kind: AssetKind, *, max_results: int | None = None,
                    page_token: str | None = None) -> Page:
        kind = AssetKind(kind)
        if kind is AssetKind.JOBS:
            return self.list_jobs(max_results=max_results, page_token=page_token)
        items = self._all_assets(kind)
        offset = _decode_token(page_token)[1]
        end = offset + max_results if max_results else len(items)
        return Page(items[offset:end], _encode_token(None, end) if end < len(items) else None)

    def get_asset(self, kind: AssetKind, name: str, version: str | None = None) -> Asset:
        kind = AssetKind(kind)
        what = f"{kind.value} {name + (':' + version if version else '')!r}"
        if kind is AssetKind.JOBS:
            return self.get_job(name)
        if kind in _VERSIONED:
            ops = self._ops(kind)
            if version is None:
                entity = self._call(lambda: ops.get(name, label="latest"), what)
            else:
                entity = self._call(lambda: ops.get(name, version=str(version)), what)
            return self._asset(kind, entity)
        if kind is AssetKind.COMPUTE:
            rest = self._call(lambda: self.ml.compute._operation.get(self.resource_group, self.workspace_name, name),
                              what)
            return self._compute(rest)
        entity = self._call(lambda: self.ml.online_endpoints.get(name), what)
        deployments = self._call(lambda: list(self.ml.online_deployments.list(name)), what)
        return self._endpoint(entity, deployments)

    def list_versions(self, kind: AssetKind, name: str) -> list[Asset]:
        kind = AssetKind(kind)
        if kind not in _VERSIONED:
            raise NotSupportedError(f"{kind.value} have no versions")
        what = f"{kind.value} {name!r}"
        entities = self._call(lambda: list(self._ops(kind).list(name=name)), what)
        if not entities:
            raise NotFoundError(f"{what} not found")
        return sorted((self._asset(kind, e) for e in entities), key=_created, reverse=True)

    # ------------------------------------------------------------------ jobs: read

    def _arm_jobs_page(self, token: str | None) -> tuple[list[Job], str | None]:
        """One service page of top-level jobs (ARM): (jobs, nextLink). A raw GET through the
        SDK's ARM pipeline: deserialising into its models would double the cost of a page."""
        from azure.core.rest import HttpRequest

        arm = self.ml.jobs.service_client_01_2024_preview_arm
        if token:
            # A page token is a nextLink: never let one send our bearer token to another host.
            if not token.startswith(arm._config.base_url.rstrip("/") + "/"):
                raise InvalidSpecError(f"not a page token of this workspace: {token[:60]!r}", field="page_token")
            request = HttpRequest("GET", token)
        else:
            url = arm._client.format_url(
                "{endpoint}" f"/subscriptions/{self.subscription_id}/resourceGroups/{self.resource_group}"
                f"/providers/Microsoft.MachineLearningServices/workspaces/{self.workspace_name}/jobs",
                endpoint=arm._config.base_url)
            request = HttpRequest("GET", url, params={"api-version": arm._config.api_version,
                                                      "listViewType": "ActiveOnly"})
        page = self._get_json(arm._client, request)
        jobs = [_job_record(norm.scrub(norm.arm_job_fields(wire))) for wire in page.get("value") or []]
        return jobs, page.get("nextLink")

    def _children_page(self, parent: str, token: str | None) -> tuple[list[Job], str | None]:
        """One run-history page of a job's children: (jobs, continuation token). The SDK's
        `jobs.list(parent_job_name=...)` stops after the first page; this does not."""
        params = {"$continuationtoken": token} if token else {}
        page = self._history_get(f"/runs/{parent}/children", params, what=f"job {parent!r}")
        jobs = [_job_record(norm.scrub(norm.run_fields(run)), start=norm.parse_time(run.get("startTimeUtc")),
                            end=norm.parse_time(run.get("endTimeUtc"))) for run in page.get("value") or []]
        return jobs, page.get("continuationToken") or page.get("nextLink")

    def list_jobs(self, *, status: str | None = None, experiment_name: str | None = None,
                  parent_job_name: str | None = None, max_results: int | None = None,
                  page_token: str | None = None) -> Page:
        """Jobs page by page. The service filters nothing: status and experiment are applied
        here, reading further service pages until `max_results` match (or none are left)."""
        if max_results is not None and max_results < 1:
            raise InvalidSpecError(f"max_results must be at least 1, got {max_results}", field="max_results")
        wanted_status = norm.status(status) if status else None
        if wanted_status and wanted_status not in norm.AZURE_JOB_STATUSES:
            # The filter runs here over every page: a typo would list the whole workspace for nothing.
            raise InvalidSpecError(f"unknown status {status!r}; allowed: {', '.join(norm.AZURE_JOB_STATUSES)}",
                                   field="status")

        def keep(job: Job) -> bool:
            return ((wanted_status is None or job.status == wanted_status)
                    and (experiment_name is None or job.experiment_name == experiment_name))

        if parent_job_name:
            fetch = lambda tok: self._children_page(parent_job_name, tok)  # noqa: E731
        else:
            fetch = self._arm_jobs_page
        service_token, skip = _decode_token(page_token)
        out: list[Job] = []
        # A page that ended inside a service page left that page here: resuming does not fetch it again.
        with self._lock:
            held = self._held_pages.pop((parent_job_name, page_token), None) if page_token else None
        while True:
            if held is not None:
                (items, next_service), held = held, None
            else:
                items, next_service = fetch(service_token)
            for i in range(skip, len(items)):
                if not keep(items[i]):
                    continue
                out.append(items[i])
                if max_results and len(out) >= max_results:
                    if i + 1 < len(items):
                        token = _encode_token(service_token, i + 1)
                        with self._lock:
                            self._held_pages[(parent_job_name, token)] = (items, next_service)
                            while len(self._held_pages) > 32:
                                self._held_pages.pop(next(iter(self._held_pages)))
                        return Page(_newest_first(out), token)
                    return Page(_newest_first(out), _encode_token(next_service, 0) if next_service else None)
            skip = 0
            if not next_service:
                return Page(_newest_first(out), None)
            service_token = next_service

    def get_job(self, name: str) -> Job:
        what = f"job {name!r}"
        entity = self._call(lambda: self.ml.jobs.get(name), what)
        if hasattr(entity, "_to_job"):  # a command node, as `az ml job show` converts it
            entity = self._call(lambda: entity._to_job(), what)
        fields = norm.entity_dict(entity)
        fields["status"] = norm.status(getattr(entity, "status", None) or fields.get("status"))
        try:
            run = self._history_get(f"/runs/{name}", what=what)
        except NotFoundError:  # just submitted: run history does not know it yet
            run = {}
        start, end = norm.parse_time(run.get("startTimeUtc")), norm.parse_time(run.get("endTimeUtc"))
        props = fields.setdefault("properties", {})
        if start and "StartTimeUtc" not in props:
            props["StartTimeUtc"] = run["startTimeUtc"]
        if end and "EndTimeUtc" not in props:
            props["EndTimeUtc"] = run["endTimeUtc"]
        if run.get("parentRunId"):
            fields["parent_job_name"] = run["parentRunId"]
        return _job_record(norm.scrub(fields), start=start, end=end)

    def job_status(self, name: str) -> str:
        """The job's status from run history: one request, for followers polling a log."""
        return norm.status(self._history_get(f"/runs/{name}", what=f"job {name!r}").get("status"))

    # ------------------------------------------------------------------ jobs: create, cancel

    def _load_job(self, document: Mapping[str, Any], base_dir: Path, source: str) -> Any:
        spec = specs.parse_job(document, source)  # the same checks and exit-2 messages as locally
        # A sweep's code is its trial's.
        trial = spec.trial if isinstance(spec, specs.SweepJobSpec) else spec
        code, code_field = getattr(trial, "code", None), "trial.code" if trial is not spec else "code"
        if code and not code.startswith("azureml:") and "://" not in code:
            # The SDK notices a missing folder only when it uploads; say it before anything is sent.
            try:
                folder = (base_dir / code).resolve()
                is_dir, exists = folder.is_dir(), folder.exists()
            except (OSError, ValueError) as exc:
                raise InvalidSpecError(f"cannot use {code[:80]!r} as the code folder: "
                                       f"{getattr(exc, 'strerror', None) or exc}", source=source,
                                       field=code_field) from None
            if not exists:
                raise InvalidSpecError(f"code folder {folder} does not exist", source=source, field=code_field)
            if not is_dir:
                raise InvalidSpecError(f"{folder} is a file; code must be a folder (the job's working "
                                       "directory, snapshotted)", source=source, field=code_field)
        from azure.ai.ml.entities import Job as SdkJob

        try:
            job = SdkJob._load(data=dict(document), yaml_path=Path(base_dir) / Path(source).name)
        except Exception as exc:
            raise _spec_error(exc, source) from None
        return job

    def validate_job(self, document: Mapping[str, Any], *, base_dir: Path, source: str) -> dict[str, Any]:
        job = self._load_job(document, Path(base_dir), source)
        shown = norm.entity_dict(job._to_job() if hasattr(job, "_to_job") else job)
        code = document.get("code")
        if isinstance(code, str) and not code.startswith("azureml:") and "://" not in code:
            shown["code"] = str((Path(base_dir) / code).resolve())  # the SDK dumps a local folder as azureml:src
        return shown

    def create_job(self, document: Mapping[str, Any], *, base_dir: Path, source: str) -> Job:
        self._writable()
        job = self._load_job(document, Path(base_dir), source)
        created = self._call(lambda: self.ml.jobs.create_or_update(job), f"job from {source}")
        return self.get_job(created.name)

    def cancel_job(self, name: str) -> Job:
        self._writable()
        job = self.get_job(name)
        if job.status in TERMINAL_STATUSES:
            return job
        # polling=False: send the POST and go; the job is read again below instead of waiting.
        self._call(lambda: self.ml.jobs.begin_cancel(name, polling=False), f"job {name!r}")
        return self.get_job(name)

    # ------------------------------------------------------------------ logs, metrics, outputs

    def log_files(self, name: str) -> list[LogFile]:
        return self._logs.files(name)

    def read_log(self, name: str, file: str, offset: int = 0, max_bytes: int = 1 << 20) -> LogChunk:
        return self._logs.read(name, file, offset, max_bytes)

    @property
    def log_bytes_fetched(self) -> int:
        return self._logs.bytes_fetched

    def _mlflow_get(self, path: str, params: Mapping[str, Any]) -> dict | None:
        """GET under the workspace's MLflow REST API; None when MLflow knows no such run."""
        from azure.core.rest import HttpRequest

        def call():
            client = self._mlflow_client()
            response = client.send_request(HttpRequest("GET", client.format_url(path), params=dict(params)))
            if response.status_code == 404:
                return None
            if response.status_code != 200:
                raise _http_error(response)
            return response.json()

        return self._call(call, "metrics")

    def _mlflow_client(self) -> Any:
        if self._mlflow is None:
            from azure.core import PipelineClient
            from azure.core.pipeline.policies import (BearerTokenCredentialPolicy, HeadersPolicy, RetryPolicy,
                                                      UserAgentPolicy)

            uri = self._workspace_entity().mlflow_tracking_uri
            if not uri:
                raise NotSupportedError(f"{self._where} has no MLflow tracking URI")
            kwargs = self.ml._kwargs
            policies = [HeadersPolicy(), UserAgentPolicy(sdk_moniker="aml-tui"),
                        RetryPolicy(retry_total=kwargs.get("retry_total", DEFAULT_RETRY_TOTAL),
                                    retry_backoff_factor=kwargs.get("retry_backoff_factor", 0.8)),
                        BearerTokenCredentialPolicy(self.ml._credential, MANAGEMENT_SCOPE)]
            client = PipelineClient(base_url=mlflow_rest.rest_base(uri), policies=policies,
                                    transport=kwargs.get("transport"))
            with self._lock:
                self._mlflow = client
        return self._mlflow

    def job_metrics(self, name: str) -> dict[str, list[MetricPoint]]:
        return mlflow_rest.run_metrics(self._mlflow_get, name)

    def download_job(self, name: str, download_path: Path, *, output_name: str | None = None,
                     all: bool = False) -> Path:
        dest = Path(download_path)
        # The first folder that exists on the way down must be a folder, or writing fails halfway.
        try:
            existing = next(p for p in (dest.absolute(), *dest.absolute().parents) if p.exists())
            is_dir = existing.is_dir()
        except (OSError, ValueError) as exc:  # a name too long, a NUL byte
            raise InvalidSpecError(f"cannot use {str(dest)[:80]!r}: {getattr(exc, 'strerror', None) or exc}",
                                   field="download_path") from None
        if not is_dir:
            raise InvalidSpecError(f"{existing} is a file; the download path must be a folder", field="download_path")
        job = self.get_job(name)
        if not job.is_terminal:
            raise WorkspaceError(f"job {name!r} is {job.status}; outputs can be downloaded once it has ended "
                                 "(Completed, Failed or Canceled)")
        if output_name is not None and output_name != "default" and output_name not in (job.get("outputs") or {}):
            outs = ", ".join(sorted(job.get("outputs") or {"default": None}))
            raise NotFoundError(f"job {name!r} has no output {output_name[:80]!r}; outputs: {outs}")
        self._call(lambda: self.ml.jobs.download(name, download_path=dest, output_name=output_name, all=all),
                   f"job {name!r}")
        return dest

    # ------------------------------------------------------------------ data, environments, compute

    def _load_entity(self, loader: str, document: Mapping[str, Any], base_dir: Path | None, source: str) -> Any:
        import azure.ai.ml.entities as entities

        cls = getattr(entities, loader)
        yaml_path = Path(base_dir or Path.cwd()) / Path(source).name
        try:
            return cls._load(data=dict(document), yaml_path=yaml_path)
        except Exception as exc:
            raise _spec_error(exc, source) from None

    def create_data(self, document: Mapping[str, Any], *, base_dir: Path, source: str) -> Asset:
        self._writable()
        _require_name(document, source)
        data = self._load_entity("Data", document, base_dir, source)
        created = self._call(lambda: self.ml.data.create_or_update(data), f"data from {source}")
        return self._asset(AssetKind.DATA, created)

    def create_environment(self, document: Mapping[str, Any], *, base_dir: Path, source: str) -> Asset:
        self._writable()
        _require_name(document, source)
        env = self._load_entity("Environment", document, base_dir, source)
        created = self._call(lambda: self.ml.environments.create_or_update(env), f"environment from {source}")
        return self._asset(AssetKind.ENVIRONMENTS, created)

    def create_compute(self, document: Mapping[str, Any], *, source: str) -> Asset:
        """Start creating a compute target; returns at once (its provisioning_state says how far)."""
        self._writable()
        _require_name(document, source)
        if "type" not in document:
            raise InvalidSpecError("required: amlcompute, computeinstance, kubernetes, virtualmachine...",
                                   source=source, field="type")
        compute = self._load_entity("Compute", document, None, source)

        def call():
            ops = self.ml.compute
            if not compute.location:
                compute.location = str(self._workspace_entity().location)
            rest = compute._to_rest_object()
            # polling=False: the SDK's own call waits on a background poller; this returns at once.
            return ops._operation.begin_create_or_update(self.resource_group, self.workspace_name,
                                                         compute_name=compute.name, parameters=rest,
                                                         polling=False, cls=lambda resp, obj, headers: obj)

        self._call(call, f"compute {compute.name!r}")
        return self.get_asset(AssetKind.COMPUTE, compute.name)

    def compute_action(self, name: str, action: str) -> Asset:
        """Start, stop or restart a compute instance; sends the request and returns the compute
        as it is now (Starting, Stopping...), without waiting."""
        self._writable()
        if action not in COMPUTE_ACTIONS:
            raise InvalidSpecError(f"unknown compute action {action!r}; allowed: {', '.join(COMPUTE_ACTIONS)}",
                                   field="action")
        ops = self.ml.compute._operation
        begin = getattr(ops, f"begin_{action}")
        self._call(lambda: begin(self.resource_group, self.workspace_name, name, polling=False),
                   f"compute {name!r}")
        return self.get_asset(AssetKind.COMPUTE, name)

    _source: Any = None  # the AzureCache, made on first use

    def source(self) -> Any:
        """The table's source: lists answered from the local cache and refreshed behind it."""
        with self._lock:
            if self._source is None:
                from .cache import AzureCache

                self._source = AzureCache(self, self.cache_dir)
            return self._source

    def close(self) -> None:
        if self._source is not None:
            self._source.close()  # stops its refresher before the client it uses is closed
        for closable in (self._mlflow, self.ml):
            try:
                if closable is not None and hasattr(closable, "close"):
                    closable.close()
            except Exception:  # closing is best effort
                pass


# ---------------------------------------------------------------------------- helpers


def _http_error(response: Any) -> Exception:
    """The azure-core error the SDK's own operations would raise for this response."""
    from azure.core.exceptions import ClientAuthenticationError, HttpResponseError, ResourceNotFoundError

    error = {401: ClientAuthenticationError, 404: ResourceNotFoundError}.get(response.status_code, HttpResponseError)
    return error(response=response)


def _job_record(fields: dict[str, Any], *, start: float | None = None, end: float | None = None) -> Job:
    compute = fields.get("compute")
    created = norm.parse_time((fields.get("creation_context") or {}).get("created_at")) or 0.0
    return Job(AssetKind.JOBS, fields["name"], None, fields, status=norm.status(fields.get("status")),
               display_name=fields.get("display_name"), experiment_name=fields.get("experiment_name") or "Default",
               compute=norm.arm_name(compute) if compute else None, type=norm.job_type(fields.get("type")),
               created_at=created, start_time=start, end_time=end, parent_job_name=fields.get("parent_job_name"))


def _newest_first(jobs: list[Job]) -> list[Job]:
    return sorted(jobs, key=lambda j: j.created_at, reverse=True)


def _created(asset: Asset) -> float:
    return norm.parse_time(asset.get("creation_context.created_at")) or 0.0


def _changed(asset: Asset) -> float:
    return (norm.parse_time(asset.get("creation_context.last_modified_at"))
            or norm.parse_time(asset.get("creation_context.created_at")) or 0.0)


def _require_name(document: Mapping[str, Any], source: str) -> None:
    specs.check_name(document.get("name"), source=source, field="name")


def _spec_error(exc: BaseException, source: str) -> InvalidSpecError:
    """The SDK's schema error -> exit 2 naming the field. The SDK re-raises marshmallow's
    ValidationError with a pretty text; the one it wraps has the messages keyed by field."""
    chain: list[BaseException] = []
    cur: BaseException | None = exc
    while cur is not None and len(chain) < 6:
        chain.append(cur)
        cur = cur.__cause__ or cur.__context__
    for e in chain:
        messages = getattr(e, "messages", None)
        if isinstance(messages, dict) and messages:
            field, message = _first_message(messages)
            return InvalidSpecError(redact(message), source=source, field=field or None)
    text = str(getattr(exc, "message", None) or exc).strip()
    return InvalidSpecError(redact(text.splitlines()[0] if text else type(exc).__name__), source=source)


def _first_message(messages: Any, path: str = "") -> tuple[str, str]:
    """The first (field path, message) of marshmallow's nested messages. A union field lists
    one dict per alternative: the one not complaining about `type` is the one the user meant.
    A Dict field nests values under "value": `inputs.d.value.mode` is `inputs.d.mode`."""
    if isinstance(messages, dict):
        for key, value in messages.items():
            if key == "_schema":
                return _first_message(value, path)
            if key == "value" and path and isinstance(value, (dict, list)) and _nested(value):
                return _first_message(value, path)
            return _first_message(value, f"{path}.{key}" if path else str(key))
    if isinstance(messages, list) and messages:
        dicts = [m for m in messages if isinstance(m, dict)]
        if len(dicts) > 1:
            chosen = next((d for d in dicts if "type" not in d), dicts[0])
            return _first_message(chosen, path)
        return _first_message(messages[0], path)
    return path, str(messages)


def _nested(value: Any) -> bool:
    return isinstance(value, dict) or (isinstance(value, list) and any(isinstance(v, dict) for v in value))
