"""Job YAML validation: each bad input names the file and the field and what is allowed."""

import pytest

import json

from tests.conftest import write
from tui.workspace import spec
from tui.workspace.base import InvalidSpecError
from tui.workspace.local.rules import LOCAL_RULES


def parse(doc):
    return spec.parse_job(doc, "job.yml")


def error_of(doc) -> InvalidSpecError:
    with pytest.raises(InvalidSpecError) as info:
        parse(doc)
    return info.value


def test_a_full_command_job_parses():
    job = parse({
        "$schema": "https://azuremlschemas.azureedge.net/latest/commandJob.schema.json",
        "type": "command", "code": ".", "command": "python train.py --data ${{inputs.data}} --e ${{inputs.epochs}}"
        " --out ${{outputs.model}}",
        "inputs": {"data": {"type": "uri_folder", "path": "azureml:mnist@latest"}, "epochs": 3,
                   "lr": 0.1, "flag": True, "tag": "x"},
        "outputs": {"model": {"type": "uri_folder"}},
        "environment": "azureml:env@latest", "compute": "azureml:cpu", "experiment_name": "exp",
        "distribution": {"type": "pytorch", "process_count_per_instance": 2},
        "environment_variables": {"A": 1}, "tags": {"k": "v"}, "limits": {"timeout": 60},
    })
    assert job.process_count == 2 and job.timeout == 60
    assert [i.type for i in job.inputs.values()] == ["uri_folder", "integer", "number", "boolean", "string"]
    assert job.environment_variables == {"A": "1"}


@pytest.mark.parametrize("doc, field, words", [
    ({"inputs": {}}, "command", "required"),
    ({"command": ""}, "command", "the command is empty"),
    ({"command": "x", "comand": "typo"}, "comand", "unknown field; allowed: "),
    ({"command": "echo ${{inputs.nope}}", "inputs": {"a": 1}}, "command", "undeclared input 'nope'; declared inputs: a"),
    ({"command": "echo ${{outputs.o}}"}, "command", "undeclared output 'o'"),
    ({"command": "x", "name": "a/b"}, "name", "no '/' or '..'"),
    ({"command": "x", "name": "a..b"}, "name", "no '/' or '..'"),
    ({"command": "x", "inputs": {"d": {"type": "uri_folder"}}}, "inputs.d.path", "needs a path"),
    ({"command": "x", "inputs": {"d": {"type": "csv", "path": "x"}}}, "inputs.d.type", "allowed: uri_file"),
    ({"command": "x", "inputs": {"d": "azureml:data@latest"}}, "inputs.d", "needs a mapping"),
    ({"command": "x", "inputs": {"e": {"type": "integer", "value": "ten"}}}, "inputs.e.value", "expected integer"),
    ({"command": "x", "inputs": ["a"]}, "inputs", "expected a mapping"),
    ({"command": "x", "distribution": {"type": "pytorch", "process_count_per_instance": "two"}},
     "distribution.process_count_per_instance", "expected an integer"),
    ({"command": "x", "distribution": {"type": "horovod"}}, "distribution.type", "expected pytorch"),
    ({"command": "x", "limits": {"timeout": 0}}, "limits.timeout", ">= 1"),
    ({"command": "x", "environment": 5}, "environment", "azureml:name@latest"),
    ({"command": "x", "tags": {"a": [1]}}, "tags.a", "scalar"),
    ({"command": "x", "type": "automl"}, "type",
     "unknown job type 'automl'; allowed: command, sweep, pipeline, spark"),
    ({"command": "x", "type": "pipeline"}, "command", "unknown field; allowed: "),
])
def test_bad_job_fields_name_file_and_field(doc, field, words):
    err = error_of(doc)
    assert err.source == "job.yml" and err.field == field
    assert words in str(err)
    assert str(err).startswith(f"job.yml: {field}: ")


