"""Job YAML validation: each bad input names the file and the field and what is allowed."""

import pytest

from tui.workspace import spec
from tui.workspace.base import InvalidSpecError, NotSupportedError


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
    ({"command": ""}, "command", "non-empty string"),
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
    ({"command": "x", "type": "pipeline"}, "type", "allowed: command, sweep"),
])
def test_bad_job_fields_name_file_and_field(doc, field, words):
    err = error_of(doc)
    assert err.source == "job.yml" and err.field == field
    assert words in str(err)
    assert str(err).startswith(f"job.yml: {field}: ")


def test_sweep_jobs_are_refused_clearly():
    with pytest.raises(NotSupportedError, match="sweep jobs are not supported"):
        parse({"type": "sweep", "trial": {"command": "x"}})


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
