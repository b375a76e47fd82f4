#!/usr/bin/env bash
# Checks that this machine can host a metal3-scale-lab stack: `pulumi up` runs
# here and drives libvirt, minikube (kvm2), docker and the host firewall.
#
# Usage: check-prereqs.sh [--stack NAME]
#        check-prereqs.sh --remote USER@HOST [--address A] [--lab-address A] [--ports "P ..."] [--api-port P]
# Prints one line per requirement (OK or MISSING, with a hint) and exits 1 if
# anything is missing. Changes nothing. With --stack, also checks this host's
# CPUs, memory and free disk against what that stack needs (components/sizing.ts;
# needs `npm ci` first). With --remote, checks only a remote docker host (one of
# dockerHosts after the first), run on the lab host: ssh (BatchMode), its docker
# daemon over ssh, that it accepts each fleet port (default 8000 9900, the first
# sushy-tools and fake-ipa ports; python3 on the remote listens for the probe)
# from here at --address (default HOST), and, with --lab-address (dockerHosts[0].address),
# that it reaches this host's Ironic API port (the proxy's; python3 listens here).
set -uo pipefail

stack=""
remote=""
remote_address=""
lab_address=""
fleet_ports="8000 9900"
api_port=6385
need() { [[ -n "${2:-}" ]] || { echo "check-prereqs.sh: $1 needs a value" >&2; exit 2; }; }
while [[ $# -gt 0 ]]; do
  case "$1" in
    --stack) need "$1" "${2:-}"; stack="$2"; shift 2 ;;
    --remote) need "$1" "${2:-}"; remote="$2"; shift 2 ;;
    --address) need "$1" "${2:-}"; remote_address="$2"; shift 2 ;;
    --lab-address) need "$1" "${2:-}"; lab_address="$2"; shift 2 ;;
    --ports) need "$1" "${2:-}"; fleet_ports="$2"; shift 2 ;;
    --api-port) need "$1" "${2:-}"; api_port="$2"; shift 2 ;;
    -h|--help) sed -n '2,15p' "$0"; exit 0 ;;
    *) echo "check-prereqs.sh: unknown argument: $1" >&2; exit 2 ;;
  esac
done

missing=0

ok() { printf 'OK       %-22s %s\n' "$1" "$2"; }
miss() { printf 'MISSING  %-22s %s\n' "$1" "$2"; missing=$((missing + 1)); }
has() { command -v "$1" >/dev/null 2>&1; }
# First line of a command's output, for the OK column.
first_line() { "$@" 2>/dev/null | head -n 1; }
finish() {
  if [[ "$missing" -gt 0 ]]; then
    echo "$missing requirement(s) missing." >&2
    exit 1
  fi
  echo "All requirements met."
  exit 0
}

# A listener that accepts one connection within 15 s (probe target), and a connect that succeeds or not.
LISTEN_PY='import socket, sys; s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(("", int(sys.argv[1]))); s.listen(1); s.settimeout(15); print("listening", flush=True); s.accept()[0].close()'
CONNECT_PY='import socket, sys; socket.create_connection((sys.argv[1], int(sys.argv[2])), 5).close()'
rssh() { ssh -o BatchMode=yes -o ConnectTimeout=10 "$remote" "$@"; }

# probe_port NAME PORT: can this host connect to the remote's PORT? A container already on the port answers
# itself; otherwise a probe listener is started there for the check.
probe_port() {
  if python3 -c "$CONNECT_PY" "$remote_address" "$2" 2>/dev/null; then ok "$1" "$remote_address:$2 accepts connections from here"; return; fi
  fifo=$(mktemp -u); mkfifo "$fifo"
  rssh python3 -c "'$LISTEN_PY'" "$2" >"$fifo" 2>/dev/null &
  listener=$!
  if read -r -t 15 line <"$fifo" && [[ "$line" == listening ]] && python3 -c "$CONNECT_PY" "$remote_address" "$2" 2>/dev/null; then
    ok "$1" "$remote_address:$2 accepts connections from here"
  else
    miss "$1" "cannot connect to $remote_address:$2 from here: the remote host's firewall must accept TCP $2 from the lab host (README: Scale-out)"
  fi
  kill "$listener" 2>/dev/null; wait "$listener" 2>/dev/null; rm -f "$fifo"
}

if [[ -n "$remote" ]]; then
  [[ -n "$remote_address" ]] || remote_address="${remote#*@}"
  if rssh true 2>/dev/null; then
    ok "ssh $remote" "BatchMode login works"
  else
    miss "ssh $remote" "cannot log in without a prompt: set up key-based ssh for the user in dockerHosts[].url"
    finish
  fi
  if DOCKER_HOST="ssh://$remote" docker info >/dev/null 2>&1; then
    ok "docker on $remote" "the daemon answers over ssh (DOCKER_HOST=ssh://$remote)"
  else
    miss "docker on $remote" "DOCKER_HOST=ssh://$remote docker info fails: install Docker there and add $remote's user to the docker group"
  fi
  if rssh python3 -c pass 2>/dev/null; then
    for port in $fleet_ports; do probe_port "port $port" "$port"; done
  else
    miss "python3 on $remote" "needed there only for this check's port probes"
  fi
  if [[ -n "$lab_address" ]]; then
    # Reverse direction: the remote's fake-ipa calls the Ironic API proxy on the lab host.
    python3 -c "$LISTEN_PY" "$api_port" >/dev/null 2>&1 &
    here=$!
    sleep 1
    if rssh python3 -c "'$CONNECT_PY'" "$lab_address" "$api_port" 2>/dev/null; then
      ok "reach $lab_address" "$remote reaches this host's Ironic API port $api_port"
    else
      miss "reach $lab_address" "$remote cannot connect to $lab_address:$api_port: route it, and let this host's firewall accept it (the lab opens it with remote dockerHosts)"
    fi
    kill "$here" 2>/dev/null; wait "$here" 2>/dev/null
  fi
  finish