def test_sweep_jobs_parse_and_the_local_rules_check_their_trial():
    # Today's main raised NotSupportedError here, in the schema, so no backend could take a sweep.
    job = parse(SWEEP)
    assert isinstance(job, spec.SweepJobSpec) and job.type == "sweep"
    assert job.trial.command.startswith("python train.py") and set(job.trial.inputs) == {"data", "epochs"}
    assert (job.primary_metric, job.goal) == ("accuracy", "maximize")
    assert job.sampling_algorithm == {"type": "random", "seed": 7}
    assert job.limits == {"max_total_trials": 8, "max_concurrent_trials": 2, "timeout": 3600}
    assert job.early_termination["type"] == "bandit" and set(job.search_space) == {"lr", "batch", "depth"}
    # The local workspace runs sweeps now (their trials are command jobs, under the same rules).
    assert spec.parse_job(SWEEP, "job.yml", rules=LOCAL_RULES.job).type == "sweep"
    multi_node = {**SWEEP, "trial": {**SWEEP["trial"], "resources": {"instance_count": 2}}}
    with pytest.raises(InvalidSpecError, match="multi-node") as err:
        spec.parse_job(multi_node, "job.yml", rules=LOCAL_RULES.job)
    assert err.value.field == "trial.resources.instance_count"


def test_yaml_syntax_error_names_line(tmp_path):
    f = tmp_path / "job.yml"
    f.write_text("command: echo\ninputs:\n  a: [1, 2\n")
    with pytest.raises(InvalidSpecError, match=r"job.yml: invalid YAML: line \d+, column \d+"):
        spec.load_yaml_file(f)


@pytest.mark.parametrize("text, words", [("", "empty"), ("- a\n- b\n", "expected a YAML mapping")])
def test_yaml_that_is_not_a_mapping(tmp_path, text, words):
    f = tmp_path / "job.yml"
    f.write_text(text)
    with pytest.raises(InvalidSpecError, match=words):
        spec.load_yaml_file(f)


def test_overrides_parse_scalars_and_create_paths():
    doc = spec.apply_overrides({"inputs": {"epochs": 1}}, ["inputs.epochs=3", "inputs.lr=0.5", "display_name=x y",
                                                          "tags.a.b=1", "inputs.flag=true"], "job.yml")
    assert doc["inputs"] == {"epochs": 3, "lr": 0.5, "flag": True}
    assert doc["display_name"] == "x y" and doc["tags"] == {"a": {"b": 1}}
    with pytest.raises(InvalidSpecError, match="expected key=value"):
        spec.apply_overrides({}, ["novalue"], "job.yml")


def test_render_command_substitutes_and_handles_optional_segments():
    values = {"inputs": {"a": "1"}, "outputs": {"o": "/out"}}
    cmd = "run ${{inputs.a}} ${{ outputs.o }}$[[ --b ${{inputs.b}}]]$[[ --a2 ${{inputs.a}}]]"
    assert spec.render_command(cmd, values) == "run 1 /out --a2 1"
    spec.check_bindings(cmd, {"a"}, {"o"}, source="job.yml")  # optional b may be absent


def test_references():
    assert spec.parse_reference("azureml:mnist@latest") == ("mnist", None)
    assert spec.parse_reference("azureml:mnist:3") == ("mnist", "3")
    with pytest.raises(ValueError):
        spec.parse_reference("azureml:mnist@stable")


@pytest.mark.parametrize("doc, field, words", [
    ({"command": "echo ${{input.x}}", "inputs": {"x": 1}}, "command", "${{input.x}} is not a binding"),
    ({"command": "echo", "inputs": {"x": 1}, "environment_variables": {"X": "${{inputs.x}}"}},
     "environment_variables.X", "substituted in command only"),
])
def test_bindings_outside_the_grammar_are_refused(doc, field, words):
    err = error_of(doc)
    assert err.field == field and words in str(err)


def test_an_input_with_only_a_value_is_a_literal():
    job = parse({"command": "echo ${{inputs.e}}", "inputs": {"e": {"value": 5}}})
    assert job.inputs["e"].type == "integer" and job.inputs["e"].value == 5


# ---------------------------------------------------------------------------- every job type az ml accepts

