#!/usr/bin/env bash
# Start a local, real, multi-conductor Ironic lab shaped like the real one:
# one MariaDB and N "Ironic pods", each pod = one ironic-api + one
# ironic-conductor on its own loopback IP, talking JSON-RPC on one shared port.
#
# Usage: start.sh STATE_DIR [options]
#   --conductors N      number of pods (api + conductor), default 3     (IRONIC_LAB_CONDUCTORS)
#   --subnet K          loopback base 127.0.K.0: MariaDB on 127.0.K.1,
#                       pod i (1..N) on 127.0.K.(1+i); default 0       (IRONIC_LAB_SUBNET)
#   --api-port P        ironic-api port on every pod IP, default 6385   (IRONIC_LAB_API_PORT)
#   --json-rpc-port P   json-rpc port on every pod IP, default 8089     (IRONIC_LAB_JSON_RPC_PORT)
#   --db-port P         MariaDB port on 127.0.K.1, default 13306        (IRONIC_LAB_DB_PORT)
#   --api-workers N     ironic-api worker processes per pod, default 1  (IRONIC_LAB_API_WORKERS)
#   --tls               also create a CA and a server certificate (SAN = every
#                       lab IP) in STATE_DIR/tls, for a TLS proxy in front of the APIs
#   --tls-san LIST      more subjectAltName entries for that certificate, e.g.
#                       IP:10.0.0.1 (comma-separated; a TCP proxy's address)
#   --wait SECONDS      wait until every API answers on / (default: don't wait)
#   --extra-config FILE oslo.config file read by every ironic-api/conductor after
#                       the generated common.conf (its options win), e.g. a test
#                       enabling more interfaces; copied into STATE_DIR/etc
#   --heartbeat I,T     conductor heartbeat every I s, offline after T s (default 5,20
#                       with the hash ring reset every 15 s, orphaned reservations checked
#                       every 60 s); given, those two run every T/2 s, so a dead
#                       conductor's nodes move to the live ones in about 1.5*T s
#
# Idempotent: on a running lab it reports "running" and exits 0; processes
# that died are started again. Secrets (DB password, API password) are
# generated once per state dir (openssl rand) and kept in STATE_DIR/secrets (0600).
# Results: STATE_DIR/lab.env (shell) and STATE_DIR/lab.json (machine readable).
# Stop with stop.sh STATE_DIR [--wipe].
set -euo pipefail

die() { echo "start.sh: $*" >&2; exit 1; }
log() { echo "start.sh: $*"; }

[[ $# -ge 1 && "$1" != -* ]] || { sed -n '2,31p' "$0" >&2; exit 2; }
STATE_ARG="$1"; shift

CONDUCTORS="${IRONIC_LAB_CONDUCTORS:-3}"
SUBNET="${IRONIC_LAB_SUBNET:-0}"
API_PORT="${IRONIC_LAB_API_PORT:-6385}"
JSON_RPC_PORT="${IRONIC_LAB_JSON_RPC_PORT:-8089}"
DB_PORT="${IRONIC_LAB_DB_PORT:-13306}"
API_WORKERS="${IRONIC_LAB_API_WORKERS:-1}"
TLS=false
TLS_SAN=""
WAIT=0
EXTRA_CONFIG=""
HEARTBEAT=""
while [[ $# -gt 0 ]]; do
  case "$1" in
    --conductors) CONDUCTORS="$2"; shift 2 ;;
    --subnet) SUBNET="$2"; shift 2 ;;
    --api-port) API_PORT="$2"; shift 2 ;;
    --json-rpc-port) JSON_RPC_PORT="$2"; shift 2 ;;
    --db-port) DB_PORT="$2"; shift 2 ;;
    --api-workers) API_WORKERS="$2"; shift 2 ;;
    --tls) TLS=true; shift ;;
    --tls-san) TLS_SAN="$2"; shift 2 ;;
    --wait) WAIT="$2"; shift 2 ;;
    --extra-config) EXTRA_CONFIG="$2"; shift 2 ;;
    --heartbeat) HEARTBEAT="$2"; shift 2 ;;
    *) die "unknown argument: $1" ;;
  esac
done

is_int() { [[ "$1" =~ ^[0-9]+$ ]]; }
is_int "$CONDUCTORS" && (( CONDUCTORS >= 1 && CONDUCTORS <= 250 )) || die "--conductors must be 1..250 (got '$CONDUCTORS')"
is_int "$SUBNET" && (( SUBNET <= 255 )) || die "--subnet must be 0..255 (got '$SUBNET')"
for p in "$API_PORT" "$JSON_RPC_PORT" "$DB_PORT"; do
  is_int "$p" && (( p >= 1 && p <= 65535 )) || die "invalid port '$p'"
