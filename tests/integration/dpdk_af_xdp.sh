#!/usr/bin/env bash
# dpdk_netns.sh's checks (64 MiB each way, 200 streams, 1% and 5% loss with SACK,
# agent SIGKILL, SIGHUP, drain) with the relay on net_af_xdp: an AF_XDP socket on
# the veth instead of af_packet's copies through the packet socket.
FY_DPDK_PMD=af_xdp exec bash "$(dirname "$0")/dpdk_netns.sh" "$@"