SWEEP = {
    "$schema": "https://azuremlschemas.azureedge.net/latest/sweepJob.schema.json", "type": "sweep",
    "inputs": {"data": {"type": "uri_folder", "path": "azureml:mnist@latest"}, "epochs": 2},
    "outputs": {"model": {"type": "mlflow_model"}},
    "trial": {"command": "python train.py --data ${{inputs.data}} --lr ${{search_space.lr}} "
                         "--batch ${{search_space.batch}} --out ${{outputs.model}}",
              "code": "src", "environment": "azureml:env@latest"},
    "search_space": {"lr": {"type": "loguniform", "min_value": -6, "max_value": -1},
                     "batch": {"type": "choice", "values": [16, 32]},
                     "depth": {"type": "randint", "upper": 8}},
    "objective": {"primary_metric": "accuracy", "goal": "maximize"},
    "sampling_algorithm": {"type": "random", "seed": 7},
    "early_termination": {"type": "bandit", "slack_factor": 0.1, "evaluation_interval": 1},
    "limits": {"max_total_trials": 8, "max_concurrent_trials": 2, "timeout": 3600},
    "compute": "azureml:cpu-cluster",
}


def sweep_with(**changes):
    doc = json.loads(json.dumps(SWEEP))
    for key, value in changes.items():
        if value is None:
            doc.pop(key)
        else:
            doc[key] = value
    return doc


@pytest.mark.parametrize("doc, field, words", [
    (sweep_with(objective=None), "objective", "required: {primary_metric: NAME, goal: maximize or minimize}"),
    (sweep_with(objective={"primary_metric": "acc", "goal": "max"}), "objective.goal",
     "expected maximize or minimize, got 'max'"),
    (sweep_with(objective={"goal": "minimize"}), "objective.primary_metric", "required"),
    (sweep_with(sampling_algorithm="sobol"), "sampling_algorithm", "allowed: random, grid, bayesian"),
    (sweep_with(sampling_algorithm=None), "sampling_algorithm", "required: random, grid, bayesian"),
    (sweep_with(sampling_algorithm="grid"), "search_space.lr.type", "grid sampling takes choice parameters only"),
    (sweep_with(sampling_algorithm={"type": "bayesian"}), "search_space.lr.type",
     "bayesian sampling takes choice, uniform, quniform parameters only, got loguniform"),
    (sweep_with(sampling_algorithm="bayesian", search_space={"b": {"type": "choice", "values": [1]}}),
     "early_termination", "bayesian sampling has no early termination"),
    (sweep_with(early_termination={"type": "bandit"}), "early_termination.slack_factor",
     "a bandit policy needs slack_factor"),
    (sweep_with(early_termination={"type": "truncation_selection", "truncation_percentage": 100}),
     "early_termination.truncation_percentage", "expected an integer <= 99"),
    (sweep_with(early_termination={"type": "patience"}), "early_termination.type",
     "allowed: bandit, median_stopping, truncation_selection"),
    (sweep_with(limits={"max_concurrent_trials": 2}), "limits.max_total_trials", "required"),
    (sweep_with(limits={"max_total_trials": 0}), "limits.max_total_trials", ">= 1"),
    (sweep_with(limits=None), "limits", "required: {max_total_trials: N}"),
    (sweep_with(search_space={}), "search_space", "at least one parameter"),
    (sweep_with(search_space={"lr": {"type": "gaussian", "mu": 0}}), "search_space.lr.type",
     "unknown distribution 'gaussian'; allowed: choice, randint, uniform"),
    (sweep_with(search_space={"lr": {"type": "uniform", "min_value": 1, "max_value": 1}}),
     "search_space.lr.max_value", "expected more than min_value (1)"),
    (sweep_with(search_space={"lr": {"type": "normal", "mu": 0}}), "search_space.lr.sigma", "required"),
    (sweep_with(search_space={"lr": {"type": "choice", "values": []}}), "search_space.lr.values", "non-empty list"),
    (sweep_with(trial=None), "trial", "required: the command job each trial runs"),
    (sweep_with(trial={"command": "x", "inputs": {}}), "trial.inputs", "unknown field; allowed: command, code"),
    (sweep_with(trial={"command": "x ${{search_space.momentum}}"}), "trial.command",
     "undeclared search space parameter 'momentum'; declared search_space: batch, depth, lr"),
    (sweep_with(trial={"command": "x", "environment": 5}), "trial.environment", "azureml:name@latest"),
])
def test_sweep_shape_and_azures_simple_rules(doc, field, words):
    err = error_of(doc)
    assert err.field == field and words in err.message, str(err)


