"""The command line of a job: `${{...}}` bindings, Azure's optional segments `$[[ ... ]]`, and
their substitution, quoted for the shell context each binding sits in."""

from __future__ import annotations

import re
import shlex
from typing import Collection, Mapping

from .names import _fail

# ${{inputs.x}}, ${{outputs.x}}, ${{search_space.x}}; whitespace inside the braces is allowed.
BINDING_RE = re.compile(r"\$\{\{\s*(inputs|outputs|search_space)\.([A-Za-z0-9_]+)\s*\}\}")
ANY_BINDING_RE = re.compile(r"\$\{\{.*?\}\}")
# Azure's optional segment `$[[--flag ${{inputs.x}}]]`: dropped when an input in it is unset.
# A plain `[ ... ]` is the shell's and passes through untouched.
OPTIONAL_RE = re.compile(r"\$\[\[(.*?)\]\]", re.DOTALL)
_SINGULAR = {"inputs": "input", "outputs": "output", "search_space": "search space parameter"}


def check_bindings(command: str, inputs: set[str], outputs: set[str], *, source: str,
                   search_space: set[str] | None = None, optional: set[str] = frozenset(),
                   field: str = "command") -> None:
    """Every `${{inputs.x}}` names a set input. Inside an optional segment `$[[ ... ]]` an
    input may also be unset (`optional` holds those declared `optional: true` without a value)
    or undeclared: the segment is then dropped, as Azure does."""
    for raw in ANY_BINDING_RE.finditer(command):
        if not BINDING_RE.fullmatch(raw.group(0)):
            raise _fail(source, field, f"{raw.group(0)} is not a binding; use ${{{{inputs.NAME}}}} "
                        "or ${{outputs.NAME}}")
    segments = [seg.span(1) for seg in OPTIONAL_RE.finditer(command)]
    for start, end in segments:
        if "$[[" in command[start:end]:
            raise _fail(source, field, "optional segments $[[ ... ]] do not nest")
    if "$[[" in OPTIONAL_RE.sub("", command):
        raise _fail(source, field, "$[[ without a closing ]]; an optional segment reads "
                    "$[[--flag ${{inputs.NAME}}]]")
    for match in BINDING_RE.finditer(command):
        group, name = match.groups()
        declared = {"inputs": inputs, "outputs": outputs, "search_space": search_space or set()}[group]
        if name in declared:
            continue
        if group == "inputs" and any(s <= match.start() < e for s, e in segments):
            continue
        if group == "search_space" and search_space is None:
            raise _fail(source, field, f"${{{{search_space.{name}}}}} is only allowed in a sweep trial")
        if group == "inputs" and name in optional:
            raise _fail(source, field, f"input {name!r} is optional and has no value here, so "
                        f"${{{{inputs.{name}}}}} must sit inside an optional segment: "
                        f"$[[--{name} ${{{{inputs.{name}}}}}]]")
        known = ", ".join(sorted(declared)) or "none"
        raise _fail(source, field, f"${{{{{group}.{name}}}}} refers to an undeclared {_SINGULAR[group]} "
                    f"{name!r}; declared {group}: {known}")


def render_command(command: str, values: Mapping[str, Mapping[str, str]],
                   paths: Mapping[str, Collection[str]] | None = None) -> str:
    """Substitute bindings. `values` maps group -> name -> text. An optional segment
    `$[[...]]` is dropped when one of its inputs has no value, else kept without `$[[ ]]`.

    Literal values go in verbatim, as on Azure. The bindings named in `paths` are local
    paths, which may hold spaces or quotes (Azure's mount paths never do): each is quoted
    for the shell context it sits in, so it stays one word both bare and inside the
    user's own quotes."""

    def optional(seg: re.Match[str]) -> str:
        body = seg.group(1)
        names = [(m.group(1), m.group(2)) for m in BINDING_RE.finditer(body)]
        if all(n in values.get(g, {}) for g, n in names):
            return body
        return ""

    command = OPTIONAL_RE.sub(optional, command)
    contexts = _binding_contexts(command)
    paths = paths or {}

    def substitute(m: re.Match[str]) -> str:
        group, name = m.groups()
        text = values[group][name]
        if name not in paths.get(group, ()):
            return text
        return _quote_for(text, contexts.get(m.start(), "bare"))  # a binding in a comment is not in the map

    return BINDING_RE.sub(substitute, command)


def _quote_for(text: str, context: str) -> str:
    if context == "single":  # inside '...': close, emit an escaped quote, reopen
        return text.replace("'", "'\\''")
    if context == "double":  # inside "...": only these four stay special
        return "".join("\\" + c if c in '\\"$`' else c for c in text)
    return shlex.quote(text)


def _binding_contexts(command: str) -> dict[int, str]:
    """For each binding's offset, the bash quoting around it: 'bare', 'single' or 'double'.

    A small bash lexer: quotes, backslashes, `$( )` and backticks (which start a fresh bare
    context, also inside double quotes) and `#` comments. Heredocs are read as plain text."""
    contexts: dict[int, str] = {}
    stack = ["bare"]  # bare | single | double | subst ($( )) | paren (( ) inside $( )) | tick
    i, n = 0, len(command)
    while i < n:
        top = stack[-1]
        binding = BINDING_RE.match(command, i) if command.startswith("${{", i) else None
        if binding:
            contexts[i] = top if top in ("single", "double") else "bare"
            i = binding.end()
            continue
        c = command[i]
        if top == "single":
            if c == "'":
                stack.pop()
        elif c == "\\":
            i += 1  # the next character is taken literally
        elif command.startswith("$(", i):
            stack.append("subst")
            i += 1
        elif top == "double":
            if c == '"':
                stack.pop()
            elif c == "`":
                stack.append("tick")
        elif c == "#" and (i == 0 or command[i - 1] in " \t\n;&|()"):
            newline = command.find("\n", i)
            i = n if newline < 0 else newline
            continue
        elif c == "'":
            stack.append("single")
        elif c == '"':
            stack.append("double")
        elif c == "`":
            if top == "tick":
                stack.pop()
            else:
                stack.append("tick")
        elif c == "(" and top in ("subst", "paren"):
            stack.append("paren")
        elif c == ")" and top in ("subst", "paren"):
            stack.pop()
        i += 1
    return contexts
