#!/usr/bin/env bash
# Stop a lab started by start.sh: every ironic-api / ironic-conductor process
# group first, MariaDB last. SIGTERM, then SIGKILL after a timeout.
#
# Usage: stop.sh STATE_DIR [--wipe] [--timeout SECONDS]
#   --wipe            remove STATE_DIR afterwards (only if it looks like a lab dir)
#   --timeout S       grace period after SIGTERM, per phase (default 15)
#
# Idempotent: stopping a stopped (or never started) lab succeeds. Only
# processes recorded in STATE_DIR/pids, and only those whose command line
# mentions STATE_DIR, are signalled.
set -euo pipefail

die() { echo "stop.sh: $*" >&2; exit 1; }
log() { echo "stop.sh: $*"; }

[[ $# -ge 1 && "$1" != -* ]] || { sed -n '2,12p' "$0" >&2; exit 2; }
STATE_ARG="$1"; shift
WIPE=false
TIMEOUT=15
while [[ $# -gt 0 ]]; do
  case "$1" in
    --wipe) WIPE=true; shift ;;
    --timeout) TIMEOUT="$2"; shift 2 ;;
    *) die "unknown argument: $1" ;;
  esac
done
[[ "$TIMEOUT" =~ ^[0-9]+$ ]] || die "--timeout takes seconds"

if [[ ! -d "$STATE_ARG" ]]; then
  log "nothing to stop: $STATE_ARG does not exist"
  exit 0
fi
S="$(cd "$STATE_ARG" && pwd -P)"

# Members of process group $1 whose command line mentions the state dir.
group_members() {
  local pgid="$1" d stat rest fields args a
  for d in /proc/[0-9]*; do
    # bash builtins only: this runs for every process on every poll
    read -r stat 2>/dev/null <"$d/stat" || continue
    rest="${stat##*) }"                 # after "pid (comm) ": state ppid pgrp ...
    read -r -a fields <<<"$rest"
    [[ "${fields[2]:-}" == "$pgid" ]] || continue
    mapfile -d '' args 2>/dev/null <"$d/cmdline" || continue
    for a in "${args[@]}"; do
      if [[ "$a" == *"$S/"* ]]; then echo "${d#/proc/}"; break; fi
    done
  done
}

# Pids (leaders + members) still alive for the given pid-file names.
alive_pids() {
  local name pid
  for name in "$@"; do
    pid="$(cat "$S/pids/$name.pid" 2>/dev/null || true)"
    [[ "$pid" =~ ^[0-9]+$ ]] || continue
    group_members "$pid"
  done
}

# Still running (exists and is not a zombie)? Identity was checked when the
# pid was collected; an exiting process loses its cmdline before its sockets.
running_pid() {
  local stat rest
  read -r stat 2>/dev/null <"/proc/$1/stat" || return 1
  rest="${stat##*) }"
  [[ "${rest:0:1}" != "Z" && "${rest:0:1}" != "X" ]]
}

stop_phase() { # label names...
  local label="$1"; shift
  [[ $# -gt 0 ]] || return 0
  local pids p left
  mapfile -t pids < <(alive_pids "$@")
  if [[ ${#pids[@]} -eq 0 ]]; then return 0; fi
  log "stopping $label (${#pids[@]} processes)"
  kill -TERM "${pids[@]}" 2>/dev/null || true
  local deadline=$((SECONDS + TIMEOUT))
  while :; do
    left=()
    for p in "${pids[@]}"; do running_pid "$p" && left+=("$p"); done
    [[ ${#left[@]} -gt 0 ]] || return 0
    (( SECONDS < deadline )) || break
    sleep 0.2
  done
  log "$label still running after ${TIMEOUT}s: SIGKILL ${left[*]}"
  kill -KILL "${left[@]}" 2>/dev/null || true
  deadline=$((SECONDS + 10))
  while (( SECONDS < deadline )); do
    left=()
    for p in "${pids[@]}"; do running_pid "$p" && left+=("$p"); done
    [[ ${#left[@]} -gt 0 ]] || return 0
    sleep 0.2
  done
}

names_ironic=()
if [[ -d "$S/pids" ]]; then
  for f in "$S"/pids/api-*.pid "$S"/pids/conductor-*.pid; do
    if [[ -e "$f" ]]; then names_ironic+=("$(basename "$f" .pid)"); fi
  done
fi

stop_phase "ironic-api/ironic-conductor" "${names_ironic[@]}"
stop_phase "MariaDB" mariadb

mapfile -t left < <(alive_pids "${names_ironic[@]}" mariadb)
if [[ ${#left[@]} -gt 0 ]]; then
  die "processes still alive: ${left[*]}"
fi
rm -f "$S"/pids/*.pid 2>/dev/null || true

if $WIPE; then
  if [[ -f "$S/params" || -f "$S/lab.env" || -d "$S/pids" ]]; then
    rm -rf -- "$S"
    log "stopped; removed $S"
  else
    die "refusing to wipe $S: it does not look like an ironic-local state dir"
  fi
else
  log "stopped (state kept in $S)"
fi
