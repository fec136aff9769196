"""Reading YAML files with bounds on size and alias expansion, and `--set` overrides."""

from __future__ import annotations

import copy
import functools
from pathlib import Path
from typing import Any, Mapping

from .names import _fail, _short, _type_name

# Job YAML on Azure is a few KB; these bounds refuse before parsing what would take minutes or
# gigabytes, e.g. "billion laughs" anchors whose aliases expand a 1 KB file to gigabytes.
MAX_YAML_BYTES = 1 << 20
MAX_YAML_EXPANDED = 2 << 20  # once aliases (*name) are expanded: scalar characters + 1 per node
MAX_YAML_DEPTH = 64
MAX_SET_BYTES = 64 << 10  # one --set KEY=VALUE


@functools.cache
def _bounded_loader():
    """A SafeLoader class that refuses deep nesting and alias expansion beyond the bounds.

    PyYAML shares an aliased node instead of copying it, so parsing a "billion laughs" is
    quick; everything after it (deepcopy, json, the runner) expands it. The expanded size of
    each node is counted as it is composed, from its children's sizes, so the refusal comes
    at the first node that grows too big, in time proportional to the file.
    """
    import yaml
    from yaml.composer import ComposerError
    from yaml.constructor import ConstructorError
    from yaml.nodes import MappingNode, ScalarNode

    class LimitError(ComposerError):
        """A document over the bounds: refused, never read as something else."""

    class BoundedLoader(yaml.SafeLoader):
        limit_error = LimitError

        def __init__(self, stream):
            super().__init__(stream)
            self._depth = 0
            self._sizes: dict[int, tuple[int, int]] = {}  # id(node) -> (expanded size, height)

        def compose_node(self, parent, index):
            event = self.peek_event()
            if isinstance(event, yaml.AliasEvent):
                target = self.anchors.get(event.anchor)
                if target is not None and id(target) not in self._sizes:
                    raise LimitError(None, None, f"the alias *{event.anchor} is inside its own anchor "
                                     f"&{event.anchor}", event.start_mark)
            self._depth += 1
            if self._depth > MAX_YAML_DEPTH:
                raise LimitError(None, None, f"nested deeper than {MAX_YAML_DEPTH} levels", event.start_mark)
            try:
                node = super().compose_node(parent, index)
            finally:
                self._depth -= 1
            known = self._sizes.get(id(node))
            if known is not None:  # an alias: its anchor was measured already
                size, height = known
                if self._depth + height > MAX_YAML_DEPTH:
                    raise LimitError(None, None, f"the alias *{event.anchor} nests the document deeper than "
                                     f"{MAX_YAML_DEPTH} levels", event.start_mark)
            elif isinstance(node, ScalarNode):
                size, height = 1 + len(node.value), 1
                self._sizes[id(node)] = (size, height)
            else:
                children = ([n for pair in node.value for n in pair] if isinstance(node, MappingNode)
                            else node.value)
                measured = [self._sizes[id(c)] for c in children]
                size = 1 + sum(m[0] for m in measured)
                height = 1 + max((m[1] for m in measured), default=0)
                self._sizes[id(node)] = (size, height)
            if size > MAX_YAML_EXPANDED:
                raise LimitError(None, None, f"the document grows beyond {MAX_YAML_EXPANDED >> 20} MiB once "
                                 "its aliases (*name) are expanded", event.start_mark)
            return node

        def construct_object(self, node, deep=False):
            # int() of 5,000 digits, 2024-13-01 as a date: PyYAML lets the ValueError through.
            try:
                return super().construct_object(node, deep)
            except (ValueError, OverflowError) as exc:
                raise ConstructorError(None, None, f"cannot read the value {_short(node.value)}: {exc}",
                                       node.start_mark) from None

    return BoundedLoader


def _yaml_problem(exc: Exception) -> str:
    mark = getattr(exc, "problem_mark", None)
    where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
    problem = getattr(exc, "problem", None) or str(exc)
    context, cmark = getattr(exc, "context", None), getattr(exc, "context_mark", None)
    if context and cmark:
        problem += f" ({context} at line {cmark.line + 1}, column {cmark.column + 1})"
    return where + problem


def _load_bounded(text: str) -> Any:
    loader = _bounded_loader()(text)
    try:
        return loader.get_single_data()
    finally:
        loader.dispose()


