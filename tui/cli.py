"""`aml-tui`: the app with no subcommand, else a headless az-ml-shaped command line.

Exit codes: 0 ok, 1 a job failed (or the backend did), 2 bad input. This module must stay
cheap to import: no Textual, MLflow, torch or azure at module level.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Sequence

from .workspace.base import (
    JOB_STATUSES,
    AssetKind,
    InvalidSpecError,
    WorkspaceError,
    build_log,
    primary_log,
)
from .output import OUTPUTS, emit, emit_asset, emit_assets, pages
from .workspace.redact import redact

PAGE = 1000  # jobs read per query while `job list` streams its output


# ---------------------------------------------------------------------------- output


# ---------------------------------------------------------------------------- workspace


AZURE_FLAGS = {"subscription_id": "--subscription", "resource_group": "--resource-group",
               "workspace_name": "--workspace-name"}
FLAGS_SOURCE = "--subscription/-g/-w flags"


def choose_workspace(args: argparse.Namespace, config=None):
    """The Azure workspace the user named (a WorkspaceRef, maybe without a workspace name: then
    a picker asks), or None for the local one. The first found wins: the flags, --config, the
    config file's [azure], .azureml/config.json upward from the cwd, the az CLI defaults.
    --local forces the local workspace. Reads files only: no SDK, no network."""
    from .workspace.azure.client import az_cli_defaults, find_workspace_config, read_workspace_config

    flags = {key: getattr(args, key, None) for key in AZURE_FLAGS}
    named = [flag for key, flag in AZURE_FLAGS.items() if flags[key] is not None]
    config_json = getattr(args, "config_json", None)
    if args.local is not None and (named or config_json):
        raise InvalidSpecError(f"--local opens a local workspace; it cannot go with {(named or ['--config'])[0]}",
                               field="--local")
    if args.local is not None:
        return None
    if named:
        return _ref_from_flags(flags)
    if config_json:
        return read_workspace_config(Path(config_json).expanduser())
    if config is not None and config.azure:
        return _ref_from_config(config)
    found = find_workspace_config(Path.cwd())
    if found is not None:
        return found
    ref = az_cli_defaults()
    # An `az login` alone names no workspace: the az defaults count once they name a group.
    if ref is not None and ref.resource_group:
        return ref
    return None


def _ref_from_flags(flags: dict):
    from .workspace.azure.client import WorkspaceRef, az_subscription, check_ref

    for key, flag in AZURE_FLAGS.items():
        if flags[key] is not None and not flags[key].strip():
            raise InvalidSpecError("expected a name, got an empty string", field=flag)
    if flags["workspace_name"] and not flags["resource_group"]:
        raise InvalidSpecError("--workspace-name needs --resource-group (-g) too", field="--resource-group")
    source = FLAGS_SOURCE
    subscription = flags["subscription_id"]
    if subscription is None:  # as az ml: the az profile's default subscription
        found = az_subscription()
        if found is None:
            raise InvalidSpecError("no --subscription given and the az CLI has no default subscription "
                                   "(run `az login`, or pass --subscription ID)", field="--subscription")
        subscription, profile = found
        source += f" (subscription: the default of {profile})"
    elif not _guid_like(subscription):
        found = az_subscription(subscription)  # a name, as az takes it
        if found is not None:
            subscription = found[0]
    return check_ref(WorkspaceRef(subscription.strip(), flags["resource_group"], flags["workspace_name"], source),
                     AZURE_FLAGS)


def _guid_like(text: str) -> bool:
    return len(text) == 36 and text.count("-") == 4


def _ref_from_config(config):
    from .workspace.azure.client import WorkspaceRef, check_ref, read_workspace_config

    azure = config.azure
    if "config" in azure:
        return read_workspace_config(Path(azure["config"]))
    ref = WorkspaceRef(azure["subscription_id"], azure.get("resource_group"), azure.get("workspace_name"),
                       f"{config.path} [azure]")
    return check_ref(ref, {k: f"azure.{k}" for k in AZURE_FLAGS}, str(config.path))


def local_source(args: argparse.Namespace, config=None) -> str:
    import os

    if args.local is not None:
        return "--local"
    if os.environ.get("AML_TUI_HOME"):
        return "$AML_TUI_HOME"
    if config is not None and config.local_workspace is not None:
        return f"{config.path} [workspace] local"
    return "the default folder (no Azure workspace named)"


def open_workspace(args: argparse.Namespace, config=None, connector=None):
    """The Azure workspace the user named (its client built, nothing sent yet), else the local
    one: --local DIR, else $AML_TUI_HOME, else the config file's [workspace] local, else the
    platform data dir."""
    ref = choose_workspace(args, config)
    if ref is not None:
        from .workspace.azure.client import AzureOpener

        args.azure_ref = ref
        opener = AzureOpener(ref, read_only=getattr(args, "read_only", False), connector=connector)
        if not ref.complete:
            raise _workspace_needed(opener)
        return opener.open(check=False)
    return open_local_workspace(args, config)


def _workspace_needed(opener) -> InvalidSpecError:
    """Only a subscription (or a group) named: say so, with the workspaces there to choose from."""
    ref = opener.ref
    try:
        found = opener.list_workspaces()
        listed = ("; its workspaces: " + ", ".join(f"{r.workspace_name} (-g {r.resource_group})" for r in found)
                  if found else "; it has no workspaces you can see")
    except WorkspaceError as exc:
        listed = f"; listing its workspaces failed: {redact(str(exc))}"
    where = f"resource group {ref.resource_group}" if ref.resource_group else f"subscription {ref.subscription_id}"
    return InvalidSpecError(f"no workspace named in {where}: pass --workspace-name (-w) and --resource-group (-g)"
                            f"{listed}", source=None if ref.source.startswith(FLAGS_SOURCE) else ref.source,
                            field="--workspace-name")


def open_local_workspace(args: argparse.Namespace, config=None):
    import os

    from .workspace.local import LocalWorkspace

    root = args.local
    if root is None and not os.environ.get("AML_TUI_HOME") and config is not None:
        root = config.local_workspace
    try:
        return LocalWorkspace(root, read_only=getattr(args, "read_only", False))
    except OSError as exc:  # --local names a file, or a folder we may not write to
        raise InvalidSpecError(f"cannot open a local workspace in {exc.filename or root}: "
                               f"{exc.strerror or exc}", field="--local") from None


def _load(path: str, overrides: list[str] | None = None) -> tuple[dict, Path, str]:
    from .workspace import spec

    file = Path(path)
    document = spec.load_yaml_file(file)
    if overrides:
        document = spec.apply_overrides(document, overrides, str(file))
    return document, file.resolve().parent, str(file)


# ---------------------------------------------------------------------------- job


def job_create(ws, args) -> int:
    document, base, source = _load(args.file, args.set)
    if args.name is not None:  # `--name ""` is a bad name, not "no name"
        document["name"] = args.name
    job = ws.create_job(document, base_dir=base, source=source)
    if args.stream:
        print(f"RunId: {job.name}", file=sys.stderr)
        return _stream(ws, job.name)
    emit_asset(job, args.output)
    return 0


def job_list(ws, args) -> int:
    def fetch(token: str | None):
        size = min(args.max_results or PAGE, PAGE)
        return ws.list_jobs(status=args.status, experiment_name=args.experiment_name,
                            parent_job_name=args.parent_job_name, max_results=size, page_token=token)

    emit_assets(pages(fetch, args.max_results), args.output, AssetKind.JOBS)
    return 0


def job_show(ws, args) -> int:
    emit_asset(ws.get_job(args.name), args.output)
    return 0


def job_cancel(ws, args) -> int:
    emit_asset(ws.cancel_job(args.name), args.output)
    return 0


def job_download(ws, args) -> int:
    dest = ws.download_job(args.name, Path(args.download_path), output_name=args.output_name, all=args.all)
    print(f"Downloaded job {args.name} to {dest}", file=sys.stderr)
    return 0


def job_stream(ws, args) -> int:
    return _stream(ws, args.name)


def _stream(ws, name: str, poll: float = 0.05) -> int:
    """Print the Preparing log, then the user log (rank 0), until the job ends; exit 1 if it failed."""
    out = sys.stdout
    offsets: dict[str, int] = {}

    def drain(file: str) -> bool:
        got = False
        while True:
            try:
                chunk = ws.read_log(name, file, offsets.get(file, 0))
            except WorkspaceError:
                return got
            if not chunk.text:
                return got
            out.write(chunk.text)
            out.flush()
            offsets[file] = chunk.next_offset
            got = True

    while True:
        job = ws.get_job(name)
        started = job.status not in ("NotStarted", "Queued", "Preparing")
        files = ws.log_files(name)
        prepare, user = build_log(files), primary_log(files)
        if prepare:
            drain(prepare.name)
        if started and user:
            drain(user.name)
        if job.is_terminal:
            if prepare:
                drain(prepare.name)
            if user:
                drain(user.name)
            break
        time.sleep(poll)
    print("\nExecution Summary\n=================", file=sys.stderr)
    print(f"RunId: {name}\nStatus: {job.status}", file=sys.stderr)
    err = job.fields.get("error")
    if err:
        print(f"Error: {err.get('message')}", file=sys.stderr)
    return 0 if job.status == "Completed" else 1


# ---------------------------------------------------------------------------- assets


def _show_or_list(kind: AssetKind):
    def show(ws, args) -> int:
        version = getattr(args, "version", None)
        if getattr(args, "label", None) not in (None, "latest"):
            raise InvalidSpecError("only --label latest is supported", field="--label")
        emit_asset(ws.get_asset(kind, args.name, version), args.output)
        return 0

    def list_(ws, args) -> int:
        if getattr(args, "name", None):
            items = ws.list_versions(kind, args.name)
        else:
            items = ws.list_assets(kind, max_results=getattr(args, "max_results", None)).items
        emit_assets(items, args.output, kind)
        return 0

    return show, list_


def _asset_document(args, command: str, keys: tuple[str, ...]) -> tuple[dict, Path, str]:
    """The YAML of `--file` (with `--set`), then the flags on top: flags win, as in az ml."""
    if args.file:
        document, base, source = _load(args.file, args.set)
    else:
        document, base, source = {}, Path.cwd(), command
    for key in keys:
        if getattr(args, key, None) is not None:
            document[key] = getattr(args, key)
    return document, base, source


def data_create(ws, args) -> int:
    document, base, source = _asset_document(args, "data create", ("name", "version", "path", "type", "description"))
    emit_asset(ws.create_data(document, base_dir=base, source=source), args.output)
    return 0


def environment_create(ws, args) -> int:
    document, base, source = _asset_document(args, "environment create",
                                             ("name", "version", "image", "conda_file", "description"))
    emit_asset(ws.create_environment(document, base_dir=base, source=source), args.output)
    return 0


def compute_create(ws, args) -> int:
    document, _, source = _asset_document(args, "compute create", ("name", "type", "max_concurrency", "description"))
    emit_asset(ws.create_compute(document, source=source), args.output)
    return 0


def config_show(ws, args) -> int:
    emit({**args.config.to_dict(), "opens": _opens(args)}, args.output)
    return 0


def _opens(args) -> dict:
    """Which workspace aml-tui opens with these flags, from where (files only: no sign-in)."""
    ref = choose_workspace(args, args.config)
    if ref is not None:
        return ref.to_dict()
    from .workspace.local.workspace import default_root

    import os

    local = args.local or os.environ.get("AML_TUI_HOME") or args.config.local_workspace
    root = Path(local).expanduser().resolve() if local else default_root()
    return {"kind": "local", "location": str(root), "source": local_source(args, args.config)}


def workspace_show(ws, args) -> int:
    emit(_opens(args), args.output)
    return 0


def seed(ws, args) -> int:
    from .workspace.local.seed import seed_demo

    for line in seed_demo(ws, with_jobs=not args.no_jobs):
        print(line, file=sys.stderr)
    return 0


# ---------------------------------------------------------------------------- workspace check / repair


def _workspace_root(args) -> Path:
    # No LocalWorkspace here: opening one refuses (rightly) the broken catalog these repair.
    from .workspace.base import NotFoundError
    from .workspace.local.workspace import default_root

    import os

    local = args.local
    if local is None and not os.environ.get("AML_TUI_HOME"):
        local = args.config.local_workspace
    root = (Path(local).expanduser() if local else default_root()).resolve()
    if not root.is_dir():
        raise NotFoundError(f"no local workspace at {root}")
    return root


def workspace_check(ws, args) -> int:
    from .workspace.local.repair import check

    findings = check(_workspace_root(args))
    for line in findings.facts:
        print(line)
    for line in findings.problems:
        print(f"problem: {line}")
    if findings.problems:
        print(f"aml-tui: {len(findings.problems)} problem(s); `aml-tui workspace repair` fixes what can be fixed",
              file=sys.stderr)
        return 1
    return 0


def workspace_repair(ws, args) -> int:
    from .workspace.base import ReadOnlyError
    from .workspace.local.repair import repair

    if args.read_only:
        raise ReadOnlyError("the workspace is open read-only")
    for line in repair(_workspace_root(args)):
        print(line)
    return 0


# ---------------------------------------------------------------------------- parser


def _count(text: str) -> int:
    """--max-results: a positive integer that SQLite's LIMIT can take."""
    from .workspace.spec import MAX_INT

    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text[:40]!r}") from None
    if not 1 <= value <= MAX_INT:
        raise argparse.ArgumentTypeError(f"expected an integer from 1 to {MAX_INT}, got {text[:40]}")
    return value


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--local", metavar="DIR", default=argparse.SUPPRESS,
                        help="open the local workspace in DIR, even where an Azure workspace is named "
                             "(default: $AML_TUI_HOME, else the platform data dir)")
    common.add_argument("-o", "--output", choices=OUTPUTS, default=argparse.SUPPRESS,
                        help="output format (default: json, like az ml)")
    # The Azure workspace, named as az ml names it (see README: Opening an Azure workspace).
    common.add_argument("--subscription", dest="subscription_id", metavar="ID", default=argparse.SUPPRESS,
                        help="Azure subscription ID or name (default: the az CLI's)")
    common.add_argument("-g", "--resource-group", dest="resource_group", metavar="NAME", default=argparse.SUPPRESS,
                        help="Azure resource group")
    common.add_argument("-w", "--workspace-name", dest="workspace_name", metavar="NAME", default=argparse.SUPPRESS,
                        help="Azure ML workspace (with -g; leave out for a picker in the app)")
    common.add_argument("--config", dest="config_json", metavar="PATH", default=argparse.SUPPRESS,
                        help="a workspace config.json (as the Studio downloads it)")

    parser = argparse.ArgumentParser(
        prog="aml-tui", parents=[common],
        description="Azure ML workspace explorer. With no command, opens the terminal app.")
    parser.add_argument("--read-only", action="store_true", help="disable every mutating action")
    parser.add_argument("--job-template", metavar="FILE", help="job YAML that prefills the app's submit form")
    groups = parser.add_subparsers(dest="group", metavar="COMMAND")

    def group(name: str, help: str):
        g = groups.add_parser(name, help=help)
        return g.add_subparsers(dest="command", metavar="SUBCOMMAND", required=True)

    def command(sub, name: str, func, help: str):
        p = sub.add_parser(name, parents=[common], help=help)
        p.set_defaults(func=func)
        return p

    jobs = group("job", "command jobs: create, list, show, stream, cancel, download")
    p = command(jobs, "create", job_create, "submit a job from YAML")
    p.add_argument("-f", "--file", required=True, help="job YAML (az ml commandJob schema)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override a field, e.g. inputs.epochs=3 (repeatable)")
    p.add_argument("-n", "--name", help="job name (default: generated)")
    p.add_argument("-s", "--stream", action="store_true", help="stream the log until the job ends")
    p = command(jobs, "list", job_list, "list jobs, newest first")
    p.add_argument("--status", choices=JOB_STATUSES, metavar="STATUS", help="one of: " + ", ".join(JOB_STATUSES))
    p.add_argument("--experiment-name", help="only jobs of this experiment")
    p.add_argument("-p", "--parent-job-name", help="the child jobs (trials) of this job")
    p.add_argument("-r", "--max-results", type=_count, help="at most this many (default: all of them, unlike az ml's 50; the output is written as it is read)")
    for name, func, help in (("show", job_show, "show a job"), ("stream", job_stream, "follow a job's log"),
                             ("cancel", job_cancel, "cancel a job")):
        p = command(jobs, name, func, help)
        p.add_argument("-n", "--name", required=True)
    p = command(jobs, "download", job_download, "download a job's outputs and logs")
    p.add_argument("-n", "--name", required=True)
    p.add_argument("--output-name", help="one named output (default: logs and ./outputs)")
    p.add_argument("--all", action="store_true", help="logs, ./outputs and every named output")
    p.add_argument("-p", "--download-path", default=".")

    def asset_group(gname: str, kind: AssetKind, create, create_args, versioned: bool):
        sub = group(gname, f"{kind.value}: create, list, show")
        p = command(sub, "create", create, f"create {gname}")
        p.add_argument("-f", "--file")
        p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
        for flag, kw in create_args:
            p.add_argument(flag, **kw)
        show, list_ = _show_or_list(kind)
        p = command(sub, "list", list_, f"list {gname}")
        if versioned:
            p.add_argument("-n", "--name", help="list the versions of one asset")
        p.add_argument("-r", "--max-results", type=_count)
        p = command(sub, "show", show, f"show {gname}")
        p.add_argument("-n", "--name", required=True)
        if versioned:
            p.add_argument("-v", "--version")
            p.add_argument("-l", "--label", help="latest")

    asset_group("data", AssetKind.DATA, data_create, [
        ("--name", {}), ("--version", {}), ("--path", {}), ("--description", {}),
        ("--type", {"choices": ("uri_file", "uri_folder")})], True)
    asset_group("environment", AssetKind.ENVIRONMENTS, environment_create, [
        ("--name", {}), ("--version", {}), ("--image", {}), ("--conda-file", {}), ("--description", {})], True)
    asset_group("compute", AssetKind.COMPUTE, compute_create, [
        ("--name", {}), ("--type", {"choices": ("local",)}), ("--description", {}),
        ("--max-concurrency", {"type": int})], False)
    for gname, kind in (("model", AssetKind.MODELS), ("online-endpoint", AssetKind.ENDPOINTS)):
        sub = group(gname, f"{kind.value}: list, show")
        show, list_ = _show_or_list(kind)
        command(sub, "list", list_, f"list {kind.value}").add_argument("-r", "--max-results", type=_count)
        command(sub, "show", show, f"show a {gname}").add_argument("-n", "--name", required=True)
    sub = group("config", f"the user config file ({'$'}{'AML_TUI_CONFIG'} or ~/.config/aml-tui/config.toml)")
    command(sub, "show", config_show, "the effective configuration and where it was read from")
    sub = group("workspace", "which workspace opens (show); the local workspace itself: check, repair")
    command(sub, "show", workspace_show, "the workspace aml-tui opens with these flags, and where it was named")
    command(sub, "check", workspace_check, "check the catalog and that it agrees with the folders on disk")
    command(sub, "repair", workspace_repair,
            "rebuild a damaged or lost catalog from the folders on disk (the old one is kept)")
    p = groups.add_parser("seed", parents=[common], help="seed the local workspace with the demo assets")
    p.add_argument("--no-jobs", action="store_true", help="register assets only, submit no demo job")
    p.set_defaults(func=seed)
    return parser


