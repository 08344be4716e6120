"""Probe a list of jobs through the fast path or aiohttp alone, in this Python process, and
print what aiohttp runs here and the verdicts, as one JSON object.

Run by tests/probes/test_http_corpus.py as its own process, so that it can set what aiohttp
reads at import (AIOHTTP_NO_EXTENSIONS, Python's development mode). Reads on stdin a JSON list
of {"path": "fast" | "aiohttp", "spec": HttpProbe fields, "timeout": seconds}; prints
{"parser": module of aiohttp's response parser, "strict": aiohttp.helpers.DEBUG,
"verdicts": ["up" or the down reason, one per job]}. Each probe is bounded by its timeout.
"""

from __future__ import annotations

import asyncio
import json
import sys
from typing import Any

import aiohttp.helpers
import aiohttp.http_parser

from agent.model import Check, HttpProbe, Status
from agent.probes import Prober
from agent.probes.http import probe_aiohttp

CONCURRENCY = 16


async def run(jobs: list[dict[str, Any]]) -> list[str]:
    limit = asyncio.Semaphore(CONCURRENCY)
    async with Prober() as fast, Prober(probes={"http": probe_aiohttp}) as reference:

        async def one(job: dict[str, Any]) -> str:
            fields = dict(job["spec"], expect_status=tuple(job["spec"].get("expect_status", ())))
            check = Check(spec=HttpProbe(**fields), timeout=job["timeout"])
            async with limit:
                result = await (fast if job["path"] == "fast" else reference).run(check)
            return "up" if result.status is Status.UP else result.reason

        return list(await asyncio.gather(*map(one, jobs)))


def main() -> None:
    verdicts = asyncio.run(run(json.load(sys.stdin)))
    print(json.dumps({"parser": aiohttp.http_parser.HttpResponseParser.__module__,
                      "strict": aiohttp.helpers.DEBUG, "verdicts": verdicts}))


if __name__ == "__main__":
    main()
