"""The suite's own plumbing (conftest.py): a model trained ahead, at collection, must have a reader, or it trains for
nothing and its reader trains it again, in the foreground."""

import ast
import re

import pytest

from conftest import AHEAD, ROOT


@pytest.mark.parametrize("reader", sorted({reader for _, readers in AHEAD for reader in readers}))
def test_each_model_trained_ahead_is_read_by_the_slow_test_it_names(reader):
    path, name, parameters = re.fullmatch(r"(test_\w+\.py)::(\w+)(?:\[(.+)\])?", reader).groups()
    text = (ROOT / "tests" / path).read_text()
    tree = ast.parse(text)
    found = [node for node in ast.walk(tree) if isinstance(node, ast.FunctionDef) and node.name == name]
    assert found, f"{reader}: no such test in tests/{path} (renamed?)"
    decorators = " ".join(ast.unparse(decorator) for decorator in found[0].decorator_list)
    assert "pytest.mark.slow" in decorators, f"{reader}: the fast tier would train it for a test that has not run"
    if parameters:
        assert all(part in text for part in parameters.split("-")), \
            f"{reader}: {name} has no parameter {parameters!r}"
