"""Merging per-bucket runs newest first, and a cluster's audit ids and cursors."""

from __future__ import annotations

import random

from tether.audit import entry_key
from tether.store.audit_ids import newest_below, shown_id
from tether.store.buckets import DescendingMerge, spread


def test_the_merge_takes_nothing_older_than_what_a_cut_run_may_still_hold() -> None:
    merge: DescendingMerge[int] = DescendingMerge([0, 1], key=lambda n: n)
    assert sorted(merge.needs()) == [0, 1]
    merge.fill(0, [9, 5], more=True)
    merge.fill(1, [8, 7, 6, 1], more=False)
    assert merge.take(10) == [9, 8, 7, 6, 5]  # then bucket 0 must be read further
    assert merge.needs() == [0]
    merge.fill(0, [4], more=False)
    assert merge.take(10) == [4, 1] and merge.done


def test_merged_runs_are_every_item_once_in_order() -> None:
    rng = random.Random(7)
    runs = {b: sorted(rng.sample(range(10_000), 40), reverse=True) for b in range(8)}
    merge: DescendingMerge[int] = DescendingMerge(runs, key=lambda n: n)
    out: list[int] = []
    offsets = dict.fromkeys(runs, 0)
    while not merge.done:
        for b in merge.needs():
            chunk = runs[b][offsets[b] : offsets[b] + 3]
            offsets[b] += len(chunk)
            merge.fill(b, chunk, more=offsets[b] < len(runs[b]))
        out += merge.take(5)
    assert out == sorted((n for run in runs.values() for n in run), reverse=True)


def test_spread_reads_a_share_of_a_page_per_bucket() -> None:
    assert spread(50, 1) == 50
    assert spread(50, 64) == 4 and spread(640, 64) == 22


def test_shown_ids_are_unique_ordered_and_cursors_start_each_stream_right() -> None:
    buckets = 4
    streams = {b: [f"{t}-{n}" for t in (100, 101) for n in range(3)] for b in range(buckets)}
    shown = sorted(
        ((entry_key(shown_id(i, b, buckets)), b, i) for b, ids in streams.items() for i in ids),
        reverse=True,
    )
    assert len({key for key, _, _ in shown}) == len(shown)
    for cut in range(len(shown)):
        before = "{}-{}".format(*shown[cut][0])
        older = {(b, i) for _, b, i in shown[cut + 1 :]}
        found = set()
        for b, ids in streams.items():
            start = newest_below(before, b, buckets)
            if start is None:
                continue
            exclusive = start.startswith("(")
            bound = entry_key(start.lstrip("("))
            found |= {(b, i) for i in ids
                      if entry_key(i) < bound or (not exclusive and entry_key(i) == bound)}
        assert found == older, before
    assert newest_below(None, 2, buckets) == "+"
    assert newest_below("0-1", 2, buckets) is None
