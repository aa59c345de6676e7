# shellcheck shell=bash
#
# Start and stop the local emulators used by the tests. Source this file:
#
#   source scripts/lib/emulators.sh
#   trap emulators_stop EXIT
#   emulators_start 18080 19099 demo-threadsfn
#
# - Firestore: the Cloud Firestore emulator from the Debian package
#   google-cloud-cli-firestore-emulator (Java), started with firestore.rules.
# - Auth: the Firebase CLI's Auth emulator (firebase-tools from node_modules),
#   with a generated firebase.json so that its port can differ from the
#   developer ports in the repository's firebase.json.
#
# Each emulator runs in its own session/process group (setsid) and is stopped by
# that group id, so no child (e.g. java under a wrapper script) is left behind.
# Logs and the generated config go to a temporary directory, removed by
# emulators_stop unless THREADSFN_KEEP_EMULATOR_LOGS=1.
#
# Tunables (environment):
#   THREADSFN_FIRESTORE_EMULATOR_DIR  where cloud-firestore-emulator.jar lives
#   THREADSFN_EMULATOR_TIMEOUT        seconds to wait for each emulator (default 90)
#   THREADSFN_KEEP_EMULATOR_LOGS=1    keep the log directory after stopping
#   JAVA                              java binary (default: java)

_EMU_LIB_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
_EMU_REPO_ROOT="$(cd "${_EMU_LIB_DIR}/../.." && pwd)"

_EMU_TMP=""
_EMU_FS_PGID=""
_EMU_AUTH_PGID=""
_EMU_KEEP_LOGS=""
_EMU_T0=0

_emu_log() { printf '[emulators] %s\n' "$*" >&2; }

# _emu_port_busy PORT: true if something listens on TCP PORT (any address).
_emu_port_busy() {
  local port="$1"
  if command -v ss >/dev/null 2>&1; then
    [[ -n "$(ss -Hltn "sport = :${port}" 2>/dev/null)" ]]
  else
    # No ss: try to connect on the loopback address the emulators bind to.
    (exec 3<>"/dev/tcp/127.0.0.1/${port}") 2>/dev/null
  fi
}

_emu_check_port() {
  local port="$1" what="$2"
  if _emu_port_busy "${port}"; then
    _emu_log "ERROR: port ${port} (${what} emulator) is already in use."
    if command -v ss >/dev/null 2>&1; then
      ss -Hltnp "sport = :${port}" 2>/dev/null | sed 's/^/[emulators]   /' >&2 || true
    fi
    _emu_log "  Find the process with:  ss -ltnp 'sport = :${port}'"
    _emu_log "  then stop it by its PID (kill <pid>), or choose other ports (./scripts/test reads"
    _emu_log "  THREADSFN_TEST_FIRESTORE_PORT and THREADSFN_TEST_AUTH_PORT)."
    return 1
  fi
}

# _emu_spawn NAME LOGFILE CMD...: runs CMD in a new session (its own process
# group) with stdin from /dev/null and output to LOGFILE; prints the group id.
# The child writes its own PID before exec'ing CMD, so the PID we keep is the
# session leader's whether or not setsid had to fork.
_emu_spawn() {
  local name="$1" logfile="$2"
  shift 2
  local pidfile="${_EMU_TMP}/${name}.pid"
  rm -f "${pidfile}"
  # shellcheck disable=SC2016 # expanded by the child shell
  setsid bash -c 'echo "$$" >"$0"; exec "$@"' "${pidfile}" "$@" \
    </dev/null >"${logfile}" 2>&1 &
  local i
  for ((i = 0; i < 100; i++)); do
    if [[ -s "${pidfile}" ]]; then
      cat "${pidfile}"
      return 0
    fi
    sleep 0.05
  done
  _emu_log "ERROR: could not start ${name} (no pid after 5 s)"
  return 1
}

_emu_alive() { [[ -n "$1" ]] && kill -0 -- "-$1" 2>/dev/null; }

# _emu_wait NAME PGID LOGFILE TIMEOUT CHECK...: polls CHECK until it succeeds,
# the process group dies, or TIMEOUT seconds pass.
_emu_wait() {
  local name="$1" pgid="$2" logfile="$3" timeout="$4"
  shift 4
  local start=${SECONDS} next_note=$((SECONDS + 10))
  while true; do
    if "$@"; then
      _emu_log "${name} ready ($((SECONDS - _EMU_T0)) s after start)"
      return 0
    fi
    if ! _emu_alive "${pgid}"; then
      _emu_log "ERROR: ${name} emulator exited during startup. Last lines of ${logfile}:"
      tail -n 40 "${logfile}" | sed 's/^/    /' >&2 || true
      return 1
    fi
    if ((SECONDS - start >= timeout)); then
      _emu_log "ERROR: ${name} emulator not ready after ${timeout} s. Last lines of ${logfile}:"
      tail -n 40 "${logfile}" | sed 's/^/    /' >&2 || true
      return 1
    fi
    if ((SECONDS >= next_note)); then
      _emu_log "  still waiting for ${name} ($((SECONDS - start)) s)..."
      next_note=$((SECONDS + 10))
    fi
    sleep 0.5
  done
}

