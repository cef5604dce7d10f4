#!/usr/bin/env bash
# `make bench`: the REST benchmark (bench/rest/run.sh), the filtered-list
# benchmark (bench/filter/run.sh), then the WebSocket
# benchmark (bench/ws/run.sh) when there is one, filtered vs plain
# subscriptions' fan-out (bench/ws/filter.sh), and the memory an idle
# WebSocket costs through nginx's /ws proxy and directly (bench/ws/proxy-mem.sh). docs/PERFORMANCE.md says
# what they measure and what the figures mean.
set -euo pipefail
BENCH=$(cd "$(dirname "$0")" && pwd)

"$BENCH/rest/run.sh"
"$BENCH/filter/run.sh"
if [ -x "$BENCH/ws/run.sh" ]; then
	"$BENCH/ws/run.sh"
fi
"$BENCH/ws/filter.sh"
"$BENCH/ws/proxy-mem.sh"
"$BENCH/cluster/run.sh"
