"""A lean paced HTTP client: what drives blackbox_exporter's /probe in the comparison.

It stands in for Prometheus scraping `/probe?target=T&module=http_2xx` once per interval for
each target: target i is due at i/N of the interval and every interval after, so the load is
an even `N / interval` requests per second. Requests to the exporter reuse keep-alive
connections (as Prometheus does); `--direct` instead GETs each target itself over a fresh
connection: a floor for what one probe costs in bare aiohttp.

Run as its own process so its CPU can be read from /proc apart from the exporter's. It prints
one JSON line of counts when done. Bounded: it stops after `--duration` seconds.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
import urllib.parse

import aiohttp

MAX_IN_FLIGHT = 5000  # beyond this a due request is skipped and counted, never queued
TICK = 0.005


async def drive(args: argparse.Namespace, urls: list[str]) -> dict[str, int]:
    counts = {"sent": 0, "success": 0, "failure": 0, "error": 0, "skipped": 0}
    in_flight: set[asyncio.Task[None]] = set()
    connector = aiohttp.TCPConnector(limit=0, force_close=args.direct)
    timeout = aiohttp.ClientTimeout(total=args.timeout)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:

        async def one(url: str) -> None:
            try:
                async with session.get(url) as response:
                    body = await response.read()
                ok = response.status < 400 if args.direct else (
                    b"\nprobe_success 1" in body)
                counts["success" if ok else "failure"] += 1
            except (aiohttp.ClientError, TimeoutError):
                counts["error"] += 1

        start = time.monotonic()
        step = args.interval / len(urls)
        sent = 0
        while (now := time.monotonic()) < start + args.duration:
            while start + sent * step <= now:
                if len(in_flight) >= MAX_IN_FLIGHT:
                    counts["skipped"] += 1
                else:
                    task = asyncio.create_task(one(urls[sent % len(urls)]))
                    in_flight.add(task)
                    task.add_done_callback(in_flight.discard)
                    counts["sent"] += 1
                sent += 1
            await asyncio.sleep(TICK)
        if in_flight:
            await asyncio.wait(in_flight, timeout=args.timeout + 1)
    return counts


def probe_urls(args: argparse.Namespace, targets: list[str]) -> list[str]:
    if args.direct:
        return targets
    base = f"http://{args.blackbox}/probe?module=http_2xx&target="
    return [base + urllib.parse.quote(target, safe="") for target in targets]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--targets", required=True, help="file: one target URL a line")
    parser.add_argument("--blackbox", help="host:port of blackbox_exporter")
    parser.add_argument("--direct", action="store_true", help="GET the targets themselves")
    parser.add_argument("--interval", type=float, default=30.0)
    parser.add_argument("--duration", type=float, default=60.0)
    parser.add_argument("--timeout", type=float, default=5.0)
    args = parser.parse_args(argv)
    if not args.direct and not args.blackbox:
        parser.error("give --blackbox HOST:PORT or --direct")
    with open(args.targets) as file:
        targets = [line.strip() for line in file if line.strip()]
    counts = asyncio.run(drive(args, probe_urls(args, targets)))
    print(json.dumps(counts), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
