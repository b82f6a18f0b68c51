#!/usr/bin/env bash
# TAP test of `refmask segment` and `refmask model-init` end to end: a model directory built from
# the golden weights segments a real satellite image; bad input gets a clear error, not a crash.
# Usage: test-segment-cli.sh REFMASK SHARED_DIR
set -u
refmask=$1
shared=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
n=0
fails=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
not_ok() { n=$((n + 1)); fails=$((fails + 1)); echo "not ok $n - $1"; }
# expect_fail DESCRIPTION PATTERN CMD...: exit code 1 or 2 (never a signal) and PATTERN on stderr
expect_fail() {
  local desc=$1 pattern=$2
  shift 2
  "$@" >"$tmp/out" 2>"$tmp/err"
  local rc=$?
  if { [ $rc -eq 1 ] || [ $rc -eq 2 ]; } && grep -qi -- "$pattern" "$tmp/err"; then
    ok "$desc"
  else
    not_ok "$desc (rc $rc): $(head -c 300 "$tmp/err")"
  fi
}

if [ ! -f "$shared/golden/weights.safetensors" ]; then
  echo "1..0 # SKIP no golden set at $shared/golden"
  exit 0
fi
image="$shared/data/dubai-aerial/images/tile1_part001.jpg"
model="$tmp/model"

if "$refmask" model-init --config "$shared/golden/manifest.json" --weights "$shared/golden/weights.safetensors" \
    --tokenizer "$shared/golden/tiny.spm" --out "$model" >/dev/null; then ok "model-init from golden weights"; else not_ok "model-init"; fi
expect_fail "model-init refuses to overwrite" "exists" \
  "$refmask" model-init --config "$shared/golden/manifest.json" --tokenizer "$shared/golden/tiny.spm" --out "$model"

if "$refmask" segment --model "$model" --image "$image" --text "the largest building on the right" \
    --text "all water" --out-dir "$tmp/seg" --json >"$tmp/seg.json"; then ok "segment two expressions"; else not_ok "segment"; fi
for f in tile1_part001-0-mask.png tile1_part001-0-prior.png tile1_part001-1-mask.png; do
  if [ -s "$tmp/seg/$f" ]; then ok "wrote $f"; else not_ok "wrote $f"; fi
done
if grep -q '"bbox_xywh"' "$tmp/seg.json" && grep -q '"hiera"' "$tmp/seg.json"; then ok "json has bbox and timings"; else not_ok "json"; fi

# --device: cpu always works and says so; cuda without a usable GPU (this build without the
# backend, or a machine without a device) fails with the engine's reason, never falls back.
if "$refmask" segment --model "$model" --image "$image" --text "all water" --out-dir "$tmp/cpu" \
    --device cpu --json >"$tmp/cpu.json" && grep -Eq '"device" *: *"cpu"' "$tmp/cpu.json"; then
  ok "segment --device cpu"
else
  not_ok "segment --device cpu"
fi
if "$refmask" info | grep -q "^GPU at runtime: none"; then
  expect_fail "segment --device cuda without a GPU" "cannot segment on cuda: .*\(no CUDA\|no CUDA device\|has no CUDA backend\)" \
    "$refmask" segment --model "$model" --image "$image" --text "all water" --out-dir "$tmp/cuda" --device cuda
  if [ -e "$tmp/cuda" ] && ls "$tmp/cuda" | grep -q png; then not_ok "no output without a GPU"; else ok "no output without a GPU"; fi
elif "$refmask" segment --model "$model" --image "$image" --text "all water" --out-dir "$tmp/cuda" \
    --device cuda --json >"$tmp/cuda.json" && grep -Eq '"device" *: *"cuda"' "$tmp/cuda.json"; then
  ok "segment --device cuda on a GPU"
else
  not_ok "segment --device cuda on a GPU"
fi
expect_fail "segment --device with an unknown name is a usage error" "must be auto, cpu or cuda" \
  "$refmask" segment --model "$model" --image "$image" --text x --device gpu