done
(( API_PORT != JSON_RPC_PORT )) || die "--api-port and --json-rpc-port must differ"
is_int "$API_WORKERS" && (( API_WORKERS >= 1 )) || die "--api-workers must be >= 1"
is_int "$WAIT" || die "--wait takes seconds"
[[ -z "$EXTRA_CONFIG" || -r "$EXTRA_CONFIG" ]] || die "--extra-config: cannot read '$EXTRA_CONFIG'"
HB_INTERVAL=5; HB_TIMEOUT=20; RING_RESET=15; CHECK_PROVISION=60
if [[ -n "$HEARTBEAT" ]]; then
  [[ "$HEARTBEAT" =~ ^([0-9]+),([0-9]+)$ ]] && (( BASH_REMATCH[1] >= 1 && BASH_REMATCH[2] >= 2 * BASH_REMATCH[1] )) \
    || die "--heartbeat takes INTERVAL,TIMEOUT in seconds, TIMEOUT >= 2*INTERVAL >= 2 (got '$HEARTBEAT')"
  HB_INTERVAL="${BASH_REMATCH[1]}"; HB_TIMEOUT="${BASH_REMATCH[2]}"
  # Takeover also waits for the hash ring to drop the dead conductor and for the orphaned-reservation check.
  RING_RESET=$(( HB_TIMEOUT / 2 )); CHECK_PROVISION=$(( HB_TIMEOUT / 2 ))
fi

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
"$HERE/install.sh" --check >/dev/null 2>&1 \
  || die "Ironic packages are missing; run $HERE/install.sh as root first"

mkdir -p "$STATE_ARG"
S="$(cd "$STATE_ARG" && pwd -P)"
PY=/usr/bin/python3   # the system python: it has bcrypt (an ironic dependency)

DB_IP="127.0.${SUBNET}.1"
pod_ip() { echo "127.0.${SUBNET}.$((1 + $1))"; }

# ---------------------------------------------------------------- processes
# pid files hold the pid of a session/process-group leader (started by setsid);
# a pid counts as ours only if its command line mentions this state dir.
pid_alive() {
  local f="$S/pids/$1.pid" pid
  [[ -s "$f" ]] || return 1
  pid="$(<"$f")"
  is_int "$pid" || return 1
  kill -0 "$pid" 2>/dev/null || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$S/"
}

spawn() { # name logfile cmd...
  local name="$1" logf="$2"; shift 2
  setsid "$@" </dev/null >>"$logf" 2>&1 &
  echo $! >"$S/pids/$name.pid"
}

