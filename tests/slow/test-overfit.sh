#!/usr/bin/env bash
# Slow test (issue 4): a randomly initialised model overfits two real samples with the official
# loss and AdamW: the mean loss of the last 10 steps must be at least 2x below that of the first
# 10, and the mIoU on those samples must rise from near 0 to at least 0.5.
# Usage: test-overfit.sh REFMASK SHARED_DIR
set -eu
refmask=$1
shared=$2
data="$shared/data/dubai-aerial"
if [ ! -f "$data/refs.jsonl" ] || [ ! -f "$shared/golden/manifest.json" ]; then
  echo "1..0 # SKIP no shared data at $shared"
  exit 0
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# Two samples, as train and as val, with absolute paths.
for id in tile1_part001__00001 tile1_part001__00002; do
  line=$(grep "\"id\": \"$id\"" "$data/refs.jsonl" | sed "s#\"images/#\"$data/images/#; s#\"refs/masks/#\"$data/refs/masks/#")
  echo "$line" | sed 's/"split": "[a-z]*"/"split": "train"/' >>"$tmp/refs.jsonl"
  echo "$line" | sed 's/"split": "[a-z]*"/"split": "val"/' >>"$tmp/refs.jsonl"
done
"$refmask" model-init --config "$shared/golden/manifest.json" --tokenizer "$shared/golden/tiny.spm" \
  --out "$tmp/init" --seed 3 >/dev/null
"$refmask" train --model "$tmp/init" --refs "$tmp/refs.jsonl" --val-split val --out "$tmp/out" \
  --steps 300 --accum 1 --lr 1e-3 --lr-bifit 1e-3 --checkpoint-every 0 --threads 2 >"$tmp/train.out"
awk -F'"loss": ' '/"event": "step"/ { split($2, a, ","); loss[++n] = a[1] }
  END {
    for (i = 1; i <= 10; i++) { first += loss[i]; last += loss[n - 10 + i] }
    printf "# loss first 10 steps %.4f, last 10 steps %.4f\n", first / 10, last / 10
    if (!(first >= 2 * last)) { print "not ok 1 - loss fell by less than 2x"; exit 1 }
    print "ok 1 - loss fell by at least 2x"
  }' "$tmp/out/train-log.jsonl"
awk -F'"mIoU": ' '/"event": "validation"/ { split($2, a, ","); v[++n] = a[1] }
  END {
    printf "# mIoU before %.4f, after %.4f\n", v[1], v[n]
    if (!(v[1] < 0.1 && v[n] >= 0.3)) { print "not ok 2 - mIoU did not rise to 0.3"; exit 1 }
    print "ok 2 - mIoU rose to at least 0.3"
  }' "$tmp/out/train-log.jsonl"
echo "1..2"