expect_fail "missing model directory" "not a model directory" \
  "$refmask" segment --model "$tmp/nope" --image "$image" --text "x"
mkdir -p "$tmp/bad"
echo '{"sam_image_size": 256' >"$tmp/bad/config.json"
expect_fail "corrupt config.json" "config.json" "$refmask" segment --model "$tmp/bad" --image "$image" --text "x"
cp -r "$model" "$tmp/trunc"
head -c 100000 "$model/model.safetensors" >"$tmp/trunc/model.safetensors"
expect_fail "truncated weights" "model.safetensors" "$refmask" segment --model "$tmp/trunc" --image "$image" --text "x"
cp -r "$model" "$tmp/notok"
rm "$tmp/notok/sentencepiece.bpe.model"
expect_fail "missing tokenizer" "sentencepiece" "$refmask" segment --model "$tmp/notok" --image "$image" --text "x"
cp -r "$model" "$tmp/wrongcfg"
sed -i 's/"sam_dim": 32/"sam_dim": 64/' "$tmp/wrongcfg/config.json"
expect_fail "weights of another config name the wrong tensor" "wrong shape: visual_model" \
  "$refmask" segment --model "$tmp/wrongcfg" --image "$image" --text "x"

expect_fail "missing image" "tile-missing" "$refmask" segment --model "$model" --image "$tmp/tile-missing.jpg" --text "x"
: >"$tmp/empty.png"
expect_fail "zero-byte image" "empty.png" "$refmask" segment --model "$model" --image "$tmp/empty.png" --text "x"
head -c 2000 "$image" >"$tmp/cut.jpg"
"$refmask" segment --model "$model" --image "$tmp/cut.jpg" --text "x" --out-dir "$tmp/cut" >/dev/null 2>"$tmp/err"
rc=$?
if [ $rc -le 1 ]; then ok "truncated JPEG: no crash (rc $rc)"; else not_ok "truncated JPEG crashed (rc $rc)"; fi
# A PNG header claiming 100000 x 100000 pixels: refused before decoding.
printf '\x89PNG\r\n\x1a\n\x00\x00\x00\x0dIHDR\x00\x01\x86\xa0\x00\x01\x86\xa0\x08\x02\x00\x00\x00\x00\x00\x00\x00' >"$tmp/huge.png"
expect_fail "100000 x 100000 image" "huge.png" "$refmask" segment --model "$model" --image "$tmp/huge.png" --text "x"

expect_fail "empty text" "expression 1" "$refmask" segment --model "$model" --image "$image" --text ""
expect_fail "whitespace text" "expression 1" "$refmask" segment --model "$model" --image "$image" --text "   "
expect_fail "non-UTF-8 text" "UTF-8\\|byte sequence" "$refmask" segment --model "$model" --image "$image" --text $'the \xff\xfe building'
long=$(printf 'building %.0s' $(seq 1 200))
expect_fail "text longer than the position table" "expression 1" "$refmask" segment --model "$model" --image "$image" --text "$long"
expect_fail "no text" "required" "$refmask" segment --model "$model" --image "$image"

# Resume is exact: 2 steps + resume to 4 gives the same weights as 4 steps in one go (epoch
# order, random state for flips and black squares, optimizer state and step all restored).
refs="$shared/data/dubai-aerial/refs.jsonl"
targs=(--refs "$refs" --accum 2 --flips --black-squares --checkpoint-every 0)
if "$refmask" train --model "$model" --out "$tmp/r4" --steps 4 "${targs[@]}" >/dev/null \
    && "$refmask" train --model "$model" --out "$tmp/r22" --steps 2 "${targs[@]}" >/dev/null \
    && "$refmask" train --resume --out "$tmp/r22" --steps 4 "${targs[@]}" >/dev/null \
    && cmp -s "$tmp/r4/model.safetensors" "$tmp/r22/model.safetensors"; then
  ok "train 2 + resume 2 == train 4, bit for bit"
else
  not_ok "resume is not exact"
