#!/usr/bin/env bash
# Debian packages the platform and its tests need, installed by `make setup` only when missing
# (idempotent; as root it runs apt-get, otherwise it prints the command to run).
#
#   chromium, fonts-liberation   the school reports' PDFs and the browser tests (headless, offline)
#   openjdk-17-jre-headless      the embedded Apache Kafka broker (Kafka 4.x needs Java 17+)
#   maven                        fetches the pinned Kafka jars from Maven Central (infra/kafka/fetch.sh)
#   kcat                         a Kafka client nobody here wrote (librdkafka): the interoperability test
set -euo pipefail

missing=()
have() { command -v "$1" >/dev/null 2>&1; }
have chromium || have chromium-browser || { [ -n "${LEAP_CHROMIUM:-}" ] && have "$LEAP_CHROMIUM"; } \
  || missing+=(chromium fonts-liberation)
java_ok() {  # a Java runtime of version 17 or later on PATH or in JAVA_HOME
  local java="${JAVA_HOME:+$JAVA_HOME/bin/}java"
  have "$java" || return 1
  local major
  major="$("$java" -version 2>&1 | sed -n 's/.*version "\([0-9]*\).*/\1/p' | head -1)"
  [ -n "$major" ] && [ "$major" -ge 17 ]
}
java_ok || missing+=(openjdk-17-jre-headless)
have mvn || missing+=(maven)
have kcat || missing+=(kcat)

[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" = 0 ]; then
  echo "installing Debian packages: ${missing[*]}" >&2
  apt-get update -q
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
else
  echo "make setup: Debian packages missing: ${missing[*]}; run: sudo apt-get update && sudo apt-get install -y ${missing[*]}" >&2
  exit 1
fi
