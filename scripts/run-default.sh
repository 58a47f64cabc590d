#!/bin/sh
# The default demonstration (`make run`): LMC, RLMC and PLMC on the ring8
# Gaussian mixture, written as HDF5 run files under results/.
set -eu
BIN=${1:-bin/langbench}
OUT=results/demo
mkdir -p "$OUT"
for s in lmc rlmc plmc:K=16 plmc:K=inf; do
  name=$(echo "$s" | tr ':=,' '___')
  "$BIN" sample --target gmm:preset=ring8 --sampler "$s" --step 0.05 \
    --steps 400 --chains 20000 --seed 1 --out "$OUT/ring8_$name.h5"
done
echo "run files in $OUT/ (h5dump -A $OUT/ring8_lmc.h5 shows the attributes)"
