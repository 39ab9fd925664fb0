"""The comparison for benchmarks/dagster_daily.py: a bare chain of 8 trivial daily-partitioned assets."""

from dagster import DailyPartitionsDefinition, Definitions, asset

days = DailyPartitionsDefinition(start_date="2024-01-01")


def _link(name, upstream):
    if upstream is None:
        @asset(name=name, partitions_def=days)
        def first() -> int:
            return 1
        return first

    @asset(name=name, partitions_def=days, deps=[upstream])
    def link() -> int:
        return 1
    return link


_assets = []
for i in range(8):
    _assets.append(_link(f"step_{i}", _assets[-1] if _assets else None))

defs = Definitions(assets=_assets)