def main(argv: Sequence[str] | None = None, workspace=None, connector=None) -> int:
    """Run one command (or the app) and return its exit code. `workspace` replaces the one the
    flags would open: tests pass a ready workspace of any backend. `connector` (an
    azure.client.Connector) replaces how Azure is reached: tests pass a fake credential and
    transport, so the flags, files and sign-in run for real against a fake service."""
    parser = build_parser()
    args = parser.parse_args(argv)
    args.local = getattr(args, "local", None)
    args.output = getattr(args, "output", "json")
    args.azure_ref = None
    try:
        from .config import load_config

        args.config = load_config()
        if args.group in ("config", "workspace"):  # these need no open workspace (repair fixes one)
            return args.func(None, args)
        if args.group is None:
            return _run_app(workspace, args, connector)
        if workspace is None and args.group == "seed":  # the demo assets are for the local workspace only
            workspace = open_local_workspace(args, args.config)
        ws = workspace if workspace is not None else open_workspace(args, args.config, connector)
        return args.func(ws, args)
    except WorkspaceError as exc:
        print(f"aml-tui: {redact(str(exc))}", file=sys.stderr)
        ref = args.azure_ref
        if ref is not None and not isinstance(exc, InvalidSpecError):
            print(f"aml-tui: (Azure workspace {ref.describe()}, named by {ref.source}; "
                  "--local DIR opens a local workspace instead)", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0


def _run_app(ws, args, connector=None) -> int:
    opener = None
    if ws is None:
        ref = choose_workspace(args, args.config)
        if ref is None:
            ws = open_local_workspace(args, args.config)
        else:
            from .workspace.azure.client import AzureOpener

            args.azure_ref = ref
            opener = AzureOpener(ref, read_only=args.read_only, connector=connector)
    try:
        from .app import run_app
    except ImportError:
        if ws is None:
            print(f"aml-tui: the app needs textual; Azure workspace {opener.ref.describe()} "
                  f"(named by {opener.ref.source})")
            return 1
        info = ws.info()
        print(f"aml-tui local workspace: {info.location}")
        for kind, n in ws.counts().items():
            print(f"  {kind.value:<13} {n}")
        return 0
    template = Path(args.job_template) if args.job_template else None
    return run_app(ws, read_only=args.read_only, job_template=template, config=args.config, opener=opener)


if __name__ == "__main__":
    sys.exit(main())
