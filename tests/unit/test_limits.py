"""Limits on what a spec may ask for: sizes, nesting, counts, names. Over a limit is a clear
InvalidSpecError naming the file and the field, raised before anything expensive happens."""

from __future__ import annotations

import pytest

from tui.workspace import spec
from tui.workspace.base import InvalidSpecError


def error_of(doc, parse=spec.parse_job) -> InvalidSpecError:
    with pytest.raises(InvalidSpecError) as info:
        parse(doc, "job.yml")
    return info.value


def laughs(levels: int, width: int = 10) -> str:
    """A "billion laughs": each level is `width` aliases of the one before."""
    lines = ["command: echo", "environment:", "  image: python", "  conda_file:",
             "    l0: &l0 [" + ", ".join(["lol"] * width) + "]"]
    for i in range(1, levels + 1):
        lines.append(f"    l{i}: &l{i} [" + ", ".join([f"*l{i - 1}"] * width) + "]")
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------- YAML size and shape


def test_alias_expansion_is_refused_naming_file_and_line(tmp_path):
    f = tmp_path / "job.yml"
    f.write_text(laughs(9))  # 10**9 "lol" once expanded; a few hundred bytes on disk
    with pytest.raises(InvalidSpecError) as info:
        spec.load_yaml_file(f)
    err = info.value
    assert err.source == str(f)
    assert "grows beyond 2 MiB once its aliases (*name) are expanded" in err.message
    # Refused at the first level past 2 MiB: l5, a million "lol", on line 10.
    assert "line 10, column 9:" in err.message


def test_aliases_that_stay_small_are_fine(tmp_path):
    f = tmp_path / "job.yml"
    f.write_text(laughs(3) + "tags: &t {team: vision}\nproperties: *t\n")
    doc = spec.load_yaml_file(f)
    assert len(doc["environment"]["conda_file"]["l3"]) == 10 and doc["properties"] == {"team": "vision"}


def test_an_alias_inside_its_own_anchor_is_refused(tmp_path):
    f = tmp_path / "job.yml"
    f.write_text("command: echo\ntags: &t {a: *t}\n")
    with pytest.raises(InvalidSpecError, match=r"line 2, column 14: the alias \*t is inside its own anchor &t"):
        spec.load_yaml_file(f)


def test_deep_nesting_is_refused(tmp_path):
    f = tmp_path / "job.yml"
    f.write_text("command: echo\ntags: " + "[" * 2000 + "]" * 2000 + "\n")
    with pytest.raises(InvalidSpecError, match="nested deeper than 64 levels"):
        spec.load_yaml_file(f)
    # An alias can nest a document as deep as its anchor goes.
    f.write_text("a: &a " + "[" * 40 + "]" * 40 + "\nb: " + "[" * 30 + "*a" + "]" * 30 + "\n")
    with pytest.raises(InvalidSpecError, match=r"the alias \*a nests the document deeper than 64 levels"):
        spec.load_yaml_file(f)


def test_a_file_over_1_mib_is_refused_before_parsing(tmp_path):
    f = tmp_path / "job.yml"
    # Eight megabytes of tags: the old loader parsed them (tens of seconds) and accepted the job.
    row = "  k{}: a tag value that is long enough to make the file big\n"
    f.write_text("command: echo\ntags:\n" + "".join(row.format(i) for i in range(140_000)))
    with pytest.raises(InvalidSpecError) as info:
        spec.load_yaml_file(f)
    assert info.value.source == str(f) and "larger than 1 MiB" in info.value.message


@pytest.mark.parametrize("text, words", [
    ("command: echo\ndescription: 2024-13-01\n", "line 2, column 14: cannot read the value '2024-13-01'"),
    ("command: echo\nlimits: {timeout: " + "9" * 5000 + "}\n", "line 2, column 19: cannot read the value"),
], ids=["bad-date", "5000-digits"])
def test_values_yaml_cannot_construct_are_refused_not_a_traceback(tmp_path, text, words):
    f = tmp_path / "job.yml"
    f.write_text(text)
    with pytest.raises(InvalidSpecError, match="invalid YAML: " + words):
        spec.load_yaml_file(f)


def test_set_values_are_bounded():
    doc = {"command": "echo"}
    with pytest.raises(InvalidSpecError, match="longer than 64 KiB"):
        spec.apply_overrides(doc, ["description=" + "x" * (64 << 10)], "job.yml")
    bomb = "[" + ", ".join(["&a0 [1, 1, 1, 1, 1, 1, 1, 1, 1, 1]"] + [
        f"&a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]" for i in range(1, 8)]) + "]"
    with pytest.raises(InvalidSpecError) as info:
        spec.apply_overrides(doc, ["tags.x=" + bomb], "job.yml")
    assert info.value.field == "tags.x" and "aliases (*name) are expanded" in info.value.message
    with pytest.raises(InvalidSpecError, match="nests deeper than 64 levels"):
        spec.apply_overrides(doc, [".".join(["a"] * 65) + "=1"], "job.yml")
    # A value YAML cannot read stays the text it was.
    assert spec.apply_overrides(doc, ["description=2024-13-01"], "job.yml")["description"] == "2024-13-01"


