#!/usr/bin/env bash
# Mutation testing of train/ data/ models/ jobs/ cli/ diagnostics/ reservoir/ with mutmut 3.8.1.
#
#   bash benchmarks/mutation.sh                 # N=350 mutants for each of SEEDS="0 1"
#   N=300 SEEDS=2 bash benchmarks/mutation.sh
#
# The whole set (~15,800 mutants) would take most of a day on 2 cores, so seeded random samples of
# N are run: a mutant's place in a seed's order is a hash of its name, so a sample stays the same
# when other code changes. mutmut runs each mutant in a forked process against only the tests that
# reach the mutated function (its stats pass), with a CPU-time limit scaled from those tests'
# duration. The CLI tests that start `python -m rnnkit` run the mutated copy too (PYTHONPATH).
# Writes mutants/ (ignored by git); one table per seed for benchmarks/RESULTS.md in mutants/report-SEED.md.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${N:-350}
SEEDS=${SEEDS:-0 1}
[ -x .venv/bin/python ] || make install
.venv/bin/python -m pip install --quiet mutmut==3.8.1
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1          # forked test processes share nothing threaded
export PYTHONPATH="$PWD/mutants/src"                  # subprocesses import the mutated copy
export TORCH_EXTENSIONS_DIR="$PWD/mutants/.torch_extensions"  # its kernels build apart from src/'s
start=$(date +%s)
rm -rf mutants
mkdir -p mutants
for seed in $SEEDS; do
    .venv/bin/python benchmarks/mutation.py sample --n "$N" --seed "$seed" --out "mutants/sample-$seed.txt"
done
mapfile -t sample < <(sort -u mutants/sample-*.txt)
.venv/bin/mutmut run --max-children 2 "${sample[@]}"
.venv/bin/mutmut export-cicd-stats
for seed in $SEEDS; do
    .venv/bin/python benchmarks/mutation.py report "mutants/sample-$seed.txt" | tee "mutants/report-$seed.md"
done
echo "mutation run: ${#sample[@]} mutants (N=$N for seeds $SEEDS) in $(( ($(date +%s) - start) / 60 )) min"
