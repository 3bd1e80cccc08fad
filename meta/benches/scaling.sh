#!/usr/bin/env bash
# How the cost of meta-training grows (docs/benchmark.md, "How cost grows"): the Celo workload
# (meta/configs/bench_celo.toml) on one thread with one quantity varied at a time, for mlp-lopt
# and nominal-lopt, REPEATS times each. Every run is its own process, so its peak memory is its
# own. Appends `pesto bench --json` reports to docs/scaling/{params,particles,truncation}.jsonl
# and draws each file as docs/scaling/<axis>.png.
#
#   cargo build --release -j1 && meta/benches/scaling.sh [REPEATS]
set -euo pipefail
cd "$(dirname "$0")/../.."
repeats=${1:-3}
pesto=target/release/pesto
out=docs/scaling
config=meta/configs/bench_celo.toml
mkdir -p "$out"

run() { # FILE ARGS...: one timed run appended to FILE
    local file=$1
    shift
    "$pesto" bench --config "$config" --threads 1 --json "$@" >>"$file"
}

for _ in $(seq "$repeats"); do
    for optimizer in mlp-lopt nominal-lopt; do
        # Task size: about 2k, 30k and 100k parameters, 16 particles so the large tasks stay
        # affordable.
        for task in \
            "mlp-synth:input=64,hidden=32,act=relu,classes=10,batch=64" \
            "mlp-synth:input=128,hidden=224,act=relu,classes=10,batch=64" \
            "mlp-synth:input=256,hidden=384,act=relu,classes=10,batch=64"; do
            run "$out/params.jsonl" --optimizer "$optimizer" --task "$task" --particles 16 --steps 10
        done
        for particles in 8 16 32 64 128 256; do
            run "$out/particles.jsonl" --optimizer "$optimizer" --particles "$particles" --steps 10
        done
        for truncation in 10 20 50 100 200; do
            run "$out/truncation.jsonl" --optimizer "$optimizer" --truncation "$truncation" --steps 10
        done
    done
done
for axis in params particles truncation; do
    "$pesto" bench --chart "$out/$axis.jsonl" --axis "$axis" --out "$out/$axis.png"
done