PIPELINE = {
    "$schema": "https://azuremlschemas.azureedge.net/latest/pipelineJob.schema.json", "type": "pipeline",
    "display_name": "prep then train", "compute": "azureml:cpu-cluster",
    "settings": {"default_datastore": "azureml:workspaceblobstore", "continue_on_step_failure": False,
                 "force_rerun": True},
    "inputs": {"raw": {"type": "uri_folder", "path": "./data"}, "epochs": 3},
    "outputs": {"model": {"type": "mlflow_model"}},
    "jobs": {
        "prep": {"type": "command", "command": "python prep.py ${{inputs.raw}} ${{outputs.clean}}",
                 "environment": "azureml:env@latest", "inputs": {"raw": "${{parent.inputs.raw}}"},
                 "outputs": {"clean": {"type": "uri_folder"}}},
        "train": {"type": "command", "component": "./train.yml",
                  "inputs": {"data": {"type": "uri_folder", "path": "${{parent.jobs.prep.outputs.clean}}"},
                             "epochs": "${{parent.inputs.epochs}}"},
                  "outputs": {"model": "${{parent.outputs.model}}"}},
    },
}


def pipeline_with(step=None, **changes):
    doc = json.loads(json.dumps(PIPELINE))
    for key, value in (step or {}).items():
        if value is None:
            doc["jobs"]["train"].pop(key)
        else:
            doc["jobs"]["train"][key] = value
    for key, value in changes.items():
        if value is None:
            doc.pop(key)
        else:
            doc[key] = value
    return doc


def test_pipeline_jobs_parse_with_steps_and_bindings():
    job = parse(PIPELINE)
    assert isinstance(job, spec.PipelineJobSpec) and job.type == "pipeline" and list(job.jobs) == ["prep", "train"]
    prep, train = job.jobs["prep"], job.jobs["train"]
    assert prep.job.command.startswith("python prep.py") and prep.bindings == {"inputs.raw": "${{parent.inputs.raw}}"}
    assert train.job is None and train.component == "./train.yml" and train.outputs["model"].type == "uri_folder"
    assert train.bindings["outputs.model"] == "${{parent.outputs.model}}"
    assert job.settings["force_rerun"] is True and job.inputs["epochs"].value == 3
    assert isinstance(parse({"type": "pipeline", "component": "azureml:pipe:1"}), spec.PipelineJobSpec)
    with pytest.raises(InvalidSpecError, match="pipeline jobs are not run by the local workspace yet"):
        spec.parse_job(PIPELINE, "job.yml", rules=LOCAL_RULES.job)


@pytest.mark.parametrize("doc, field, words", [
    (pipeline_with(jobs=None), "jobs", "a pipeline needs jobs (its steps) or component"),
    (pipeline_with(jobs={}), "jobs", "at least one step"),
    (pipeline_with(jobs={"Train": {"command": "x"}}), "jobs", "step names are lower-case identifiers"),
    (pipeline_with(step={"type": "sweep"}), "jobs.train.type",
     "pipeline steps of type 'sweep' are not read here yet"),
    (pipeline_with(step={"inputs": {"e": "${{parent.inputs.lr}}"}}), "jobs.train.inputs.e",
     "undeclared pipeline input 'lr'; declared inputs: epochs, raw"),
    (pipeline_with(step={"inputs": {"d": "${{parent.jobs.eval.outputs.x}}"}}), "jobs.train.inputs.d",
     "refers to 'eval', which is not another step of this pipeline; steps: prep, train"),
    (pipeline_with(step={"inputs": {"d": "${{parent.jobs.prep.outputs.dirty}}"}}), "jobs.train.inputs.d",
     "step 'prep' has no output 'dirty'; its outputs: clean"),
    (pipeline_with(step={"inputs": {"d": "${{inputs.raw}}"}}), "jobs.train.inputs.d", "is not an input binding"),
    (pipeline_with(step={"outputs": {"m": "${{parent.outputs.scores}}"}}), "jobs.train.outputs.m",
     "undeclared pipeline output 'scores'; declared outputs: model"),
    (pipeline_with(step={"component": None, "command": "echo ${{inputs.nope}}"}), "jobs.train.command",
     "undeclared input 'nope'"),
    (pipeline_with(step={"command": "echo"}), "jobs.train.command", "give command or component, not both"),
    (pipeline_with(step={"comand": "typo"}), "jobs.train.comand", "unknown field"),
    (pipeline_with(settings={"continue_on_step_failure": "yes"}), "settings.continue_on_step_failure",
     "expected true or false"),
])
def test_pipeline_shape(doc, field, words):
    err = error_of(doc)
    assert err.field == field and words in err.message, str(err)