# ---------------------------------------------------------------------------- counts


@pytest.mark.parametrize("doc, field, words", [
    ({"distribution": {"type": "pytorch", "process_count_per_instance": 10**23}},
     "distribution.process_count_per_instance", "expected an integer <= 2147483647"),
    ({"distribution": {"type": "pytorch", "process_count_per_instance": 1e23}},
     "distribution.process_count_per_instance", "expected an integer, got a number 1e+23"),
    ({"distribution": {"type": "pytorch", "process_count_per_instance": "²"}},
     "distribution.process_count_per_instance", "expected an integer, got a string '²'"),
    ({"distribution": {"type": "tensorflow", "worker_count": -1}}, "distribution.worker_count", ">= 0"),
    ({"resources": {"instance_count": 10**23}}, "resources.instance_count", "<= 2147483647"),
    ({"resources": {"instance_count": 2.5}}, "resources.instance_count", "expected an integer"),
    ({"resources": {"instance_type": ["a"]}}, "resources.instance_type", "expected a string, got a list"),
    ({"resources": {"shm_size": {"a": 1}}}, "resources.shm_size", "expected a string"),
    ({"resources": {"locations": "westeurope"}}, "resources.locations", "expected a list"),
    ({"limits": {"timeout": 10**30}}, "limits.timeout", "<= 2147483647"),
])
def test_counts_and_resources_are_checked(doc, field, words):
    err = error_of({"command": "echo", **doc})
    assert err.field == field and words in err.message, str(err)


def test_counts_given_as_text_by_set_become_integers():
    job = spec.parse_job({"command": "echo", "distribution": {"type": "pytorch", "process_count_per_instance": "4"},
                          "resources": {"instance_count": "1"}}, "job.yml")
    assert job.process_count == 4 and job.distribution["process_count_per_instance"] == 4
    assert job.resources["instance_count"] == 1


def test_compute_max_concurrency_is_bounded():
    parse = spec.parse_compute
    with pytest.raises(InvalidSpecError, match="max_concurrency: expected an integer <= 1024"):
        parse({"name": "c", "max_concurrency": 10**23}, "c.yml", default_concurrency=2)
    assert parse({"name": "c", "max_concurrency": 1024}, "c.yml", default_concurrency=2).max_concurrency == 1024


# ---------------------------------------------------------------------------- names


def test_names_leave_room_for_the_engines_temporary_folders():
    longest = "a" * spec.NAME_MAX_BYTES
    assert spec.check_name(longest, source="s", field="name", job=True) == longest
    with pytest.raises(InvalidSpecError, match=f"is {spec.NAME_MAX_BYTES + 1} bytes long; at most"):
        spec.check_name(longest + "a", source="s", field="name", job=True)
    # `.new-NAME-PID` with a 7-digit pid still fits a 255-byte file name.
    assert len(f".new-{longest}-4194304".encode()) <= 255


@pytest.mark.parametrize("doc, field, words", [
    ({"name": "a" * 250}, "name", "is 250 bytes long; at most 240 bytes"),
    ({"name": ""}, "name", "expected a non-empty string, got an empty string"),
    ({"name": "v1.2"}, "name", "use letters, digits, '-' and '_'"),
    ({"name": "ünïcode"}, "name", "invalid name"),
    ({"name": "job\n"}, "name", "invalid name"),
    ({"outputs": {"model\n": {}}}, "outputs.model\n", "output names are identifiers"),
    ({"outputs": {"o" * 300: {}}}, "outputs." + "o" * 77 + "...", "at most 255 characters; this one has 300"),
    ({"inputs": {"i" * 256: 1}}, "inputs." + "i" * 77 + "...", "this one has 256"),
    ({"inputs": {None: 4}}, "inputs", "got null as a name"),
    ({"inputs": {True: 4}}, "inputs", "got a boolean True as a name"),
    ({"outputs": {None: {}}}, "outputs", "output names are identifiers"),
])
def test_job_names_and_io_names(doc, field, words):
    err = error_of({"command": "echo", **doc})
    assert err.field == field and words in err.message, str(err)


def test_asset_names_and_versions_may_use_dots_but_not_too_many_bytes():
    ok = spec.parse_data({"name": "mnist.v2", "version": "1.0", "path": "."}, "data.yml")
    assert (ok.name, ok.version) == ("mnist.v2", "1.0")
    err = error_of({"name": "d", "version": "1" * 255, "path": "."}, spec.parse_data)
    assert err.field == "version" and "at most 240 bytes" in err.message
