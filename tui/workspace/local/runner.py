"""The detached process that runs one local job: `python -m tui.workspace.local.runner ROOT NAME`.

Lifecycle (Azure's statuses): Preparing (environment) -> Starting (MLflow run, processes)
-> Running -> Finalizing (outputs) -> Completed | Failed | Canceled. SIGTERM means cancel:
the job's processes get SIGTERM, then SIGKILL after a grace period. The job runs in a
throwaway layer over its environment, and nothing it started outlives it (isolation.py).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import sys
import time
from pathlib import Path

from . import files, isolation, jobstore, tracking
from .catalog import connect, transaction
from ..redact import mask_env, redact, secret_values
from .environments import EnvironmentBuildError, materialise
from .layout import BUILD_LOG, JobLayout
from .logtimes import LogClock
from .plan import PlanError, RunPlan

CANCEL_GRACE_S = float(os.environ.get("AML_TUI_CANCEL_GRACE", "10"))
LOG_TAIL_LINES = 30


class Runner:
    def __init__(self, root: Path, name: str):
        self.root = root
        self.name = name
        self.layout = JobLayout.of(root, name)
        self.dir = self.layout.dir
        self.conn = connect(root / "catalog.db")
        self.cancel_requested = False
        self.procs: list = []
        self.pgid: int | None = None
        self.build_proc = None  # pip, while an environment builds
        self.timed_out = False
        self.first_failure: int | None = None  # exit code of the first rank that failed by itself
        self.ended = False  # the job's processes are all gone (then, and only then, runners may be spawned)
        self.clock = LogClock(self.layout)  # when each log line was written

    # -- status helpers

    def status(self, status: str, *, expect: tuple[str, ...] | None = None, **columns) -> bool:
        with transaction(self.conn):
            return jobstore.set_status(self.conn, self.root, self.name, status, expect=expect, **columns)

    def current_status(self) -> str:
        return self.conn.execute("SELECT status FROM jobs WHERE name = ?", (self.name,)).fetchone()[0]

    def system_log(self, text: str) -> None:
        with open(self.layout.log(BUILD_LOG), "a", encoding="utf-8") as f:
            f.write(redact(text))

    # -- lifecycle

    def claim(self) -> bool:
        """Become this job's only runner (a job runs exactly once)."""
        import psutil

        started = psutil.Process().create_time()
        with transaction(self.conn):
            cur = self.conn.execute(
                "UPDATE jobs SET runner_pid = ?, runner_started = ? "
                "WHERE name = ? AND runner_pid IS NULL AND status IN ('Preparing', 'CancelRequested')",
                (os.getpid(), started, self.name))
            claimed = cur.rowcount == 1
        if claimed:
            # A runner start is a moment to rescue claims whose spawner was killed, so they
            # do not wait for the next CLI call or app refresh. Best effort: this job goes on.
            try:
                jobstore.reconcile(self.conn, self.root)
            except Exception as exc:
                print(f"aml-tui runner: could not check the other jobs: {exc}", flush=True)
        return claimed

    def run(self) -> int:
        if not self.claim():
            return 0
        self.clock.start()
        signal.signal(signal.SIGTERM, self._on_sigterm)
        isolation.become_subreaper()
        run_id = None
        try:
            plan = RunPlan.read(self.layout.run_json)
            if self.current_status() == "CancelRequested":
                return self.finish("Canceled", None, run_id)
            # The build's processes carry the job's mark, so a reconcile finds them if we die.
            os.environ[isolation.JOB_MARK] = isolation.job_mark(self.dir)
            try:
                python = materialise(self.root, dict(plan.environment), self.system_log, on_build=self._building)
            except (EnvironmentBuildError, OSError, ValueError) as exc:
                self._end_processes()  # whatever pip started and left behind
                if self.cancel_requested:  # the build may have died of the cancel itself
                    return self.finish("Canceled", None, run_id)
                self.system_log(f"environment preparation failed: {exc}\n")
                return self.finish("Failed", None, run_id, error=("EnvironmentBuildError", str(exc)))
            finally:
                # Not in our own environment: runners we spawn for other jobs would inherit it.
                os.environ.pop(isolation.JOB_MARK, None)
            if self.cancel_requested:
                return self.finish("Canceled", None, run_id)
            self.status("Starting", expect=("Preparing",))
            run_id = tracking.create_run(
                self.root, experiment_name=plan.experiment_name, run_name=plan.display_name,
                tags={"mlflow.source.name": redact(plan.command)[:500], "azureml.job_name": self.name})
            self.conn.execute("UPDATE jobs SET mlflow_run_id = ? WHERE name = ?", (run_id, self.name))
            exit_codes = self.execute(plan, python, run_id)
            return self.conclude(plan, exit_codes, run_id)
        except Exception as exc:  # never leave the job Running: record why it failed
            import traceback

            self.system_log(traceback.format_exc())
            if not self.ended:  # after that, what is below us may be runners of other jobs
                self._end_processes()
            return self.finish("Failed", None, run_id, error=("SystemError", f"{type(exc).__name__}: {exc}"))

    def _on_sigterm(self, signum, frame) -> None:
        self.cancel_requested = True
        if self.build_proc is not None and self.build_proc.poll() is None:
            jobstore.kill_group(self.build_proc.pid, signal.SIGTERM)


    def _building(self, proc) -> None:
        self.build_proc = proc
        if self.cancel_requested:  # the cancel came before pip started
            jobstore.kill_group(proc.pid, signal.SIGTERM)

    def environment(self, plan: RunPlan, python: str, run_id: str, layer_python: Path) -> dict[str, str]:
        """`python` is the environment's interpreter, `layer_python` the job's own layer over it."""
        env = dict(os.environ)
        # Ours was set to find tui; the job sees the user's own PYTHONPATH, if any.
        user_path = env.pop("AML_TUI_USER_PYTHONPATH", "")
        env.pop("PYTHONPATH", None)
        if user_path:
            env["PYTHONPATH"] = user_path
        env.update(plan.environment_variables)
        # The layer first (python, pip), then the environment's own tools (torchrun, mlflow, ...).
        bindir = os.path.dirname(python)
        env["PATH"] = os.pathsep.join([str(layer_python.parent), bindir, env.get("PATH", "")])
        env.update({
            "VIRTUAL_ENV": str(layer_python.parent.parent),
            isolation.JOB_MARK: isolation.job_mark(self.dir),
            "PYTHONUNBUFFERED": "1",
            "MLFLOW_TRACKING_URI": tracking.tracking_uri(self.root),
            "MLFLOW_RUN_ID": run_id,
            "AZUREML_RUN_ID": self.name,
            "AZUREML_ARM_PROJECT_NAME": plan.experiment_name,
            "AZUREML_EXPERIMENT_NAME": plan.experiment_name,
        })
        return env

    def execute(self, plan: RunPlan, python: str, run_id: str) -> list[int]:
        import subprocess

        snapshot = self.layout.snapshot
        self._link_outputs(snapshot)
        layer = isolation.make_layer(self.dir / isolation.LAYER, python)
        env = self.environment(plan, python, run_id, layer)
        count = plan.process_count
        port = _free_port() if count > 1 else None
        shown = mask_env(plan.environment_variables)
        command = redact(plan.command, secret_values(plan.environment_variables))
        jobstore.log_lifecycle(self.root, self.name, f"command: {command}")
        if shown:
            jobstore.log_lifecycle(self.root, self.name, f"environment_variables: {shown}")
        for rank in range(count):
            penv = dict(env)
            if count > 1:
                penv.update({"RANK": str(rank), "LOCAL_RANK": str(rank), "WORLD_SIZE": str(count),
                             "LOCAL_WORLD_SIZE": str(count), "NODE_RANK": "0", "GROUP_RANK": "0",
                             "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port)})
            with open(self.layout.std_log(rank, count), "ab") as out:
                proc = subprocess.Popen(
                    ["/bin/bash", "-c", plan.command], cwd=snapshot, env=penv,
                    stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                    process_group=0 if self.pgid is None else self.pgid, umask=files.user_umask())
            if self.pgid is None:
                self.pgid = proc.pid
            self.procs.append(proc)
        self.status("Running", expect=("Starting",), start_time=time.time(), pgid=self.pgid)
        if self.cancel_requested or self.current_status() == "CancelRequested":
            self.cancel_requested = True
        return self.wait(plan.timeout)

    def wait(self, timeout: int | None) -> list[int]:
        deadline = time.time() + timeout if timeout else None
        stop_at = None
        ranks = {p.pid for p in self.procs}
        while True:
            isolation.reap_adopted(ranks)
            codes = [p.poll() for p in self.procs]
            if self.first_failure is None and stop_at is None:
                # The code of the rank that failed on its own, not of those we stop after it.
                self.first_failure = next((c for c in codes if c not in (None, 0)), None)
            if all(c is not None for c in codes):
                return codes  # type: ignore[return-value]
            # One rank failing dooms a distributed job; don't let the others hang in a collective.
            if any(c not in (None, 0) for c in codes) and stop_at is None:
                self._end_processes(signal.SIGTERM)
                stop_at = time.time() + CANCEL_GRACE_S
            if (self.cancel_requested or (deadline and time.time() > deadline)) and stop_at is None:
                if deadline and time.time() > deadline:
                    self.timed_out = True
                jobstore.log_lifecycle(self.root, self.name, "stopping the job's processes (SIGTERM)")
                self._end_processes(signal.SIGTERM)
                stop_at = time.time() + CANCEL_GRACE_S
            if stop_at is not None and time.time() > stop_at:
                jobstore.log_lifecycle(self.root, self.name, "grace period over (SIGKILL)")
                self._end_processes()
                stop_at = float("inf")
            time.sleep(0.02)

    def conclude(self, plan: RunPlan, codes: list[int], run_id: str) -> int:
        self.status("Finalizing", expect=("Running", "CancelRequested"))
        # End anything the job left behind (daemons, stray children), in its group or not.
        self._end_processes()
        self._collect_outputs(self.layout.snapshot)
        exit_code = self.first_failure if self.first_failure is not None else next((c for c in codes if c != 0), 0)
        if self.cancel_requested:
            return self.finish("Canceled", exit_code, run_id)
        if self.timed_out:
            return self.finish("Failed", exit_code, run_id, error=(
                "JobTimeout", f"the job exceeded limits.timeout of {plan.timeout} s and was stopped"))
        if exit_code != 0:
            return self.finish("Failed", exit_code, run_id, error=(
                "UserError", f"the command exited with code {exit_code}"))
        return self.finish("Completed", 0, run_id)

    def finish(self, status: str, exit_code: int | None, run_id: str | None,
               error: tuple[str, str] | None = None) -> int:
        err = None
        if error:
            # `job show` and `job list` print the error: never with the job's secrets in it.
            secrets = self._secret_values()
            err = json.dumps({"code": error[0], "message": redact(error[1], secrets),
                              "log_tail": redact(self._log_tail(), secrets)})
        with transaction(self.conn):
            jobstore.set_status(self.conn, self.root, self.name, status, end_time=time.time(),
                                exit_code=exit_code, error=err)
        self.clock.stop()  # the logs are whole: the last marks go in
        if run_id:
            tracking.end_run(self.root, run_id, {"Completed": "FINISHED", "Canceled": "KILLED"}.get(status, "FAILED"))
        jobstore.schedule(self.conn, self.root)
        return 0

    def _secret_values(self) -> list[str]:
        """The values of the job's secret environment variables, which its log may echo."""
        try:
            return secret_values(dict(RunPlan.read(self.layout.run_json).environment_variables))
        except PlanError:
            return []  # the shapes of secrets are still masked

    def _log_tail(self) -> str:
        logs = self.layout.user_log_paths() or [self.layout.log(BUILD_LOG)]
        chunks = []
        for path in logs:
            try:
                with open(path, "rb") as f:
                    start = max(0, path.stat().st_size - 16384)
                    f.seek(start)
                    lines = f.read().decode("utf-8", "replace").splitlines()
                    if start:  # the first line is cut: what is left of a secret there would not be found
                        lines = lines[1:]
                    lines = lines[-LOG_TAIL_LINES:]
            except OSError:
                continue
            prefix = f"[{path.name}] " if len(logs) > 1 else ""
            chunks += [prefix + line for line in lines]
        return "\n".join(chunks[-LOG_TAIL_LINES:])

    def _end_processes(self, sig: int = signal.SIGKILL) -> None:
        """Signal the job's processes: its group, and all below us (a `setsid` daemon was
        adopted by us, the subreaper). SIGKILL ends the job: its layer goes too, before the
        final status is written."""
        jobstore.kill_group(self.pgid, sig)
        isolation.end_descendants(sig)
        if sig == signal.SIGKILL:
            self.ended = True
            shutil.rmtree(self.dir / isolation.LAYER, ignore_errors=True)

    def _link_outputs(self, snapshot: Path) -> None:
        """Azure uploads `./outputs`; here it is a link to the job's `outputs/`, live."""
        target = snapshot / "outputs"
        outputs = self.layout.outputs
        if target.is_dir() and not target.is_symlink():
            for item in target.iterdir():
                shutil.move(str(item), outputs / item.name)
            target.rmdir()
        if not target.exists():
            target.symlink_to(outputs, target_is_directory=True)

    def _collect_outputs(self, snapshot: Path) -> None:
        target = snapshot / "outputs"
        if target.is_symlink():
            target.unlink()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main(argv: list[str]) -> int:
    root, name = Path(argv[0]), argv[1]
    return Runner(root, name).run()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