# Describe the lab and refuse to change it under a running lab.
EXTRA_SUM=none
[[ -z "$EXTRA_CONFIG" ]] || EXTRA_SUM="$(cksum <"$EXTRA_CONFIG" | cut -d' ' -f1)"
PARAMS="conductors=$CONDUCTORS subnet=$SUBNET api_port=$API_PORT json_rpc_port=$JSON_RPC_PORT db_port=$DB_PORT api_workers=$API_WORKERS tls=$TLS tls_san=$TLS_SAN extra_config=$EXTRA_SUM heartbeat=$HEARTBEAT"
any_running=false
if [[ -d "$S/pids" ]]; then
  for f in "$S"/pids/*.pid; do
    [[ -e "$f" ]] || continue
    n="$(basename "$f" .pid)"
    if pid_alive "$n"; then any_running=true; fi
  done
fi
if $any_running && [[ -f "$S/params" ]] && [[ "$(<"$S/params")" != "$PARAMS" ]]; then
  die "a lab with other parameters is running in $S ($(<"$S/params")); stop it first"
fi

all_running=$any_running
if $any_running; then
  pid_alive mariadb || all_running=false
  for ((i = 1; i <= CONDUCTORS; i++)); do
    pid_alive "api-$i" || all_running=false
    pid_alive "conductor-$i" || all_running=false
  done
  if $all_running; then
    log "lab already running in $S ($PARAMS)"
    exit 0
  fi
  log "lab partly running in $S; starting the missing processes"
fi

umask 022
mkdir -p "$S"/{pids,log,etc,ironic,lock,mysql}
chmod 0755 "$S"
if [[ -f "$S/params" && "$(<"$S/params")" != "$PARAMS" ]]; then
  rm -f "$S/tls/server.pem"   # the certificate's SANs follow the pod IPs
fi
echo "$PARAMS" >"$S/params"
install -d -m 0700 "$S/secrets"

# --------------------------------------------------------------- secrets
gen_secret() { # file
  [[ -s "$1" ]] || (umask 077; openssl rand -hex 24 >"$1")
  chmod 0600 "$1"
}
gen_secret "$S/secrets/db-password"
gen_secret "$S/secrets/api-password"
DB_PASSWORD="$(<"$S/secrets/db-password")"
API_USER=admin
echo "$API_USER" >"$S/secrets/api-username"
if [[ ! -s "$S/secrets/htpasswd" || "$S/secrets/api-password" -nt "$S/secrets/htpasswd" ]]; then
  # bcrypt cost 5 (like `htpasswd -B`'s default): ironic checks it on EVERY request.
  (umask 077; API_USER="$API_USER" PWFILE="$S/secrets/api-password" "$PY" -c '
import bcrypt, os
pw = open(os.environ["PWFILE"]).read().strip().encode()
print(os.environ["API_USER"] + ":" + bcrypt.hashpw(pw, bcrypt.gensalt(rounds=5)).decode())
' >"$S/secrets/htpasswd.tmp") || die "could not generate the htpasswd file with $PY (python3-bcrypt)"
  mv -f "$S/secrets/htpasswd.tmp" "$S/secrets/htpasswd"
fi

# ------------------------------------------------------------------- TLS
if $TLS && [[ ! -s "$S/tls/server.pem" ]]; then
  mkdir -p "$S/tls"
  san="IP:$DB_IP"
  for ((i = 1; i <= CONDUCTORS; i++)); do san="$san,IP:$(pod_ip "$i")"; done
  [[ -z "$TLS_SAN" ]] || san="$san,$TLS_SAN"
  (
    cd "$S/tls"
    umask 077
    openssl req -x509 -newkey rsa:2048 -nodes -days 30 -sha256 \
      -keyout ca.key -out ca.pem -subj "/CN=metal3-scale-lab ironic-local CA" \
      -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
    openssl req -newkey rsa:2048 -nodes -sha256 -keyout server.key -out server.csr \
      -subj "/CN=$(pod_ip 1)" 2>/dev/null
    printf 'subjectAltName=%s\nbasicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n' "$san" >server.ext
    openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 30 -sha256 \
      -extfile server.ext -out server.pem 2>/dev/null
    rm -f server.csr server.ext
    chmod 0644 ca.pem server.pem
  ) || die "certificate generation failed"
fi

# --------------------------------------------------------------- MariaDB
MY_RUN="$S/mysql/run"
MY_DATA="$S/mysql/data"
MY_SOCK="$MY_RUN/mysqld.sock"
MY_USER_ARGS=()
if [[ "$(id -u)" -eq 0 ]]; then MY_USER_ARGS=(--user=mysql); fi
mkdir -p "$MY_RUN"
if [[ "$(id -u)" -eq 0 ]]; then
  chown mysql:mysql "$MY_RUN"
  # mariadbd drops to the mysql user: every directory above its data must be traversable by it
  # (a checkout under /root or in a mode-700 mktemp folder is not).
  if ! runuser -u mysql -- test -x "$MY_RUN" 2>/dev/null; then
    die "the mysql user cannot reach $MY_RUN: put the state dir where every parent directory is traversable (o+x), e.g. under /tmp"
  fi
fi

if [[ ! -d "$MY_DATA/mysql" ]]; then
  log "initialising MariaDB in $MY_DATA"
  rm -rf "$MY_DATA"
  mariadb-install-db --no-defaults "${MY_USER_ARGS[@]}" --datadir="$MY_DATA" \
    --skip-test-db --auth-root-authentication-method=socket >"$S/log/mariadb-install.log" 2>&1 \
    || { tail -n 30 "$S/log/mariadb-install.log" >&2; die "mariadb-install-db failed"; }
fi

if ! pid_alive mariadb; then
  log "starting MariaDB on $DB_IP:$DB_PORT"
  spawn mariadb "$S/log/mariadb.log" /usr/sbin/mariadbd --no-defaults "${MY_USER_ARGS[@]}" \
    --datadir="$MY_DATA" --bind-address="$DB_IP" --port="$DB_PORT" --socket="$MY_SOCK" \
    --pid-file="$MY_RUN/mariadbd.pid" --log-error="$MY_RUN/error.log" \
    --max-connections=500 --skip-name-resolve --character-set-server=utf8mb3 \
    --innodb-buffer-pool-size=64M --innodb-log-file-size=16M --innodb-flush-log-at-trx-commit=2
fi

SQL_USER=root
[[ "$(id -u)" -eq 0 ]] || SQL_USER="$(id -un)"
sql() { mariadb --no-defaults --protocol=socket --socket="$MY_SOCK" -u "$SQL_USER" -N -B "$@"; }

deadline=$((SECONDS + 60))
until mariadb-admin --no-defaults --protocol=socket --socket="$MY_SOCK" -u "$SQL_USER" ping >/dev/null 2>&1; do
  if ! pid_alive mariadb; then
    tail -n 30 "$MY_RUN/error.log" "$S/log/mariadb.log" >&2 2>/dev/null || true
    die "MariaDB exited during start-up (logs: $MY_RUN/error.log, $S/log/mariadb.log)"
  fi
  (( SECONDS < deadline )) || { tail -n 30 "$MY_RUN/error.log" >&2 2>/dev/null || true; die "MariaDB not ready after 60 s"; }
  sleep 0.3
done

sql <<SQL
CREATE DATABASE IF NOT EXISTS ironic CHARACTER SET utf8mb3 COLLATE utf8mb3_general_ci;
CREATE USER IF NOT EXISTS 'ironic'@'localhost' IDENTIFIED BY '$DB_PASSWORD';
CREATE USER IF NOT EXISTS 'ironic'@'127.%' IDENTIFIED BY '$DB_PASSWORD';
ALTER USER 'ironic'@'localhost' IDENTIFIED BY '$DB_PASSWORD';
ALTER USER 'ironic'@'127.%' IDENTIFIED BY '$DB_PASSWORD';
GRANT ALL PRIVILEGES ON ironic.* TO 'ironic'@'localhost';
GRANT ALL PRIVILEGES ON ironic.* TO 'ironic'@'127.%';
FLUSH PRIVILEGES;
SQL

# ---------------------------------------------------------------- config
umask 077   # config files carry the DB password
cat >"$S/etc/common.conf" <<CONF
# generated by scripts/ironic-local/start.sh -- common to every Ironic process
[DEFAULT]
auth_strategy = http_basic
http_basic_auth_user_file = $S/secrets/htpasswd
rpc_transport = json-rpc
enabled_hardware_types = fake-hardware
enabled_bios_interfaces = fake
enabled_boot_interfaces = fake
enabled_console_interfaces = fake
enabled_deploy_interfaces = fake
enabled_inspect_interfaces = fake
enabled_management_interfaces = fake
enabled_power_interfaces = fake
enabled_raid_interfaces = fake
enabled_rescue_interfaces = fake
enabled_vendor_interfaces = fake
enabled_network_interfaces = noop
enabled_storage_interfaces = noop
default_network_interface = noop
hash_ring_reset_interval = $RING_RESET
state_path = $S/ironic
graceful_shutdown_timeout = 5
use_stderr = true
debug = false

[database]
connection = mysql+pymysql://ironic:$DB_PASSWORD@$DB_IP:$DB_PORT/ironic?charset=utf8

[json_rpc]
auth_strategy = noauth
port = $JSON_RPC_PORT
use_ssl = false

[conductor]
automated_clean = false
heartbeat_interval = $HB_INTERVAL
heartbeat_timeout = $HB_TIMEOUT
check_provision_state_interval = $CHECK_PROVISION

[dhcp]
dhcp_provider = none

[oslo_concurrency]
lock_path = $S/lock

[oslo_middleware]
enable_proxy_headers_parsing = true
CONF

# Options a caller adds on top (read after common.conf, so they win).
EXTRA_ARGS=()
if [[ -n "$EXTRA_CONFIG" ]]; then
  cp -f -- "$EXTRA_CONFIG" "$S/etc/extra.conf"
  EXTRA_ARGS=(--config-file "$S/etc/extra.conf")
else
  rm -f "$S/etc/extra.conf"
fi

for ((i = 1; i <= CONDUCTORS; i++)); do
  ip="$(pod_ip "$i")"
  cat >"$S/etc/api-$i.conf" <<CONF
[DEFAULT]
host = $ip
my_ip = $ip

[api]
host_ip = $ip
port = $API_PORT
api_workers = $API_WORKERS
CONF
  cat >"$S/etc/conductor-$i.conf" <<CONF
[DEFAULT]
host = $ip
my_ip = $ip

[json_rpc]
host_ip = $ip
CONF
done
umask 022

# ---------------------------------------------------------------- schema
has_schema="$(sql -e "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema='ironic' AND table_name='alembic_version'")"
if [[ "$has_schema" == "0" ]]; then
  log "creating the Ironic schema"
  ironic-dbsync --config-file "$S/etc/common.conf" create_schema >"$S/log/dbsync.log" 2>&1 \
    || { tail -n 30 "$S/log/dbsync.log" >&2; die "ironic-dbsync create_schema failed"; }
else
  ironic-dbsync --config-file "$S/etc/common.conf" upgrade >"$S/log/dbsync.log" 2>&1 \
    || { tail -n 30 "$S/log/dbsync.log" >&2; die "ironic-dbsync upgrade failed"; }
fi

# ------------------------------------------------------------ Ironic pods
for ((i = 1; i <= CONDUCTORS; i++)); do
  ip="$(pod_ip "$i")"
  if ! pid_alive "conductor-$i"; then
    log "starting ironic-conductor $i (host $ip, json-rpc $ip:$JSON_RPC_PORT)"
    spawn "conductor-$i" "$S/log/conductor-$i.log" /usr/bin/ironic-conductor \
      --config-file "$S/etc/common.conf" "${EXTRA_ARGS[@]}" --config-file "$S/etc/conductor-$i.conf"
  fi
  if ! pid_alive "api-$i"; then
    log "starting ironic-api $i on http://$ip:$API_PORT"
    spawn "api-$i" "$S/log/api-$i.log" /usr/bin/ironic-api \
      --config-file "$S/etc/common.conf" "${EXTRA_ARGS[@]}" --config-file "$S/etc/api-$i.conf"
  fi
done

# ------------------------------------------------------------ description
endpoints=(); hosts=()
for ((i = 1; i <= CONDUCTORS; i++)); do
  endpoints+=("http://$(pod_ip "$i"):$API_PORT"); hosts+=("$(pod_ip "$i")")
done
json_list() { local out="" x; for x in "$@"; do out="$out${out:+, }\"$x\""; done; echo "[$out]"; }
{
  echo "IRONIC_LAB_STATE_DIR='$S'"
  echo "IRONIC_LAB_CONDUCTORS=$CONDUCTORS"
  echo "IRONIC_LAB_SUBNET=$SUBNET"
  echo "IRONIC_LAB_API_PORT=$API_PORT"
  echo "IRONIC_LAB_JSON_RPC_PORT=$JSON_RPC_PORT"
  echo "IRONIC_LAB_DB=$DB_IP:$DB_PORT"
  echo "IRONIC_LAB_ENDPOINTS='${endpoints[*]}'"
  echo "IRONIC_LAB_CONDUCTOR_HOSTS='${hosts[*]}'"
  echo "IRONIC_LAB_USERNAME_FILE='$S/secrets/api-username'"
  echo "IRONIC_LAB_PASSWORD_FILE='$S/secrets/api-password'"
  if $TLS; then echo "IRONIC_LAB_CA_FILE='$S/tls/ca.pem'"; fi
} >"$S/lab.env"
cat >"$S/lab.json" <<JSON
{
  "stateDir": "$S",
  "conductors": $CONDUCTORS,
  "subnet": $SUBNET,
  "apiPort": $API_PORT,
  "jsonRpcPort": $JSON_RPC_PORT,
  "db": "$DB_IP:$DB_PORT",
  "endpoints": $(json_list "${endpoints[@]}"),
  "conductorHosts": $(json_list "${hosts[@]}"),
  "usernameFile": "$S/secrets/api-username",
  "passwordFile": "$S/secrets/api-password",
  "tls": $( $TLS && echo "{\"caFile\": \"$S/tls/ca.pem\", \"certFile\": \"$S/tls/server.pem\", \"keyFile\": \"$S/tls/server.key\"}" || echo null )
}
JSON

if (( WAIT > 0 )); then
  log "waiting up to ${WAIT}s for the APIs"
  ENDPOINTS="${endpoints[*]}" WAIT="$WAIT" "$PY" - <<'PYEOF' || die "APIs not answering after ${WAIT}s (logs in $S/log)"
import os, time, urllib.request
deadline = time.time() + int(os.environ["WAIT"])
pending = os.environ["ENDPOINTS"].split()
while pending and time.time() < deadline:
    for url in list(pending):
        try:
            urllib.request.urlopen(url + "/", timeout=2).read()
            pending.remove(url)
        except Exception:
            pass
    if pending:
        time.sleep(0.5)
raise SystemExit(1 if pending else 0)
PYEOF
fi
log "lab started in $S: ${endpoints[*]}"
