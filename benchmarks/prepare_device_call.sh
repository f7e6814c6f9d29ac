#!/usr/bin/env bash
# Lay out, in .device/ (ignored by git), what a lent GPU's call needs and its image lacks, to name in the call's
# `carry`: the three human slices and CPD tata from ../shared/data (the device cannot reach them), and wheels of
# `datasets` and the two packages it needs that the image does not hold (dill, multiprocess). Run it here, in the
# repository's root, before the call; docs/baselines.md gives the call.
set -euo pipefail
cd "$(dirname "$0")/.."
shared=${RANDOMMASK_TEST_DATA:-../shared/data}
rm -rf .device && mkdir -p .device/genomes .device/gue/prom .device/wheels
cp "$shared"/genomes/human_{chr22_20-21M,mito_rCRS_NC_012920,chr2_0-2.33M}.fa.gz .device/genomes/
cp -r "$shared"/gue/prom/prom_core_tata .device/gue/prom/
datasets_version=$(python -c "import datasets; print(datasets.__version__)")
python -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
    -d .device/wheels "datasets==$datasets_version" "dill<0.4.2" "multiprocess<0.70.20"
echo "wrote .device/ ($(du -sh .device | cut -f1)): name it in the device call's carry (docs/baselines.md)"
