#!/usr/bin/env bash
# Times single-query search through `switchyard serve` with wrk, a lean HTTP client in another process, so the
# figure is the server's own overhead (bench serve's client shares the server's process).
#   Benchmarks/serve/wrk-search.sh [SWITCHYARD_BINARY] [POINTS] [CONNECTIONS...]
# Needs wrk (apt-get install -y wrk) and python3 (standard library only).
set -euo pipefail
bin=${1:-.build/release/switchyard}
points=${2:-10000}
shift $(( $# > 2 ? 2 : $# ))
connections=("${@:-1 8}")
work=$(mktemp -d)
trap 'kill "$pid" 2>/dev/null || true; rm -rf "$work"' EXIT
python3 - "$work" "$points" <<'PY'
import json, random, sys
work, n = sys.argv[1], int(sys.argv[2])
random.seed(1)
query = [random.uniform(-1, 1) for _ in range(384)]
with open(f"{work}/search.lua", "w") as f:
    f.write('wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\nwrk.body = [[' + json.dumps({"vector": query, "limit": 10}) + ']]\n')
with open(f"{work}/points.json", "w") as f:
    json.dump({"points": [{"id": i, "vector": [random.uniform(-1, 1) for _ in range(384)]} for i in range(n)]}, f)
PY
"$bin" serve --store "$work/store" --port 0 --log-level error --max-request-mb 1024 --workers 0 2> "$work/serve.log" &
pid=$!
for _ in $(seq 1 200); do grep -q serving "$work/serve.log" && break; sleep 0.05; done
url=$(grep -oE 'http://127\.0\.0\.1:[0-9]+' "$work/serve.log" | head -1)
curl -s -X PUT "$url/collections/bench" -H 'content-type: application/json' -d '{"vectors":{"size":384,"distance":"Cosine"}}' > /dev/null
curl -s -X PUT "$url/collections/bench/points?wait=true" -H 'content-type: application/json' --data-binary "@$work/points.json" > /dev/null
for c in ${connections[@]}; do
    echo "== $points x 384, cosine, k = 10, $c connection(s)"
    wrk -t1 -c"$c" -d5s --latency -s "$work/search.lua" "$url/collections/bench/points/search" | grep -E "50%|99%|Requests/sec"
done
