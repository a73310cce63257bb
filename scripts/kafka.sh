#!/usr/bin/env bash
# A single-node Apache Kafka broker (KRaft mode, no ZooKeeper) on loopback,
# for development and weir's tests. Nothing is mocked: these are the Apache
# Kafka jars from Maven Central (see scripts/kafka/pom.xml), fetched once
# with `mvn` into ~/.cache/weir/kafka/jars and run with the machine's Java 17.
#
#   scripts/kafka.sh start     # fetch (first time), format a fresh log dir, start, wait until ready
#   scripts/kafka.sh stop      # stop it cleanly (SIGTERM, then wait)
#   scripts/kafka.sh status    # running or not, and where
#   scripts/kafka.sh restart   # stop and start again, keeping the data (a broker outage)
#
# Environment: WEIR_KAFKA_PORT (default 19092), WEIR_KAFKA_HOME (default
# ~/.cache/weir/kafka). The broker's bootstrap address is printed by `start`
# and is 127.0.0.1:$WEIR_KAFKA_PORT. To use another cluster instead, point
# jobs at it (`[source] brokers = "host:9092"`) and the Kafka tests at it with
# WEIR_KAFKA_BROKERS; it needs transactions enabled.
set -euo pipefail
cd "$(dirname "$0")/.."

PORT="${WEIR_KAFKA_PORT:-19092}"
CONTROLLER_PORT=$((PORT + 1))
HOME_DIR="${WEIR_KAFKA_HOME:-$HOME/.cache/weir/kafka}"
JARS="$HOME_DIR/jars"
DATA="$HOME_DIR/data-$PORT"
PIDFILE="$HOME_DIR/broker-$PORT.pid"
LOG="$HOME_DIR/broker-$PORT.log"
CONF="$HOME_DIR/server-$PORT.properties"
POM="scripts/kafka/pom.xml"

die() { echo "kafka.sh: $*" >&2; exit 1; }

# install_if_missing COMMAND DEBIAN-PACKAGE WHY
install_if_missing() {
  command -v "$1" >/dev/null && return
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "kafka.sh: installing $2 ($3)"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$2" >/dev/null
  else
    die "$1 not found: $3; install it (Debian: sudo apt-get install $2)"
  fi
}

fetch() {
  # The stamp records which pom the jars came from, so a version bump refetches.
  local stamp
  stamp=$(sha256sum "$POM" | cut -c1-16)
  if [ -f "$JARS/.stamp" ] && [ "$(cat "$JARS/.stamp")" = "$stamp" ]; then
    return
  fi
  install_if_missing java openjdk-17-jre-headless "Java 17 or newer runs the broker"
  install_if_missing mvn maven "Maven fetches the Kafka jars"
  echo "kafka.sh: fetching the Apache Kafka jars from Maven Central into $JARS"
  rm -rf "$JARS"
  mkdir -p "$JARS"
  mvn -q -B -f "$POM" dependency:copy-dependencies -DoutputDirectory="$JARS" -DincludeScope=runtime ||
    die "mvn could not fetch the Kafka jars (see above)"
  echo "$stamp" >"$JARS/.stamp"
}

running() {
  [ -f "$PIDFILE" ] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null
}

ready() {
  # The broker answers on its port and has elected itself controller: ask it
  # for its metadata with the bundled admin tool would need more jars; a TCP
  # connect plus the "started" line in its log is what `kafka-server-start`
  # users watch for too.
  (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && grep -q "Kafka Server started" "$LOG" 2>/dev/null
}

write_config() {
  cat >"$CONF" <<EOF
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$CONTROLLER_PORT
listeners=PLAINTEXT://127.0.0.1:$PORT,CONTROLLER://127.0.0.1:$CONTROLLER_PORT
advertised.listeners=PLAINTEXT://127.0.0.1:$PORT
controller.listener.names=CONTROLLER
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
inter.broker.listener.name=PLAINTEXT
log.dirs=$DATA
num.partitions=1
auto.create.topics.enable=true
# One broker: every internal topic has one replica.
offsets.topic.replication.factor=1
offsets.topic.num.partitions=4
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=4
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
# Transactions of a killed producer are aborted after this long at most.
transaction.max.timeout.ms=900000
log.flush.interval.messages=9223372036854775807
EOF
}

start() {
  if running; then
    echo "kafka.sh: broker already running (pid $(cat "$PIDFILE")) at 127.0.0.1:$PORT"
    return
  fi
  fetch
  mkdir -p "$HOME_DIR"
  write_config
  if [ "${1:-fresh}" = fresh ]; then
    rm -rf "$DATA"
    local id
    id=$(java -cp "$JARS/*" kafka.tools.StorageTool random-uuid 2>/dev/null)
    java -cp "$JARS/*" kafka.tools.StorageTool format -t "$id" -c "$CONF" >"$HOME_DIR/format.log" 2>&1 || {
      tail -n 5 "$HOME_DIR/format.log" >&2
      die "formatting the log directory $DATA failed (above)"
    }
  fi
  : >"$LOG"
  # Small heap: a test broker on a 2-core machine.
  nohup java -Xms256m -Xmx1g -XX:+UseG1GC -Djava.awt.headless=true \
    -Dorg.slf4j.simpleLogger.defaultLogLevel=info \
    -Dorg.slf4j.simpleLogger.log.org.apache.kafka=warn \
    -Dorg.slf4j.simpleLogger.log.kafka=warn \
    -Dorg.slf4j.simpleLogger.log.kafka.server.KafkaRaftServer=info \
    -Dorg.slf4j.simpleLogger.log.kafka.server.BrokerServer=info \
    -cp "$JARS/*" kafka.Kafka "$CONF" >>"$LOG" 2>&1 &
  echo $! >"$PIDFILE"
  for _ in $(seq 1 120); do
    if ready; then
      echo "kafka.sh: broker ready at 127.0.0.1:$PORT (pid $(cat "$PIDFILE"), log $LOG)"
      return
    fi
    running || { tail -n 30 "$LOG" >&2; die "the broker exited during start-up; its log is above"; }
    sleep 0.5
  done
  tail -n 30 "$LOG" >&2
  die "the broker did not become ready within 60 s; its log is above"
}

stop() {
  if ! running; then
    rm -f "$PIDFILE"
    return
  fi
  local pid
  pid=$(cat "$PIDFILE")
  kill "$pid"
  for _ in $(seq 1 60); do
    kill -0 "$pid" 2>/dev/null || { rm -f "$PIDFILE"; return; }
    sleep 0.5
  done
  echo "kafka.sh: broker did not stop within 30 s; killing it" >&2
  kill -9 "$pid" 2>/dev/null || true
  rm -f "$PIDFILE"
}

case "${1:-}" in
  start) start fresh ;;
  stop) stop ;;
  restart) stop; start keep ;;
  status)
    if running; then echo "running at 127.0.0.1:$PORT (pid $(cat "$PIDFILE"))"; else echo "not running"; exit 1; fi ;;
  fetch) fetch ;;
  *) echo "usage: scripts/kafka.sh start|stop|restart|status|fetch" >&2; exit 2 ;;
esac
