#!/usr/bin/env bash
# Create .venv at the repository root and install FusionLabel into it (idempotent).
#
#  - as root on Debian/Ubuntu: installs the system libraries Qt, OpenGL (Mesa) and open3d need,
#    plus Xvfb for headless GUI tests (skipped when they are all present);
#  - installs torch *before* the project so pip takes the pinned CPU build (see README);
#  - installs the locked dependencies (requirements/lock.txt) and the project editable.
set -euo pipefail
cd "$(dirname "$0")/.."

DEBS="xvfb xauth libusb-1.0-0 libgl1 libegl1 libgl1-mesa-dri libglib2.0-0 libfontconfig1 libdbus-1-3 \
libxkbcommon-x11-0 libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1 libxcb-image0 libxcb-render-util0 \
libxcb-randr0 libxcb-shape0 libxcb-xinerama0 libxcb-xkb1 libgomp1"

if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  missing=""
  for p in $DEBS; do dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"; done
  if [ -n "$missing" ]; then
    echo "setup: installing Debian packages:$missing"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing >/dev/null
  fi
elif ! command -v xvfb-run >/dev/null 2>&1; then
  echo "setup: not root: install these Debian packages yourself for the GUI and its tests: $DEBS" >&2
fi

PY=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PY" -m venv .venv
pip_quiet() {  # pip, minus this machine's warnings about unused local index folders
  .venv/bin/python -m pip --disable-pip-version-check -q "$@" 2>&1 | { grep -v "^WARNING: Location '" || true; }
}
PIP=pip_quiet
TORCH_VERSION=${FUSIONLABEL_TORCH:-2.13.0}
if ! .venv/bin/python -c "import torch" >/dev/null 2>&1; then
  echo "setup: installing torch==$TORCH_VERSION (CPU build where the machine has it)"
  $PIP install "torch==$TORCH_VERSION"
fi
stamp=.venv/.fusionlabel-installed
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ] || [ requirements/lock.txt -nt "$stamp" ]; then
  # the exact versions CI runs with (requirements/lock.txt, from pyproject.toml by pip-compile),
  # then the project itself; FUSIONLABEL_NO_LOCK=1 resolves the ranges of pyproject.toml instead
  if [ -z "${FUSIONLABEL_NO_LOCK:-}" ]; then
    echo "setup: installing the locked dependencies (requirements/lock.txt) into .venv"
    $PIP install -r requirements/lock.txt
    $PIP install --no-deps -e .
  else
    echo "setup: installing fusionlabel[gui,torch,dev,cluster,reference] into .venv"
    $PIP install -e ".[gui,torch,dev,cluster,reference]"
  fi
  # The consumers' own tools, for the export tests: nuscenes-devkit pins numpy<2 and shapely~=2.0.3,
  # vcd and TrackEval pull the full opencv-python (which clashes with opencv-python-headless and
  # PySide6); all three run on what the project installs, so they come without their pins (their
  # other dependencies are in the dev extra). Datumaro (CVAT's export library, for the CVAT round-trip
  # tests) pins older pandas and pyarrow: it too comes without its pins.
  $PIP install --no-deps "nuscenes-devkit==1.2.0" "vcd==6.0.3" "trackeval==1.3.0" "datumaro==1.13.12"
  touch "$stamp"
fi