_emu_firestore_ready() {
  [[ "$(curl -s --max-time 2 "http://127.0.0.1:$1/" 2>/dev/null)" == Ok* ]]
}

_emu_auth_ready() {
  # The Auth emulator answers GET / with a small JSON document.
  local code
  code="$(curl -s -o /dev/null --max-time 2 -w '%{http_code}' "http://127.0.0.1:$1/" 2>/dev/null)" || return 1
  [[ "${code}" == 200 ]]
}

# Stop what was started and keep the logs for a look.
_emu_start_failed() {
  _EMU_KEEP_LOGS=1
  emulators_stop
}

# emulators_start FIRESTORE_PORT AUTH_PORT PROJECT_ID
emulators_start() {
  if (($# != 3)); then
    _emu_log "usage: emulators_start <firestore_port> <auth_port> <project_id>"
    return 2
  fi
  local fs_port="$1" auth_port="$2" project="$3"
  local timeout="${THREADSFN_EMULATOR_TIMEOUT:-90}"
  local fs_dir="${THREADSFN_FIRESTORE_EMULATOR_DIR:-/usr/lib/google-cloud-sdk/platform/cloud-firestore-emulator}"
  local fs_jar="${fs_dir}/cloud-firestore-emulator.jar"
  local rules="${_EMU_REPO_ROOT}/firestore.rules"
  local firebase_bin="${_EMU_REPO_ROOT}/node_modules/.bin/firebase"
  local java="${JAVA:-java}"

  if [[ -n "${_EMU_FS_PGID}${_EMU_AUTH_PGID}" ]]; then
    _emu_log "ERROR: emulators already started by this shell; call emulators_stop first"
    return 1
  fi

  # --- Preconditions, all checked before anything starts. -------------------
  local ok=1
  if [[ ! -f "${fs_jar}" ]]; then
    _emu_log "ERROR: the Firestore emulator is not installed: ${fs_jar} is missing."
    _emu_log "  It ships as the Debian package google-cloud-cli-firestore-emulator"
    _emu_log "  (apt-get install google-cloud-cli-firestore-emulator), or set"
    _emu_log "  THREADSFN_FIRESTORE_EMULATOR_DIR to the directory holding cloud-firestore-emulator.jar."
    ok=0
  fi
  if ! command -v "${java}" >/dev/null 2>&1; then
    _emu_log "ERROR: '${java}' not found: the Firestore emulator needs Java 17 or newer."
    ok=0
  fi
  if [[ ! -x "${firebase_bin}" ]]; then
    _emu_log "ERROR: ${firebase_bin} not found: run 'npm ci' in ${_EMU_REPO_ROOT} first."
    ok=0
  fi
  if [[ ! -f "${rules}" ]]; then
    _emu_log "ERROR: ${rules} not found."
    ok=0
  fi
  local tool
  for tool in curl setsid; do
    if ! command -v "${tool}" >/dev/null 2>&1; then
      _emu_log "ERROR: '${tool}' is required but not installed."
      ok=0
    fi
  done
  if [[ "${fs_port}" == "${auth_port}" ]]; then
    _emu_log "ERROR: Firestore and Auth ports must differ (both ${fs_port})."
    ok=0
  fi
  _emu_check_port "${fs_port}" Firestore || ok=0
  _emu_check_port "${auth_port}" Auth || ok=0
  ((ok)) || return 1

  _EMU_TMP="$(mktemp -d "${TMPDIR:-/tmp}/threadsfn-emulators.XXXXXX")"
  _EMU_KEEP_LOGS=""
  _EMU_T0=${SECONDS}
  _emu_log "logs in ${_EMU_TMP}"

  # --- Firestore: run the java command line of cloud_firestore_emulator
  # directly, so the process group holds the JVM itself. ---------------------
  _emu_log "starting Firestore emulator on 127.0.0.1:${fs_port} (rules: firestore.rules)"
  _EMU_FS_PGID="$(_emu_spawn firestore "${_EMU_TMP}/firestore.log" \
    "${java}" -Duser.language=en -cp "${fs_jar}" \
    com.google.cloud.datastore.emulator.firestore.CloudFirestore start \
    --host=127.0.0.1 --port="${fs_port}" --rules="${rules}")" || {
    _emu_start_failed
    return 1
  }

  # --- Auth: firebase-tools with a generated config for the chosen port. -----
  # singleProjectMode off: the benchmark gives each measurement a project of
  # its own (bench/project.go), and in single-project mode the emulator
  # logs a warning on every request for another project.
  mkdir -p "${_EMU_TMP}/firebase" "${_EMU_TMP}/tmp"
  cat >"${_EMU_TMP}/firebase/firebase.json" <<EOF
{
  "emulators": {
    "singleProjectMode": false,
    "auth": { "host": "127.0.0.1", "port": ${auth_port} },
    "ui": { "enabled": false }
  }
}
EOF
  _emu_log "starting Auth emulator on 127.0.0.1:${auth_port} (project ${project})"
  # cwd = the generated config's directory, so firebase-debug.log lands there.
  # TMPDIR: the CLI keeps an "emulator hub" locator file per project in the
  # temp dir; a private one keeps it from clashing with a developer's
  # `firebase emulators:start` for the same project.
  # CI=true: firebase-tools then skips its MOTD/remote-config fetch
  # (lib/fetchMOTD.js) and update-notifier-cjs its update check (is-ci);
  # NO_UPDATE_NOTIFIER is update-notifier's own switch. None of these talk
  # to the network otherwise, and both are harmless offline.
  _EMU_AUTH_PGID="$(cd "${_EMU_TMP}/firebase" && _emu_spawn auth "${_EMU_TMP}/auth.log" \
    env CI=true NO_UPDATE_NOTIFIER=1 METADATA_SERVER_DETECTION=none \
    TMPDIR="${_EMU_TMP}/tmp" \
    "${firebase_bin}" emulators:start --only auth --project "${project}" \
    --config "${_EMU_TMP}/firebase/firebase.json")" || {
    _emu_start_failed
    return 1
  }

  # --- Readiness. ------------------------------------------------------------
  _emu_log "waiting for Firestore (up to ${timeout} s)..."
  if ! _emu_wait Firestore "${_EMU_FS_PGID}" "${_EMU_TMP}/firestore.log" "${timeout}" \
    _emu_firestore_ready "${fs_port}"; then
    _emu_start_failed
    return 1
  fi
  _emu_log "waiting for Auth (up to ${timeout} s)..."
  if ! _emu_wait Auth "${_EMU_AUTH_PGID}" "${_EMU_TMP}/auth.log" "${timeout}" \
    _emu_auth_ready "${auth_port}"; then
    _emu_start_failed
    return 1
  fi

  export FIRESTORE_EMULATOR_HOST="127.0.0.1:${fs_port}"
  export FIREBASE_AUTH_EMULATOR_HOST="127.0.0.1:${auth_port}"
  export GOOGLE_CLOUD_PROJECT="${project}"
  # Node's Google libraries otherwise probe the GCE metadata server.
  export METADATA_SERVER_DETECTION=none
  _emu_log "FIRESTORE_EMULATOR_HOST=${FIRESTORE_EMULATOR_HOST} FIREBASE_AUTH_EMULATOR_HOST=${FIREBASE_AUTH_EMULATOR_HOST} GOOGLE_CLOUD_PROJECT=${GOOGLE_CLOUD_PROJECT}"
}

# _emu_gone_within PGID TENTHS: true once the group has exited, polled every
# 0.1 s for up to TENTHS tenths of a second.
_emu_gone_within() {
  local i
  for ((i = 0; i < $2; i++)); do
    _emu_alive "$1" || return 0
    sleep 0.1
  done
  return 1
}

# _emu_kill_group NAME PGID: TERM the group, wait up to 10 s, then KILL.
_emu_kill_group() {
  local name="$1" pgid="$2"
  [[ -n "${pgid}" ]] || return 0
  _emu_alive "${pgid}" || return 0
  _emu_log "stopping ${name} emulator (process group ${pgid})"
  kill -TERM -- "-${pgid}" 2>/dev/null || true
  _emu_gone_within "${pgid}" 100 && return 0
  _emu_log "${name} emulator still running after 10 s: sending KILL"
  kill -KILL -- "-${pgid}" 2>/dev/null || true
  _emu_gone_within "${pgid}" 50 && return 0
  _emu_log "WARNING: ${name} emulator process group ${pgid} did not exit"
}

# emulators_stop: stop whatever emulators_start started. Idempotent; safe in
# `trap emulators_stop EXIT`.
emulators_stop() {
  _emu_kill_group Auth "${_EMU_AUTH_PGID}"
  _emu_kill_group Firestore "${_EMU_FS_PGID}"
  _EMU_AUTH_PGID=""
  _EMU_FS_PGID=""
  if [[ -n "${_EMU_TMP}" && -d "${_EMU_TMP}" ]]; then
    if [[ "${THREADSFN_KEEP_EMULATOR_LOGS:-}" == 1 || -n "${_EMU_KEEP_LOGS}" ]]; then
      _emu_log "emulator logs kept in ${_EMU_TMP}"
    else
      rm -rf "${_EMU_TMP}"
    fi
  fi
  _EMU_TMP=""
  return 0
}
