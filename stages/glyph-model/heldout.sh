#!/bin/sh
# The held-out synthetic set: a mixed part and one part per variation (seeds
# disjoint from training's). Usage: heldout.sh PYTHON OUT
set -e
PY=$1; OUT=$2
DIR=$(dirname "$0")
rm -f "$OUT" "$OUT.json"
$PY "$DIR/gen.py" --seed 1000 --lines 500 --preset mixed --out "$OUT" --append
i=1001
for p in clean cap-0.8 cap-1.15 width-0.85 width-1.15 cap-0.85-width-1.1 spread starved blur-2.5 blur-4.5 \
         noise-jpeg paper security edge dpi-200 dpi-600 cut-OCRB cut-OCRBS cut-OCRBL cut-OCRBF cut-OCRBE \
         cut-OCRBX raster-hinted raster-unhinted raster-mono; do
  $PY "$DIR/gen.py" --seed $i --lines 40 --preset $p --out "$OUT" --append
  i=$((i+1))
done
