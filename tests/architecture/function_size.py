"""The package's functions a reader can hold: at most 50 lines and 12 branches each.

    python tests/architecture/function_size.py     # lists the ones over, longest first
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "src" / "django_cfg"
MAX_LINES = 50
MAX_BRANCHES = 12
_BRANCHES = (ast.If, ast.For, ast.AsyncFor, ast.While, ast.Try, ast.With, ast.AsyncWith, ast.Match)


@dataclass(frozen=True)
class FunctionSize:
    where: str
    lines: int
    branches: int

    @property
    def too_big(self) -> bool:
        return self.lines > MAX_LINES or self.branches > MAX_BRANCHES


def function_sizes(package: Path = PACKAGE) -> Iterator[FunctionSize]:
    """Each function of ``package``: its code lines (docstring left out) and its branches
    (``if``/``for``/``while``/``try``/``with``/``match`` and each ``elif``/``except``, as pylint
    counts them, nested functions counted on their own)."""
    for path in sorted(package.rglob("*.py")):
        if "migrations" in path.parts:
            continue
        tree = ast.parse(path.read_text(), str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                where = f"{path.relative_to(package.parent)}:{node.lineno} {node.name}"
                yield FunctionSize(where, _code_lines(node), _branches(node))


def _code_lines(function: ast.FunctionDef | ast.AsyncFunctionDef) -> int:
    body = function.body
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
        body = body[1:] or body  # the docstring is not code
    assert body[-1].end_lineno is not None
    return body[-1].end_lineno - body[0].lineno + 1


def _branches(function: ast.FunctionDef | ast.AsyncFunctionDef) -> int:
    count = 0
    stack: list[ast.AST] = list(function.body)
    while stack:
        node = stack.pop()
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda | ast.ClassDef):
            continue  # counted on its own
        if isinstance(node, _BRANCHES):
            count += 1
            if isinstance(node, ast.Try):
                count += len(node.handlers) + bool(node.orelse) + bool(node.finalbody) - 1
            if isinstance(node, ast.For | ast.While) and node.orelse:
                count += 1
        stack.extend(ast.iter_child_nodes(node))
    return count


if __name__ == "__main__":
    over = sorted((s for s in function_sizes() if s.too_big), key=lambda s: -s.lines)
    for size in over:
        print(f"{size.lines:4d} lines {size.branches:3d} branches  {size.where}")
    sys.exit(1 if over else 0)
