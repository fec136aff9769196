#!/usr/bin/env bash
# Smoke test of the real binary: start `aml-tui` in tmux, press keys as a user would, and
# check what is on the screen. Exits non-zero (printing the screen) on the first failure.
#
#   scripts/tmux_smoke.sh            # uses .venv/bin/aml-tui
#   AML_TUI_BIN=aml-tui scripts/tmux_smoke.sh
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=${AML_TUI_BIN:-$ROOT/.venv/bin/aml-tui}
WS=$(mktemp -d)
SESSION="aml-tui-smoke-$$"
JOB=smoke_job_$$
# A tmux server of our own: a session of an already running server would get that server's
# environment (another PYTHONPATH, say) instead of ours.
export TMUX_TMPDIR="$WS"

cleanup() {
    tmux kill-server 2>/dev/null || true
    rm -rf "$WS"
}
trap cleanup EXIT

screen() { tmux capture-pane -p -t "$SESSION"; }

fail() {
    echo "tmux_smoke: FAIL: $*" >&2
    echo "---- screen ----" >&2
    screen >&2 || true
    exit 1
}

# wait_for TEXT [SECONDS]: until TEXT is on the screen.
wait_for() {
    local text=$1 deadline=$((SECONDS + ${2:-10}))
    while ((SECONDS < deadline)); do
        if screen | grep -qF -- "$text"; then return 0; fi
        sleep 0.1
    done
    fail "did not see '$text'"
}

keys() { tmux send-keys -t "$SESSION" "$@"; sleep 0.3; }

# A finished job with a known log, submitted through the CLI (another process).
cat > "$WS/job.yml" <<'YAML'
command: for i in 1 2 3; do echo smoke line $i; done
display_name: smoke
experiment_name: smoke-tests
YAML
"$BIN" --local "$WS/ws" -o table job create -f "$WS/job.yml" -n "$JOB" --stream >/dev/null 2>&1 \
    || fail "could not submit the smoke job"

cat > "$WS/template.yml" <<'YAML'
command: echo second
display_name: second-job
experiment_name: other
YAML

# A config file of its own: sorting writes the [sort] table, and the user's file is not ours to touch.
tmux new-session -d -s "$SESSION" -x 160 -y 48 \
    "cd '$WS' && AML_TUI_CONFIG='$WS/config.toml' '$BIN' --local '$WS/ws' --job-template '$WS/template.yml'; echo \"EXIT \$?\"; sleep 30"

wait_for "aml-tui  │  local" 10
wait_for "$JOB" 10
wait_for "Completed"

# Command mode switches kinds; the sidebar counts jobs.
keys ":"; keys "env"; keys Enter
wait_for "Environments 0 of 0"
keys ":"; keys "comp"; keys Tab; keys Enter
wait_for "Compute 1 of 1"
keys ":"; keys "jobs"; keys Enter
wait_for "Jobs 1 of 1"

# The log of the job.
keys l
wait_for "smoke line 3"
wait_for "ended"
keys Escape
wait_for "Jobs 1 of 1"

# Filter: a match, then none.
keys /; keys "smoke"; keys Enter
wait_for "filter: smoke"
wait_for "$JOB"
keys /; keys C-u; keys "nothing-matches"; keys Enter
wait_for "Jobs 0 of 1"
wait_for "Nothing matches 'nothing-matches'"
keys Escape
wait_for "Jobs 1 of 1"

# Column terms; / reopens with the filter to edit.
keys /; keys "status:Completed exp:smoke"; keys Enter
wait_for "filter: status:Completed exp:smoke"
wait_for "Jobs 1 of 1"
keys /; keys C-u; keys -- "-status:Completed"; keys Enter
wait_for "Jobs 0 of 1"
keys Escape
wait_for "Jobs 1 of 1"

# Sort by a column picked from the list; the choice lands in the config file.
keys o
wait_for "Sort by"
keys Down; keys Down; keys Down; keys Enter
wait_for "sort: STATUS ↑"
for _ in $(seq 50); do grep -qF 'jobs = "STATUS"' "$WS/config.toml" 2>/dev/null && break; sleep 0.1; done
grep -qF 'jobs = "STATUS"' "$WS/config.toml" || fail "the sort was not saved in the config file"

# At 80x24 the sidebar folds, the status is whole, and the footer keeps ? and q.
tmux resize-window -t "$SESSION" -x 80 -y 24
wait_for "? Help"
wait_for "q Quit"
wait_for "Completed"
tmux resize-window -t "$SESSION" -x 160 -y 48
wait_for " 3 Environments"

# Details, help, the submit form.
keys Enter
wait_for "experiment    smoke-tests"
keys Escape
keys "?"
wait_for "aml-tui keys"
keys Escape
keys n; keys Enter  # n asks: command job (enter) or sweep
wait_for "New command job"
keys Escape
wait_for "Jobs 1 of 1"

# Submit while a filter hides the new job: the filter gives way and the new job is selected.
keys /; keys C-u; keys "smoke-tests"; keys Enter
wait_for "filter: smoke-tests"
keys n; keys Enter
wait_for "New command job"
wait_for "valid" 10
keys C-s
wait_for "Filter cleared" 10
wait_for "Jobs 2 of 2"
wait_for "display name  second-job" 10

keys q
wait_for "EXIT 0" 10
echo "tmux_smoke: OK"
