#!/usr/bin/env python3
"""Latency of the dashboard's rollup answers from a warm cache, through HTTP.

usage: warm.py BASE_URL ADMIN_TOKEN LAST_END DOMAIN [REPEAT]

For every rollup the dashboard draws and each window (all time, the last 30 days, one
domain over the last 30 days), asks once (which fills the cache) and then REPEAT times
(default 50) one after the other on one keep-alive connection, and prints one JSON line
per query with p50/p95/max of the repeated requests, which the cache answers (the
last line compares the cache's hit counter of `/metrics` with the requests made). A page of
reports is not a rollup and is not cached: `bench-store query` measures it.
"""
import http.client
import json
import sys
import time
import urllib.parse

ROLLUPS = [
    ("summary", "/api/rollup/summary", {}),
    ("by_domain", "/api/rollup/by-domain", {}),
    ("by_organization", "/api/rollup/organizations", {}),
    ("disposition", "/api/rollup/disposition", {}),
    ("alignment", "/api/rollup/alignment", {}),
    ("compliance", "/api/rollup/compliance", {}),
    ("timeline", "/api/rollup/timeline", {}),
    ("failure_trend", "/api/rollup/failure-trend", {}),
    ("sources_top20", "/api/rollup/sources", {"limit": "20"}),
]


def main():
    base, token, last_end, domain = sys.argv[1:5]
    repeat = int(sys.argv[5]) if len(sys.argv) > 5 else 50
    url = urllib.parse.urlsplit(base)
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=600)
    since = int(last_end) - 30 * 86400
    windows = [
        ("all", {}),
        ("30d", {"from": str(since)}),
        ("1domain-30d", {"from": str(since), "domain": domain}),
    ]
    headers = {"Authorization": "Bearer " + token}

    def get(path):
        conn.request("GET", path, headers=headers)
        response = conn.getresponse()
        body = response.read()
        if response.status != 200:
            sys.exit(f"{path}: {response.status} {body[:200]!r}")
        return body

    def cache_counts():
        text = get("/metrics").decode()
        return {result: int(text.split('dmarc_rollup_cache_total{result="%s"} ' % result)[1].split()[0])
                for result in ("hit", "miss")}

    before = cache_counts()
    for window, params in windows:
        for name, path, extra in ROLLUPS:
            query = urllib.parse.urlencode({**params, **extra})
            full = path + ("?" + query if query else "")
            started = time.perf_counter()
            get(full)
            first = time.perf_counter() - started
            times = []
            for _ in range(repeat):
                started = time.perf_counter()
                get(full)
                times.append(time.perf_counter() - started)
            times.sort()
            pick = lambda q: round(times[round((len(times) - 1) * q)] * 1000, 2)
            print(json.dumps({"window": window, "query": name, "cache": "warm",
                              "first_ms": round(first * 1000, 2), "p50_ms": pick(0.5),
                              "p95_ms": pick(0.95), "max_ms": pick(1.0), "runs": repeat}),
                  flush=True)
    after = cache_counts()
    # At most one miss per query (its first request): the figures above are the cache's.
    print(json.dumps({"requests": len(windows) * len(ROLLUPS) * (repeat + 1),
                      "cache_hits": after["hit"] - before["hit"],
                      "cache_misses": after["miss"] - before["miss"]}))


if __name__ == "__main__":
    main()
