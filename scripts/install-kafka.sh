#!/bin/sh
# Installs the Kafka-protocol broker the Kafka log tests run against: tansu (Apache-2.0), built from
# crates.io with its in-memory storage engine only. The binary is cached and reused when present:
#
#     ${XDG_CACHE_HOME:-$HOME/.cache}/dataflow/bin/tansu
#
# The build takes about 13 minutes on a 2-core machine and needs about 4 GB of scratch disk, which it
# deletes afterwards. Prints the binary's path on its last line.
#
# Tests find the broker through DATAFLOW_KAFKA_BROKER=PATH when it is set, else at the cache path above.
# They start it themselves on a loopback port chosen at run time:
#
#     tansu broker --listener-url tcp://127.0.0.1:PORT --advertised-listener-url tcp://127.0.0.1:PORT \
#         --storage-engine memory://tansu/
set -eu

TANSU_VERSION=0.6.0
bin_dir="${XDG_CACHE_HOME:-$HOME/.cache}/dataflow/bin"
binary="$bin_dir/tansu"

if [ -x "$binary" ]; then
    echo "$binary"
    exit 0
fi

mkdir -p "$bin_dir"
scratch="$(mktemp -d "${TMPDIR:-/tmp}/dataflow-tansu-build.XXXXXX")"
trap 'rm -rf "$scratch"' EXIT INT TERM

echo "building tansu $TANSU_VERSION into $bin_dir (about 13 minutes)" >&2
start=$(date +%s)
CARGO_TARGET_DIR="$scratch/target" nice -n 10 cargo install tansu \
    --version "=$TANSU_VERSION" --locked --no-default-features --features dynostore \
    --root "$scratch/root"
install -m 0755 "$scratch/root/bin/tansu" "$binary"
echo "built tansu in $(( $(date +%s) - start )) s" >&2
echo "$binary"
