#!/usr/bin/env bash
# Checks that this machine can host a metal3-scale-lab stack: `pulumi up` runs
# here and drives libvirt, minikube (kvm2), docker and the host firewall.
#
# Usage: check-prereqs.sh [--stack NAME]
# Prints one line per requirement (OK or MISSING, with a hint) and exits 1 if
# anything is missing. Changes nothing. With --stack, also checks this host's
# CPUs, memory and free disk against what that stack needs (components/sizing.ts;
# needs `npm ci` first).
set -uo pipefail

stack=""
while [[ $# -gt 0 ]]; do
  case "$1" in
    --stack) stack="${2:-}"; [[ -n "$stack" ]] || { echo "check-prereqs.sh: --stack needs a name" >&2; exit 2; }; shift 2 ;;
    -h|--help) sed -n '2,9p' "$0"; exit 0 ;;
    *) echo "check-prereqs.sh: unknown argument: $1" >&2; exit 2 ;;
  esac
done

missing=0

ok() { printf 'OK       %-22s %s\n' "$1" "$2"; }
miss() { printf 'MISSING  %-22s %s\n' "$1" "$2"; missing=$((missing + 1)); }
has() { command -v "$1" >/dev/null 2>&1; }
# First line of a command's output, for the OK column.
first_line() { "$@" 2>/dev/null | head -n 1; }

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

if [[ "$missing" -gt 0 ]]; then
  echo "$missing requirement(s) missing." >&2
  exit 1
fi
echo "All requirements met."