def load_yaml_file(path: Path | str) -> dict[str, Any]:
    """Read a YAML mapping; syntax errors name the line and column."""
    import yaml

    path = Path(path)
    source = str(path)
    try:
        # Read one byte past the limit rather than trust stat(): a FIFO or /dev/zero has no size.
        with open(path, "rb") as f:
            raw = f.read(MAX_YAML_BYTES + 1)
        if len(raw) > MAX_YAML_BYTES:
            raise _fail(source, None, f"the file is larger than {MAX_YAML_BYTES >> 20} MiB, the limit for a YAML "
                        "file here (a job YAML is a few KB; put data in a data asset)")
        text = raw.decode("utf-8")
    except FileNotFoundError:
        raise _fail(source, None, "file not found") from None
    except IsADirectoryError:
        raise _fail(source, None, "is a directory, expected a YAML file") from None
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise _fail(source, None, f"cannot read: {exc}") from None
    try:
        document = _load_bounded(text)
    except _bounded_loader().limit_error as exc:
        raise _fail(source, None, f"YAML over the limits: {_yaml_problem(exc)}") from None
    except yaml.YAMLError as exc:
        raise _fail(source, None, f"invalid YAML: {_yaml_problem(exc)}") from None
    if document is None:
        raise _fail(source, None, "the file is empty; expected a YAML mapping")
    if not isinstance(document, dict):
        raise _fail(source, None, f"expected a YAML mapping at the top level, got {_type_name(document)}")
    return document


def apply_overrides(document: Mapping[str, Any], overrides: list[str], source: str) -> dict[str, Any]:
    """Apply `--set key.path=value` overrides; values are parsed as YAML scalars (`3` -> 3)."""
    import yaml

    result = copy.deepcopy(dict(document))
    for item in overrides:
        key, sep, raw = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise _fail(source, None, f"--set {_short(item)}: expected key=value, e.g. inputs.epochs=3")
        field = _short(key, 80, quote=False)
        if len(item.encode("utf-8", "surrogateescape")) > MAX_SET_BYTES:
            raise _fail(source, field, f"--set: longer than {MAX_SET_BYTES >> 10} KiB, the limit for one "
                        "--set; put the value in the YAML file")
        parts = key.split(".")
        if len(parts) > MAX_YAML_DEPTH:
            raise _fail(source, field, f"--set: the key nests deeper than {MAX_YAML_DEPTH} levels")
        try:
            value = _load_bounded(raw) if raw.strip() else ""
        except _bounded_loader().limit_error as exc:
            raise _fail(source, field, f"--set: {_yaml_problem(exc)}") from None
        except yaml.YAMLError:
            value = raw
        node: Any = result
        for depth, part in enumerate(parts[:-1]):
            child = node.get(part)
            if child is None:
                child = node[part] = {}
            elif not isinstance(child, dict):
                # `inputs.data.path=...` on a literal input: turn it into a mapping.
                if parts[: depth + 1][0] == "inputs" and depth == 1:
                    child = node[part] = {"path": child} if isinstance(child, str) else {}
                else:
                    where = ".".join(parts[: depth + 1])
                    raise _fail(source, key, f"--set: {where} is {_type_name(child)}, not a mapping")
            node = child
        old = node.get(parts[-1], _MISSING)
        if parts[0] == "inputs" and len(parts) == 2 and isinstance(old, dict) \
                and old.get("type") in _TYPE_OF_LITERAL:
            # A typed input ({type: integer, value: 3}): set its value, checked, keep the rest.
            slot = "value" if "value" in old or "default" not in old else "default"
            value = {**old, slot: _typed(value, raw, old["type"], source, field)}
        elif isinstance(old, (bool, int, float, str)):
            value = _typed(value, raw, _literal_type(old), source, field, replaces=old)
        node[parts[-1]] = value
    return result


_MISSING = object()
_TYPE_OF_LITERAL = {"integer": "an integer", "number": "a number", "boolean": "a boolean (true or false)",
                    "string": "a string"}


def _literal_type(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    return "number" if isinstance(value, float) else "string"


def _typed(value: Any, raw: str, kind: str, source: str, field: str, replaces: Any = _MISSING) -> Any:
    """`--set` keeps the type of what it replaces: in a command job a literal's YAML type is its
    type (`epochs: 3` is an integer, so `epochs=ten` is refused here, not at run time)."""
    if kind == "string":
        return raw  # `display_name=123` is the name "123"
    ok = {"integer": isinstance(value, int) and not isinstance(value, bool),
          "number": isinstance(value, (int, float)) and not isinstance(value, bool),
          "boolean": isinstance(value, bool)}[kind]
    if ok:
        return float(value) if kind == "number" and isinstance(replaces, float) else value
    was = "" if replaces is _MISSING else f", like the value it replaces ({replaces!r})"
    raise _fail(source, field, f"--set: expected {_TYPE_OF_LITERAL[kind]}{was}, got {_short(raw)}")
