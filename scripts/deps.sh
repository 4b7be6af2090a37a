#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# scripts/deps.sh - install dtact's Debian build and test dependencies when
# they are missing.  As root it runs apt-get; otherwise it prints the exact
# apt-get line and exits 1.
set -eu
pkgs=(gcc make pkg-config libcriterion-dev libunwind-dev libbpf-dev clang
      llvm bpftool systemtap-sdt-dev libelf-dev zlib1g-dev python3 curl
      wrk microsocks procps golang-go gnuplot-nox proxychains4 iproute2
      bpftrace)
missing=()
for p in "${pkgs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
		missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
line="apt-get install -y --no-install-recommends ${missing[*]}"
if [ "$(id -u)" -ne 0 ]; then
	echo "dtact: missing build dependencies; as root run:" >&2
	echo "  apt-get update && $line" >&2
	exit 1
fi
echo "dtact: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
