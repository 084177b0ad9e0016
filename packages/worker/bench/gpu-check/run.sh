#!/usr/bin/env bash
# GPU check, self-contained: runs where there is a GPU, Python, and no Node and no internet.
#   bash run.sh [--quick] [--out DIR] [--backend gpu|gl]
# Full mode takes well under 8 minutes on a data-centre GPU; --quick is the small-size run CI
# does on lavapipe (software Vulkan: add TOPS_ALLOW_SOFTWARE_GPU=1). Results: DIR/gpu-check.json
# and DIR/gpu-check.md (default DIR: ./results next to this script, or $OUT when set).
set -uo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
out="${OUT:-$here/results}"
quick=""; backend="gpu"
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) quick="--quick" ;;
    --out) out="$2"; shift ;;
    --backend) backend="$2"; shift ;;
    *) echo "unknown argument: $1" >&2; exit 64 ;;
  esac
  shift
done
mkdir -p "$out"
out="$(cd "$out" && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# 1. Node and dawn.node, shipped xz-compressed (Python's lzma, else xz).
unxz_to() {
  if command -v python3 >/dev/null; then
    python3 -c 'import lzma, shutil, sys; shutil.copyfileobj(lzma.open(sys.argv[1]), open(sys.argv[2], "wb"))' "$1" "$2"
  else
    xz -dc "$1" >"$2"
  fi
}
cp -r "$here/app" "$work/app"
unxz_to "$here/node.xz" "$work/node" && chmod +x "$work/node"
unxz_to "$here/dawn.node.xz" "$work/app/node_modules/webgpu/dist/linux-x64/dawn.node"
echo "node $("$work/node" --version)"

# 2. The Vulkan loader, unpacked privately when the system has none (the NVIDIA driver brings
#    the ICD, not always the loader). GPU_CHECK_BUNDLED_LOADER=1 forces it (to test this path).
if [ "${GPU_CHECK_BUNDLED_LOADER:-0}" = 1 ] || ! ldconfig -p 2>/dev/null | grep -q 'libvulkan.so.1'; then
  mkdir -p "$work/sysroot"
  for f in "$here"/debs/*.deb; do
    if command -v dpkg-deb >/dev/null; then dpkg-deb -x "$f" "$work/sysroot"; else
      # No dpkg: a .deb is an ar archive whose data.tar.xz holds the files.
      python3 - "$f" "$work/sysroot" <<'PY'
import io, sys, tarfile
data = open(sys.argv[1], "rb").read()
pos = 8
while pos < len(data):
    name = data[pos:pos + 16].decode().strip().rstrip("/")
    size = int(data[pos + 48:pos + 58].decode().strip())
    body = data[pos + 60:pos + 60 + size]
    if name.startswith("data.tar"):
        tarfile.open(fileobj=io.BytesIO(body)).extractall(sys.argv[2])
    pos += 60 + size + (size & 1)
PY
    fi
  done
  export LD_LIBRARY_PATH="$work/sysroot/usr/lib/x86_64-linux-gnu${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  echo "Vulkan loader: bundled ($(ls "$work/sysroot/usr/lib/x86_64-linux-gnu" | grep -c vulkan) files)"
fi
if ! ls /usr/share/vulkan/icd.d/*nvidia* /etc/vulkan/icd.d/*nvidia* >/dev/null 2>&1 \
  && [ -f /usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json ]; then
  export VK_DRIVER_FILES=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
  export VK_ICD_FILENAMES="$VK_DRIVER_FILES"
  export __EGL_VENDOR_LIBRARY_FILENAMES=/usr/local/nvidia/share/glvnd/egl_vendor.d/10_nvidia.json
fi
command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader

# 3. torch._int_mm at the same sizes, first, in this run (skipped with its reason without torch/CUDA).
if [ -n "$quick" ]; then sizes="128,256"; else sizes="1024,2048,4096,8192"; fi
if command -v python3 >/dev/null; then
  timeout 150 python3 "$here/torch_int_mm.py" --sizes "$sizes" --out "$work/torch.json" \
    || echo '{"ok": false, "reason": "torch_int_mm.py failed or timed out"}' >"$work/torch.json"
else
  echo '{"ok": false, "reason": "no python3 on this machine"}' >"$work/torch.json"
fi

# 4. The engine's check.
budget=330; [ -n "$quick" ] && budget=240
timeout $((budget + 60)) "$work/node" "$work/app/check.mjs" $quick --backend "$backend" \
  --out "$out" --torch "$work/torch.json" --budget-s "$budget"
rc=$?
cp "$work/torch.json" "$out/torch.json" 2>/dev/null
echo "results: $out/gpu-check.json, $out/gpu-check.md (exit $rc)"
exit $rc
