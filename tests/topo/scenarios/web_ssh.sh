#!/usr/bin/env bash
# -R web and ssh from the client to every edge, through the relay: a file fetched
# with curl and a file piped over ssh to sha256sum, both checked by sha256.
set -u
# shellcheck source=SCRIPTDIR/lib.sh
. "$(dirname "$0")/lib.sh"
for s in $SITES; do
	web_sha "$s"
	ssh_sha "$s"
done
pass