def test_spark_jobs_parse_the_local_workspace_refuses_them():
    doc = {"type": "spark", "code": "./src", "entry": {"file": "titanic.py"}, "conf": {"spark.driver.cores": 1},
           "inputs": {"t": {"type": "uri_file", "path": "azureml://datastores/blob/paths/t.csv", "mode": "direct"}},
           "args": "--t ${{inputs.t}}", "resources": {"instance_type": "standard_e4s_v3", "runtime_version": "3.3"}}
    job = parse(doc)
    assert isinstance(job, spec.SparkJobSpec) and job.entry == {"file": "titanic.py"} and job.inputs["t"].is_data
    assert error_of({**doc, "entry": None}).field == "entry"
    assert error_of({**doc, "args": "--x ${{inputs.x}}"}).field == "args"
    with pytest.raises(InvalidSpecError, match="Spark jobs run on Azure's serverless Spark compute"):
        spec.parse_job(doc, "job.yml", rules=LOCAL_RULES.job)


# ---------------------------------------------------------------------------- every input, data and compute type

INPUT_TYPES = ["uri_file", "uri_folder", "mltable", "mlflow_model", "custom_model", "triton_model"]


@pytest.mark.parametrize("kind", INPUT_TYPES)
def test_every_input_type_is_accepted_by_the_schema(kind):
    job = parse({"command": "echo ${{inputs.x}}", "inputs": {"x": {"type": kind, "path": "azureml:x:1",
                                                                    "mode": "download"}}})
    assert job.inputs["x"].type == kind and job.inputs["x"].is_data


@pytest.mark.parametrize("kind, value", [("integer", 3), ("number", 0.5), ("string", "a b"), ("boolean", False)])
def test_every_literal_input_type_is_accepted(kind, value):
    job = parse({"command": "echo ${{inputs.x}}", "inputs": {"x": {"type": kind, "value": value}}})
    assert (job.inputs["x"].type, job.inputs["x"].value, job.inputs["x"].is_data) == (kind, value, False)


@pytest.mark.parametrize("kind", ["uri_file", "uri_folder", "mltable"])
def test_every_data_asset_type_is_accepted_by_the_schema(kind):
    cloud = "https://x.blob.core.windows.net/c/"
    assert spec.parse_data({"name": "d", "type": kind, "path": cloud}, "d.yml").type == kind
    with pytest.raises(InvalidSpecError, match="type: unknown data type 'csv'; allowed: uri_file, uri_folder, mltable"):
        spec.parse_data({"name": "d", "type": "csv", "path": "."}, "d.yml")


COMPUTES = [
    {"type": "local", "max_concurrency": 2},
    {"type": "amlcompute", "size": "Standard_NC6s_v3", "tier": "low_priority", "min_instances": 0, "max_instances": 4,
     "idle_time_before_scale_down": 120, "location": "westeurope"},
    {"type": "computeinstance", "size": "Standard_DS3_v2", "idle_time_before_shutdown_minutes": 30},
    {"type": "kubernetes", "resource_id": "/subscriptions/s/resourceGroups/g/providers/k", "namespace": "ml"},
    {"type": "virtualmachine", "resource_id": "/subscriptions/s/resourceGroups/g/providers/vm",
     "ssh_settings": {"admin_username": "azureuser", "ssh_port": 22}},
    {"type": "synapsespark", "resource_id": "/subscriptions/s/resourceGroups/g/providers/syn"},
]


