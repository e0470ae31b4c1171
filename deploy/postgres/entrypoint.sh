#!/bin/sh
# First start: initdb with POSTGRES_USER (default postgres) and POSTGRES_PASSWORD (required),
# password authentication for every network client, then the *.sql and *.sh files of
# /docker-entrypoint-initdb.d/ against POSTGRES_DB (default: the user's name), as the official
# image does. Every start: the server in the foreground, listening on all interfaces.
set -eu
: "${POSTGRES_PASSWORD:?POSTGRES_PASSWORD is not set (deploy/.env)}"
POSTGRES_USER=${POSTGRES_USER:-postgres}
POSTGRES_DB=${POSTGRES_DB:-$POSTGRES_USER}

if [ ! -s "$PGDATA/PG_VERSION" ]; then
    pwfile=$(mktemp)
    printf '%s\n' "$POSTGRES_PASSWORD" >"$pwfile"
    initdb --username="$POSTGRES_USER" --pwfile="$pwfile" --auth-local=trust --auth-host=scram-sha-256 \
        --encoding=UTF8 --locale=C.UTF-8 >/dev/null
    rm -f "$pwfile"
    echo "host all all all scram-sha-256" >>"$PGDATA/pg_hba.conf"
    pg_ctl --silent --wait --options="-c listen_addresses=''" start
    if [ "$POSTGRES_DB" != postgres ]; then
        psql --quiet --username="$POSTGRES_USER" --dbname=postgres \
            --command="CREATE DATABASE \"$POSTGRES_DB\""
    fi
    for script in /docker-entrypoint-initdb.d/*; do
        case "$script" in
            *.sql) psql --quiet --set=ON_ERROR_STOP=1 --username="$POSTGRES_USER" --dbname="$POSTGRES_DB" --file="$script" ;;
            *.sh) . "$script" ;;
        esac
    done
    pg_ctl --silent --wait --mode=fast stop
    echo "database initialised in $PGDATA"
fi
exec postgres -c listen_addresses='*'