fi
# --recompute (each Hiera block re-run in the backward instead of keeping its activations) trains
# the same weights and optimizer state to the bit, and resumes like any run.
if "$refmask" train --model "$model" --out "$tmp/rc22" --steps 2 --recompute "${targs[@]}" >/dev/null \
    && "$refmask" train --resume --recompute --out "$tmp/rc22" --steps 4 "${targs[@]}" >/dev/null \
    && cmp -s "$tmp/r4/model.safetensors" "$tmp/rc22/model.safetensors" \
    && cmp -s "$tmp/r4/train-state.safetensors" "$tmp/rc22/train-state.safetensors"; then
  ok "train --recompute 2 + resume 2 == train 4, bit for bit"
else
  not_ok "train --recompute differs from train"
fi
expect_fail "train refuses to overwrite a model" "already holds a model" \
  "$refmask" train --model "$model" --out "$tmp/r4" --steps 1 "${targs[@]}"

# Ctrl+C: the run stops after the current step, writes a checkpoint and says how to resume.
"$refmask" train --model "$model" --out "$tmp/sig" --steps 100000 "${targs[@]}" >"$tmp/sig.out" 2>&1 &
pid=$!
for _ in $(seq 1 100); do grep -q "^step 2/" "$tmp/sig.out" && break; sleep 0.1; done
kill -INT $pid
wait $pid
rc=$?
if [ $rc -eq 130 ] && [ -s "$tmp/sig/train-state.safetensors" ] && grep -q "resume with --resume" "$tmp/sig.out"; then
  ok "SIGINT writes a checkpoint and exits 130"
else
  not_ok "SIGINT (rc $rc)"
fi

# A diverging run (absurd learning rate) stops at the first non-finite loss and keeps the last
# good checkpoint.
"$refmask" train --model "$model" --refs "$shared/data/dubai-aerial/refs.jsonl" --out "$tmp/nan" \
  --steps 6 --accum 1 --lr 1e30 --lr-bifit 1e30 --checkpoint-every 1 >/dev/null 2>"$tmp/err"
rc=$?
if [ $rc -eq 1 ] && grep -q "not finite" "$tmp/err" && grep -q '"step":"1"' <(head -c 4096 "$tmp/nan/train-state.safetensors" | tr -d '\0'); then
  ok "non-finite loss stops training, checkpoint of step 1 kept"
else
  not_ok "non-finite loss (rc $rc): $(head -c 200 "$tmp/err")"
fi

# Batch labelling into a project, then export.
samples="$(dirname "$0")/../../data/sample"
if "$refmask" project create "$tmp/p.refmask" >/dev/null && "$refmask" project import -q "$tmp/p.refmask" "$samples"; then
  ok "project create + import sample images"
else
  not_ok "project create + import"
fi
if "$refmask" label "$tmp/p.refmask" --model "$model" --text "all water" >"$tmp/label.out"; then ok "label"; else not_ok "label"; fi
if "$refmask" project stats "$tmp/p.refmask" | grep -q "4 candidate"; then ok "4 candidates stored"; else not_ok "candidates stored"; fi
expect_fail "label with an unknown status" "unknown status" "$refmask" label "$tmp/p.refmask" --model "$model" --text x --status bogus
if "$refmask" project export -q --format coco --status candidate "$tmp/p.refmask" "$tmp/export" && [ -s "$tmp/export/instances.json" ]; then
  ok "export the candidates as COCO"
else
  not_ok "export COCO"
fi

if "$refmask" project import -q --status accepted "$tmp/p.refmask" "$shared/data/dubai-aerial" \
    && "$refmask" eval --model "$model" --project "$tmp/p.refmask" --split val --limit 3 | grep -q "n 3"; then
  ok "eval --project on accepted annotations"
else
  not_ok "eval --project"
fi
if "$refmask" train --model "$model" --project "$tmp/p.refmask" --out "$tmp/tuned" --steps 1 --accum 1 >/dev/null \
    && [ -s "$tmp/tuned/model.safetensors" ]; then
  ok "train --project"
else
  not_ok "train --project"
fi

echo "1..$n"
[ $fails -eq 0 ]
