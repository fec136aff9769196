"""A job's metrics through the workspace's MLflow REST API.

`azureml-mlflow` cannot be installed beside our MLflow, so the two calls we need are made
directly: `runs/get` (which metric keys the run has) and `metrics/get-history` (each key's
points, paged). The MLflow run id of an Azure ML job is the job name.
"""

from __future__ import annotations

from typing import Any, Callable, Mapping

from ..base import MetricPoint

HISTORY_PAGE = 25000


def rest_base(tracking_uri: str) -> str:
    """`azureml://<region>.api.azureml.ms/mlflow/v1.0/...` -> the https base of its REST API."""
    if tracking_uri.startswith("azureml://"):
        return "https://" + tracking_uri[len("azureml://"):].rstrip("/")
    return tracking_uri.rstrip("/")


def run_metrics(get: Callable[[str, Mapping[str, Any]], dict | None], run_id: str) -> dict[str, list[MetricPoint]]:
    """`get(path, params)` returns the JSON of a GET under the REST base, or None on 404."""
    run = get("/api/2.0/mlflow/runs/get", {"run_id": run_id})
    if not run:
        return {}
    keys = sorted({m["key"] for m in ((run.get("run") or {}).get("data") or {}).get("metrics") or []})
    out: dict[str, list[MetricPoint]] = {}
    for key in keys:
        points: list[MetricPoint] = []
        token = None
        while True:
            params = {"run_id": run_id, "metric_key": key, "max_results": HISTORY_PAGE}
            if token:
                params["page_token"] = token
            page = get("/api/2.0/mlflow/metrics/get-history", params) or {}
            points.extend(MetricPoint(int(m.get("step") or 0), float(m["value"]), int(m.get("timestamp") or 0) / 1000)
                          for m in page.get("metrics") or [])
            token = page.get("next_page_token")
            if not token:
                break
        points.sort(key=lambda p: (p.step, p.timestamp))
        out[key] = points
    return out
