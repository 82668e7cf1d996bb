#!/usr/bin/env bash
# Stops everything the scenarios started (by the PIDs they recorded): agents
# first, then the client's, the relay, the edges' services.
set -u
# shellcheck source=SCRIPTDIR/lib.sh
. "$(dirname "$0")/lib.sh"
on_stop_all
ok "stopped agents, relay and services"
pass
