#!/usr/bin/env bash
# Installs everything xlb needs to build, test and run, from Debian 12 packages only.
# Non-interactive and idempotent: packages already present are left as they are.
set -euo pipefail

if [[ $(id -u) -ne 0 ]]; then
  echo "bootstrap.sh: must run as root (it installs Debian packages)" >&2
  exit 1
fi

packages=(
  # build
  build-essential cmake ninja-build pkg-config git
  # BPF toolchain: clang -target bpf, libbpf, skeleton generation, uapi headers
  clang llvm libbpf-dev bpftool linux-libc-dev libelf-dev zlib1g-dev
  # control plane
  libgrpc++-dev libprotobuf-dev protobuf-compiler protobuf-compiler-grpc
  libabsl-dev libssl-dev openssl libcli11-dev libyaml-cpp-dev libmicrohttpd-dev
  # BGP announcement: gobgpd, and the .proto files of its API (C++ stubs are
  # generated from them at build time)
  gobgpd golang-github-osrg-gobgp-dev
  # tests and benchmarks
  libgtest-dev libgmock-dev libbenchmark-dev
  # lab: namespaces, veth, offload settings, test servers and clients
  iproute2 ethtool python3 curl procps util-linux kmod
  # scale-out lab: the router's BGP daemon (each LB host runs gobgpd, above)
  bird2
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done

if ((${#missing[@]})); then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

# The BPF filesystem is where xlbd pins programs and maps.
if ! mountpoint -q /sys/fs/bpf; then
  mount -t bpf bpf /sys/fs/bpf
fi