def parse_compute(doc, source="c.yml"):
    return spec.parse_compute(doc, source, default_concurrency=2)


@pytest.mark.parametrize("doc", COMPUTES, ids=[c["type"] for c in COMPUTES])
def test_every_compute_type_is_accepted_by_the_schema(doc):
    parsed = parse_compute({"name": "c", **doc})
    assert parsed.type == doc["type"] and (parsed.max_concurrency is None) == (doc["type"] != "local")


@pytest.mark.parametrize("doc, field, words", [
    ({"type": "databricks"}, "type", "unknown compute type 'databricks'; allowed: local, amlcompute"),
    ({"type": "amlcompute", "max_concurrency": 2}, "max_concurrency", "unknown field"),
    ({"type": "amlcompute", "min_instances": 3, "max_instances": 1}, "min_instances", "at most max_instances (1)"),
    ({"type": "amlcompute", "tier": "spot"}, "tier", "expected dedicated or low_priority"),
    ({"type": "kubernetes"}, "resource_id", "required: a kubernetes compute is attached by its Azure resource id"),
    ({"type": "computeinstance", "enable_sso": "yes"}, "enable_sso", "expected true or false"),
])
def test_bad_compute_fields(doc, field, words):
    with pytest.raises(InvalidSpecError) as info:
        parse_compute({"name": "c", **doc})
    assert info.value.field == field and words in info.value.message, str(info.value)


def test_a_compute_error_never_quotes_ssh_secrets():
    with pytest.raises(InvalidSpecError) as info:
        parse_compute({"name": "c", "type": "amlcompute", "ssh_settings": {"admin_password": "hunter2", "pw": 1}})
    assert info.value.field == "ssh_settings.pw" and "hunter2" not in str(info.value)


# ---------------------------------------------------------------------------- the local workspace's rules, via the CLI


def refused(r, source, field, words):
    assert r.returncode == 2, (r.returncode, r.stdout, r.stderr)
    assert "Traceback" not in r.stderr and f"{source}: {field}: " in r.stderr and words in r.stderr, r.stderr


def catalog(root, table):
    import sqlite3

    with sqlite3.connect(root / "catalog.db") as conn:
        return [r[0] for r in conn.execute(f"SELECT name FROM {table}")]


LOCAL_JOB_REFUSALS = [
    ("sweep-multi-node", json.dumps({**SWEEP, "trial": {**SWEEP["trial"], "resources": {"instance_count": 2}}}),
     "trial.resources.instance_count", "one instance"),
    ("pipeline", json.dumps(PIPELINE), "type", "pipeline jobs are not run by the local workspace yet"),
    ("spark", "type: spark\nentry: {file: main.py}\n", "type", "Spark jobs run on Azure's serverless Spark compute"),
    *[(kind, f"command: cat ${{{{inputs.x}}}}\ninputs: {{x: {{type: {kind}, path: ./m}}}}\n", "inputs.x.type",
       f"{kind} inputs are not read by the local workspace yet") for kind in INPUT_TYPES[2:]],
    ("datastore-uri-file", "command: cat ${{inputs.x}}\ninputs: {x: {type: uri_file, path: "
     "azureml://datastores/workspaceblobstore/paths/iris.csv}}\n", "inputs.x.path", "datastore URIs are not available"),
    ("cloud-folder", "command: ls ${{inputs.x}}\ninputs: {x: {type: uri_folder, "
     "path: 'abfss://c@a.dfs.core.windows.net/d'}}\n", "inputs.x.path",
     "cannot read 'abfss://c@a.dfs.core.windows.net/d' locally"),
    ("sas-url", "command: cat ${{inputs.x}}\ninputs: {x: {type: uri_file, "
     "path: 'https://a.blob.core.windows.net/c/f.csv?sv=2022&sig=c2VjcmV0c2VjcmV0c2VjcmV0'}}\n",
     "inputs.x.path", "locally; use a local path"),
    ("multi-node", "command: echo\nresources: {instance_count: 2}\n", "resources.instance_count", "one instance"),
]


