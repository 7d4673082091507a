"""Mark as skipped the mutants that cannot change behaviour because they sit in type
annotations or in a signature's ``*`` / ``/`` markers.

Every module here starts with ``from __future__ import annotations``: annotations are
strings that nothing evaluates at run time (pydantic reads the models in ``messages.py``,
which is not mutated), so ``X | None`` → ``X + None`` survives every test. cosmic-ray
also "mutates" the bare ``*`` that makes arguments keyword-only. Default values in a
signature are code and stay mutated.

Usage: ``python .ci/mutation/skip_annotations.py SESSION.sqlite`` after ``cosmic-ray init``.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator
from pathlib import Path

from cosmic_ray.work_db import use_db
from cosmic_ray.work_item import WorkerOutcome, WorkResult

Pos = tuple[int, int]
Span = tuple[Pos, Pos]


def _span(node: ast.AST, lines: list[str]) -> Span:
    """A node's (line, column) span in characters, as cosmic-ray (parso) counts them."""

    def char_col(line: int, byte_col: int) -> int:
        return len(lines[line - 1].encode()[:byte_col].decode(errors="ignore"))

    start = (node.lineno, char_col(node.lineno, node.col_offset))  # type: ignore[attr-defined]
    end_line = node.end_lineno  # type: ignore[attr-defined]
    return start, (end_line, char_col(end_line, node.end_col_offset))  # type: ignore[attr-defined]


def _dead_spans(tree: ast.Module, lines: list[str]) -> Iterator[tuple[Span, list[Span]]]:
    """(region, code inside it): a signature with its defaults, or an annotation."""
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            header_start = (node.lineno, node.col_offset)
            body_start = _span(node.body[0], lines)[0]
            defaults = [d for d in (*node.args.defaults, *node.args.kw_defaults) if d]
            yield (header_start, body_start), [_span(d, lines) for d in defaults]
        elif isinstance(node, ast.AnnAssign):
            yield _span(node.annotation, lines), []


def _inside(pos: Pos, span: Span) -> bool:
    return span[0] <= pos < span[1]


def main(session: str) -> int:
    skipped = 0
    regions: dict[str, list[tuple[Span, list[Span]]]] = {}
    with use_db(session) as db:
        for item in list(db.pending_work_items):
            for mutation in item.mutations:
                path = str(mutation.module_path)
                if path not in regions:
                    source = Path(path).read_text()
                    regions[path] = list(_dead_spans(ast.parse(source), source.splitlines()))
                start = tuple(mutation.start_pos)
                if any(
                    _inside(start, region) and not any(_inside(start, c) for c in code)
                    for region, code in regions[path]
                ):
                    db.set_result(item.job_id, WorkResult(
                        output="Annotation or signature marker: no run-time effect",
                        worker_outcome=WorkerOutcome.SKIPPED,
                    ))
                    skipped += 1
                    break
    print(f"skipped {skipped} annotation/signature mutants")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
