#!/usr/bin/env bash
# Starts PostgreSQL, Redis and RabbitMQ if they are installed but not answering (idempotent).
set -u
up() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
wait_for() { for _ in $(seq 1 60); do up "$1" && return 0; sleep 0.5; done; echo "port $1 still down" >&2; return 1; }
if ! up 5432 && command -v pg_ctlcluster >/dev/null; then
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -1)" main start || true
    wait_for 5432
fi
if ! up 6379 && command -v redis-server >/dev/null; then
    redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
        --dir /var/lib/redis --logfile /var/log/redis/ci.log || true
    wait_for 6379
fi
if ! up 5672 && command -v rabbitmq-server >/dev/null; then
    rabbitmq-server -detached || true
    wait_for 5672 || true
fi
exit 0