@pytest.mark.parametrize("text, field, words", [c[1:] for c in LOCAL_JOB_REFUSALS],
                         ids=[c[0] for c in LOCAL_JOB_REFUSALS])
def test_the_local_workspace_refuses_what_it_cannot_run(cli, ws_root, tmp_path, text, field, words):
    (tmp_path / "m").mkdir()  # a local folder: the refusal is the input's type, not a missing path
    jobfile = write(tmp_path / "job.yml", text)
    r = cli("job", "create", "--file", str(jobfile))
    refused(r, jobfile, field, words)
    assert "c2VjcmV0c2VjcmV0c2VjcmV0" not in r.stderr  # a SAS signature is never printed
    assert catalog(ws_root, "jobs") == [] and [p.name for p in (ws_root / "jobs").glob("*")] in ([], [".new"])


@pytest.mark.parametrize("text, field, words", [
    ("name: t\ntype: mltable\npath: ./m\n", "type",
     "expected uri_file or uri_folder for a local data asset, got 'mltable'"),
    ("name: t\ntype: uri_folder\npath: 'wasbs://c@a.blob.core.windows.net/d'\n", "path", "is a cloud location"),
], ids=["mltable", "cloud"])
def test_the_local_workspace_registers_local_files_and_folders_only(cli, ws_root, tmp_path, text, field, words):
    (tmp_path / "m").mkdir()
    f = write(tmp_path / "data.yml", text)
    refused(cli("data", "create", "--file", str(f)), f, field, words)
    assert catalog(ws_root, "data") == [] and not any((ws_root / "datastore").glob("*"))


@pytest.mark.parametrize("doc", COMPUTES[1:], ids=[c["type"] for c in COMPUTES[1:]])
def test_the_local_workspace_creates_local_computes_only(cli, ws_root, tmp_path, doc):
    f = write(tmp_path / "compute.yml", json.dumps({"name": "big", **doc}))
    refused(cli("compute", "create", "--file", str(f)), f, "type",
            f"creates computes of type 'local' only, got {doc['type']!r}")
    assert catalog(ws_root, "compute") == ["local"]


def test_a_backend_adds_its_rules_through_the_hook():
    seen = []

    def no_gpu(job, source):
        seen.append((job.type, source))
        if job.compute == "azureml:gpu-cluster":
            raise InvalidSpecError("no GPUs on this backend", source=source, field="compute")

    rules = spec.BackendRules(job=no_gpu)
    assert spec.parse_job(SWEEP, "job.yml", rules=rules.job).type == "sweep"
    with pytest.raises(InvalidSpecError, match="job.yml: compute: no GPUs on this backend"):
        spec.parse_job({"command": "x", "compute": "azureml:gpu-cluster"}, "job.yml", rules=rules.job)
    assert seen == [("sweep", "job.yml"), ("command", "job.yml")]


def test_set_keeps_the_type_of_the_literal_it_replaces():
    doc = {"command": "x", "display_name": "a", "inputs": {"epochs": 3, "lr": 0.5, "flag": True, "name": "n",
                                                          "typed": {"type": "integer", "value": 1}}}
    out = spec.apply_overrides(doc, ["inputs.epochs=7", "inputs.lr=1", "inputs.flag=false", "inputs.name=12",
                                     "display_name=123", "inputs.typed=5"], "job.yml")
    assert out["inputs"] == {"epochs": 7, "lr": 1.0, "flag": False, "name": "12",
                             "typed": {"type": "integer", "value": 5}}
    assert out["display_name"] == "123"
    for item, field in (("inputs.epochs=ten", "inputs.epochs"), ("inputs.epochs=1.5", "inputs.epochs"),
                        ("inputs.flag=maybe", "inputs.flag"), ("inputs.lr=fast", "inputs.lr"),
                        ("inputs.typed=x", "inputs.typed")):
        with pytest.raises(InvalidSpecError) as err:
            spec.apply_overrides(doc, [item], "job.yml")
        assert err.value.field == field and "--set: expected" in err.value.message


def test_an_empty_command_reads_well():
    with pytest.raises(InvalidSpecError, match="the command is empty"):
        spec.parse_job({"command": "  "}, "job.yml")