fi

if [[ "$(uname -s)" == Linux ]]; then
  ok "linux" "$(uname -sr)"
else
  miss "linux" "the lab needs a Linux host with KVM (this is $(uname -s))"
fi

if [[ -c /dev/kvm && -r /dev/kvm && -w /dev/kvm ]]; then
  ok "kvm" "/dev/kvm is usable"
elif [[ -e /dev/kvm ]]; then
  miss "kvm" "/dev/kvm exists but is not read/writable: add yourself to the kvm group (sudo usermod -aG kvm \$USER) and log in again"
else
  miss "kvm" "no /dev/kvm: enable virtualization (VT-x/AMD-V, nested virt on a VM) and load kvm_intel or kvm_amd"
fi

if has virsh; then
  ok "virsh" "$(first_line virsh --version)"
  # Reaching qemu:///system proves the daemon runs (libvirtd or modular virtqemud) and we may use it.
  if virsh -c qemu:///system version >/dev/null 2>&1; then
    ok "libvirt daemon" "qemu:///system reachable"
    if virsh -c qemu:///system net-info default >/dev/null 2>&1; then
      ok "libvirt default net" "minikube's kvm2 driver puts its second NIC (eth1) on it"
    else
      miss "libvirt default net" "minikube kvm2 needs the libvirt network 'default': sudo virsh net-define /usr/share/libvirt/networks/default.xml && sudo virsh net-autostart default && sudo virsh net-start default"
    fi
  else
    miss "libvirt daemon" "cannot reach qemu:///system: start it (sudo systemctl enable --now libvirtd) and join the libvirt group (sudo usermod -aG libvirt \$USER)"
  fi
else
  miss "virsh" "install libvirt (Debian/Ubuntu: libvirt-daemon-system libvirt-clients; RHEL/Fedora: libvirt)"
fi

if has docker; then
  if docker info >/dev/null 2>&1; then
    ok "docker" "$(first_line docker version --format 'client {{.Client.Version}}, daemon {{.Server.Version}}')"
  else
    miss "docker daemon" "docker CLI found but the daemon is not reachable: sudo systemctl enable --now docker; sudo usermod -aG docker \$USER"
  fi
else
  miss "docker" "install Docker Engine: https://docs.docker.com/engine/install/"
fi

if has minikube; then
  ok "minikube" "$(first_line minikube version --short)"
else
  miss "minikube" "install minikube: https://minikube.sigs.k8s.io/docs/start/ (the kvm2 driver is fetched on first use)"
fi

if has kubectl; then
  ok "kubectl" "$(first_line kubectl version --client)"
else
  miss "kubectl" "install kubectl: https://kubernetes.io/docs/tasks/tools/"
fi

# capi mode downloads clusterctl at the pinned CAPI release itself and verifies it against the
# SHA-256 digest GitHub publishes for the release asset: it needs curl, sha256sum and node.
for tool in curl sha256sum node; do
  if has "$tool"; then
    ok "$tool" "$(first_line "$tool" --version)"
  else
    miss "$tool" "needed to fetch and verify clusterctl (capi mode): install $tool"
  fi
done

if has pulumi; then
  ok "pulumi" "$(first_line pulumi version)"
else
  miss "pulumi" "install the Pulumi CLI: curl -fsSL https://get.pulumi.com | sh"
fi

# Same choice as HostNetwork: firewalld when it runs, iptables otherwise.
if has firewall-cmd && [[ "$(firewall-cmd --state 2>/dev/null)" == running ]]; then
  ok "firewall" "firewalld is running"
elif has iptables || [[ -x /usr/sbin/iptables || -x /sbin/iptables ]]; then
  ok "firewall" "iptables (firewalld not running)"
else
  miss "firewall" "install firewalld (RHEL/Fedora) or iptables (Debian/Ubuntu) so the lab can open its ports"
fi

# Firewall rules need root; Pulumi runs as you (minikube refuses root with kvm2).
if [[ "$(id -u)" -eq 0 ]]; then
  ok "root" "running as root"
elif has sudo && sudo -n true 2>/dev/null; then
  ok "sudo" "passwordless sudo works"
else
  miss "sudo" "the firewall commands run 'sudo -n': allow passwordless sudo for this user"
fi

if [[ -n "$stack" ]]; then
  repo="$(cd "$(dirname "$0")/.." && pwd)"
  if need=$(cd "$repo" && npx --no-install tsx scripts/sizing.ts "$stack" 2>&1); then
    read -r need_cpus need_mib need_gib <<<"$need"
    have_cpus=$(nproc)
    have_mib=$(( $(awk '/^MemTotal:/ {print $2}' /proc/meminfo) / 1024 ))
    # minikube keeps the VM disk under ~/.minikube; the images live under Docker's root: one filesystem assumed.
    have_gib=$(( $(df -Pk "$HOME" | awk 'NR==2 {print $4}') / 1024 / 1024 ))
    check() { # name have need unit
      if [[ "$2" -ge "$3" ]]; then ok "$1" "$2 $4 (stack $stack needs $3)"; else miss "$1" "$2 $4, stack $stack needs $3 (README: What a lab costs)"; fi
    }
    check "cpus" "$have_cpus" "$need_cpus" "CPUs"
    check "memory" "$have_mib" "$need_mib" "MiB"
    check "disk" "$have_gib" "$need_gib" "GiB free under \$HOME"
  else
    miss "stack $stack" "cannot size it: ${need//$'\n'/ } (run npm ci first)"
  fi
fi

finish
