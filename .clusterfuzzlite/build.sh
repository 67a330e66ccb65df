#!/bin/bash -eu
# Builds every cargo-fuzz target of fuzz/ the way ClusterFuzzLite and OSS-Fuzz expect:
# one fuzzer binary per target in $OUT, with its seed corpus as <target>_seed_corpus.zip.
# Run locally with scripts/cflite-build.sh (same script, temporary $SRC and $OUT).
cd "$SRC/dcsim"
cargo fuzz build -O --debug-assertions
release="fuzz/target/x86_64-unknown-linux-gnu/release"
for src in fuzz/fuzz_targets/*.rs; do
    target=$(basename "$src" .rs)
    cp "$release/$target" "$OUT/"
    if [ -d "fuzz/corpus/$target" ]; then
        (cd "fuzz/corpus/$target" && zip -q -r "$OUT/${target}_seed_corpus.zip" .)
    fi
done
