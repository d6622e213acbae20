# Shared by scripts/dev and scripts/test: find Python, make .venv, install the project.
# shellcheck shell=bash

die() { echo "error: $*" >&2; exit 1; }

find_python() {
  # The distribution's interpreter first: Debian's is built with profile-guided and link-time optimisation,
  # as the official python images the Dockerfile deploys on are, and the gateway took 6-9 % less CPU per login on it than on
  # a default pyenv build (bench/README.md). Then whatever Python 3.11+ is on PATH. A candidate
  # must be able to make a venv (Debian splits that into python3.X-venv).
  for candidate in /usr/bin/python3.13 /usr/bin/python3.12 /usr/bin/python3.11 python3.13 python3.12 python3.11 python3; do
    if command -v "$candidate" >/dev/null 2>&1 &&
       "$candidate" -c 'import sys, ensurepip, venv; sys.exit(0 if sys.version_info >= (3, 11) else 1)' 2>/dev/null; then
      echo "$candidate"; return 0
    fi
  done
  die "Python 3.11 or newer, with its venv module, is needed (python3 --version; apt-get install python3-venv)"
}

apt_install() {
  # Install Debian packages when missing; quietly skip when apt-get or root is not available.
  local missing=()
  for pkg in "$@"; do dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg"); done
  [ ${#missing[@]} -eq 0 ] && return 0
  if ! command -v apt-get >/dev/null 2>&1; then
    echo "warning: cannot install ${missing[*]} (no apt-get)" >&2; return 1
  fi
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo -n"
  echo "installing ${missing[*]} with apt-get" >&2
  { $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}"; } >/dev/null ||
    { echo "warning: apt-get could not install ${missing[*]}" >&2; return 1; }
}

setup_venv() {
  # $1: pip extras, e.g. "[test]" or ""
  local python; python=$(find_python)
  if [ ! -x .venv/bin/python ]; then
    "$python" -m venv .venv || die "could not create .venv (on Debian: apt-get install python3-venv)"
  fi
  .venv/bin/python -m pip install --quiet --disable-pip-version-check --upgrade pip >/dev/null
  .venv/bin/python -m pip install --quiet --disable-pip-version-check -e ".$1" ||
    die "pip install failed"
}
