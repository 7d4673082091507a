"""List a cosmic-ray session's surviving mutants by source line, with their operators.

Usage: ``python .ci/mutation/survivors.py SESSION.sqlite path/to/module.py``
"""

from __future__ import annotations

import collections
import sqlite3
import sys


def main(session: str, source: str) -> int:
    lines = open(source).read().splitlines()
    db = sqlite3.connect(session)
    counts = dict(db.execute(
        "select coalesce(test_outcome, worker_outcome), count(*) from work_results group by 1"
    ).fetchall())
    total = db.execute("select count(*) from mutation_specs").fetchone()[0]
    print(f"{source}: {total} mutants, " + ", ".join(f"{k.lower()} {v}" for k, v in
                                                     sorted(counts.items())))
    rows = db.execute(
        "select m.operator_name, m.start_pos_row from mutation_specs m"
        " join work_results r on r.job_id = m.job_id where r.test_outcome = 'SURVIVED'"
    ).fetchall()
    by_line: dict[int, list[str]] = collections.defaultdict(list)
    for operator, row in rows:
        by_line[row].append(operator.split("/")[-1])
    for row in sorted(by_line):
        ops = ", ".join(sorted(set(by_line[row])))
        print(f"{row:5} {len(by_line[row]):3}  {lines[row - 1].strip()[:80]}   [{ops[:100]}]")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
