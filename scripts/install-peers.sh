#!/bin/sh
# Installs the batch peers the Nexmark benchmark compares the daily-sales group-by with
# (`cargo run --release --example nexmark -- --peers`). Optional: without them the benchmark skips them.
set -eu
python3 -m pip install --user --upgrade duckdb polars || python3 -m pip install --user --break-system-packages --upgrade duckdb polars
python3 -c "import duckdb, polars; print('duckdb', duckdb.__version__, 'polars', polars.__version__)"
