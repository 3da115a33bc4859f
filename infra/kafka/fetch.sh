#!/usr/bin/env bash
# Fetch the embedded Apache Kafka broker (the version pinned in infra/kafka/pom.xml) from Maven Central,
# verify every jar against infra/kafka/jars.sha256, and keep it in .deps/kafka/ for later setups.
#
#   infra/kafka/fetch.sh                      fetch and verify (a no-op when .deps/kafka is already verified)
#   infra/kafka/fetch.sh --update-checksums   after changing the pom: rewrite jars.sha256 from the download
#
# LEAP_KAFKA_HOME overrides the destination (default: <repository>/.deps/kafka); `leap broker` reads
# the same variable. Needs Maven and a JDK (Debian: maven, openjdk-17-jdk-headless; `make setup`
# installs them when missing).
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
dest="${LEAP_KAFKA_HOME:-$root/.deps/kafka}"
pom="$here/pom.xml"
sums="$here/jars.sha256"
update=0
[ "${1:-}" = "--update-checksums" ] && update=1

version="$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$pom")"
stamp_of() { cat "$pom" "$sums" | sha256sum | cut -d' ' -f1; }

# The jars in a folder equal the pinned list: same names, same digests, nothing else.
verify() {
  local libs="$1"
  diff <(cut -d' ' -f3 "$sums" | sort) <(cd "$libs" && ls -1 | sort) >/dev/null \
    || { echo "fetch.sh: the jars in $libs are not the pinned set in $sums" >&2; return 1; }
  (cd "$libs" && sha256sum --quiet --strict -c "$sums") \
    || { echo "fetch.sh: a jar in $libs does not match its pinned SHA-256 ($sums)" >&2; return 1; }
}

if [ "$update" = 0 ] && [ -f "$dest/FETCHED" ] && [ "$(sed -n 2p "$dest/FETCHED")" = "$(stamp_of)" ] \
   && verify "$dest/libs" >/dev/null 2>&1; then
  exit 0  # fetched before and still intact
fi

command -v mvn >/dev/null 2>&1 || {
  echo "fetch.sh: Maven is not installed; install it with: sudo apt-get install -y maven openjdk-17-jdk-headless" >&2
  exit 1
}
mkdir -p "$(dirname "$dest")"
tmp="$(mktemp -d "$(dirname "$dest")/.kafka-fetch.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT
echo "fetching Apache Kafka $version from Maven Central into $dest" >&2
# -C: fail on a checksum mismatch against Maven Central's own checksums (the default only warns).
if ! mvn -B -q -C -f "$pom" dependency:copy-dependencies -DincludeScope=runtime \
       -DoutputDirectory="$tmp/libs" >"$tmp/mvn.log" 2>&1; then
  cat "$tmp/mvn.log" >&2
  echo "fetch.sh: Maven could not resolve Apache Kafka $version (is Maven Central reachable? see above)" >&2
  exit 1
fi
if [ "$update" = 1 ]; then
  (cd "$tmp/libs" && sha256sum -- * | sed 's/ \*/  /') > "$sums"
  echo "wrote $sums ($(wc -l < "$sums") jars); review and commit it" >&2
fi
verify "$tmp/libs"
rm -rf "$dest.old"
[ -d "$dest" ] && mv "$dest" "$dest.old"
mkdir -p "$tmp/out"
mv "$tmp/libs" "$tmp/out/libs"
printf '%s\n%s\n' "$version" "$(stamp_of)" > "$tmp/out/FETCHED"
mv "$tmp/out" "$dest"
rm -rf "$dest.old"
echo "Apache Kafka $version ready in $dest ($(ls "$dest/libs" | wc -l) jars, verified)" >&2
