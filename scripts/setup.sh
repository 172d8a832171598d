#!/usr/bin/env bash
# Installs every missing build/test dependency. Idempotent: when everything is
# present it only runs `dpkg-query` and a stamp check, and returns in well under a second.
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian packages: build tools, libraries, and the peers the tests/benchmarks run against.
PKGS=(
  build-essential cmake ninja-build clang libclang-rt-14-dev pkg-config
  libgtest-dev libgmock-dev libbenchmark-dev
  librocksdb-dev libboost-dev libboost-system-dev rapidjson-dev libpcre2-dev libssl-dev
  libcli11-dev libspdlog-dev libfmt-dev prometheus-cpp-dev
  redis-server redis-tools wrk python3-pandas
)
missing=()
for p in "${PKGS[@]}"; do
  st=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  [[ "$st" == "install ok installed" ]] || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  SUDO=""; [[ $(id -u) -eq 0 ]] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# DuckDB from npm (the machine image ships node and npm), header and library pinned to the same release.
command -v npm >/dev/null || { echo "setup: npm is required to fetch DuckDB" >&2; exit 1; }
DUCKDB_VERSION=1.4.4
DUCKDB_BINDINGS=1.4.4-r.1
DEST=third_party/duckdb
STAMP="$DEST/.version-${DUCKDB_VERSION}-${DUCKDB_BINDINGS}"
if [[ ! -f "$STAMP" ]]; then
  echo "setup: fetching DuckDB ${DUCKDB_VERSION} (bindings ${DUCKDB_BINDINGS}) from npm"
  rm -rf "$DEST" && mkdir -p "$DEST/include" "$DEST/lib"
  tmp=$(mktemp -d)
  (cd "$tmp" && npm pack --silent "duckdb@${DUCKDB_VERSION}" "@duckdb/node-bindings-linux-x64@${DUCKDB_BINDINGS}" >/dev/null)
  tar -xzf "$tmp/duckdb-${DUCKDB_VERSION}.tgz" -C "$tmp" package/src/duckdb/src/include/duckdb.h
  cp "$tmp/package/src/duckdb/src/include/duckdb.h" "$DEST/include/"
  rm -rf "$tmp/package"
  tar -xzf "$tmp/duckdb-node-bindings-linux-x64-${DUCKDB_BINDINGS}.tgz" -C "$tmp" package/libduckdb.so
  cp "$tmp/package/libduckdb.so" "$DEST/lib/"
  rm -rf "$tmp"
  touch "$STAMP"
fi
