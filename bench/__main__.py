"""`python -m bench [name ...]`: run the benchmarks, print one table, write bench/results/*.json.

Each benchmark is a module `bench/<name>.py` with `async def run() -> list[Result]`.
"""

import asyncio
import importlib
import sys

from bench.runner import Result, print_table, write_json

# cheapest first: a failure shows early
BENCHMARKS: list[str] = ["cases", "ingest", "load", "stats", "sweep", "bulk"]


async def main(names: list[str]) -> None:
    results: list[Result] = []
    for name in names or BENCHMARKS:
        module = importlib.import_module(f"bench.{name}")
        results.extend(await module.run())
    print_table(results)
    print(f"results written to {write_json(results)}")


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1:]))
