"""No function of the package is over 50 code lines or 12 branches (function_size.py)."""

from __future__ import annotations

from tests.architecture.function_size import FunctionSize, function_sizes


def test_every_function_of_the_package_is_one_a_reader_can_hold() -> None:
    sizes = list(function_sizes())
    assert len(sizes) > 500  # the package was read
    over = [size for size in sizes if size.too_big]
    assert over == [], "\n".join(f"{s.where}: {s.lines} lines, {s.branches} branches" for s in over)


def test_the_size_of_a_long_branchy_function_is_over() -> None:
    assert FunctionSize("x.py:1 f", lines=51, branches=0).too_big
    assert FunctionSize("x.py:1 f", lines=10, branches=13).too_big
    assert not FunctionSize("x.py:1 f", lines=50, branches=12).too_big
