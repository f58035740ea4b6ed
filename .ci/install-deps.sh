#!/usr/bin/env bash
# Install what the real git hubs used by the tests need (see test/helpers/hubs.ts):
#   sshd (openssh-server), ssh + ssh-keygen (openssh-client), nginx (nginx-light),
#   fcgiwrap, openssl (self-signed certs, htpasswd hashes), iproute2, procps (ps), git,
#   faketime (libfaketime: the reliability suite's clock-skew scenario).
# Idempotent: exits at once when every binary is already present.
# Runs as root in CI, where only the package registries are reachable.
set -euo pipefail

need=(
  /usr/sbin/sshd
  /usr/bin/ssh
  /usr/bin/ssh-keygen
  /usr/sbin/nginx
  /usr/sbin/fcgiwrap
  /usr/bin/openssl
  /usr/bin/git
  /usr/bin/git-shell
  /usr/lib/git-core/git-http-backend
  /usr/bin/ps
  /usr/bin/faketime
)
# iproute2's `ip` lives in /usr/sbin or /sbin depending on the image.
have_ip() { command -v ip >/dev/null 2>&1 || [ -x /usr/sbin/ip ] || [ -x /sbin/ip ] || [ -x /usr/bin/ip ]; }

missing=()
for bin in "${need[@]}"; do
  [ -x "$bin" ] || missing+=("$bin")
done
have_ip || missing+=(ip)

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all hub binaries present"
  exit 0
fi

echo "install-deps: missing ${missing[*]}; installing packages"

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
    echo "install-deps: not root and no sudo; cannot install ${missing[*]}" >&2
    exit 1
  fi
fi

# Never let the packages' maintainer scripts start nginx/sshd/fcgiwrap services
# (nginx would grab port 80). Docker images usually ship such a policy already.
policy=/usr/sbin/policy-rc.d
made_policy=0
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' | $SUDO tee "$policy" >/dev/null
  $SUDO chmod 755 "$policy"
  made_policy=1
fi
cleanup() { if [ "$made_policy" = 1 ]; then $SUDO rm -f "$policy"; fi; }
trap cleanup EXIT

export DEBIAN_FRONTEND=noninteractive
log=$(mktemp)
if ! { $SUDO apt-get update -qq && $SUDO apt-get install -y -qq --no-install-recommends \
  -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold \
  openssh-server openssh-client nginx-light fcgiwrap openssl iproute2 procps git ca-certificates faketime; } >"$log" 2>&1; then
  echo "install-deps: apt-get failed:" >&2
  tail -n 40 "$log" >&2
  rm -f "$log"
  exit 1
fi
rm -f "$log"

still=()
for bin in "${need[@]}"; do
  [ -x "$bin" ] || still+=("$bin")
done
have_ip || still+=(ip)
if [ ${#still[@]} -ne 0 ]; then
  echo "install-deps: still missing after install: ${still[*]}" >&2
  exit 1
fi
echo "install-deps: installed hub packages"
