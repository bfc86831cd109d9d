"""The folders show the architecture, and the imports keep to it (read with ast, nothing imported):

    core       imports nothing else from reversal
    report     imports core
    the techniques (mlp, attention, features) import core, report and each other, in lesson order
    studies    imports core, report and the techniques
    exercises  imports core, report and the techniques; its __main__.py, a script, imports support too
    support    imports anything; only the scripts and support import support

No module imports another's private (underscore) name."""

import ast
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "reversal"
TECHNIQUES = {"mlp", "attention", "features"}
ALLOWED = {"core": {"core"},
           "report": {"core", "report"},
           "studies": {"core", "report", "studies"} | TECHNIQUES,
           "exercises": {"core", "report", "exercises"} | TECHNIQUES,
           "support": {"core", "report", "support", "studies"} | TECHNIQUES}
ALLOWED.update({name: {"core", "report"} | TECHNIQUES for name in TECHNIQUES})
MODULES = sorted(PACKAGE.glob("*/*.py"))
# `python -m reversal.exercises` runs this module: a script, so it may import support, as the scripts do
SCRIPTS = {"exercises/__main__.py"}
# folders the README's tree does not name yet: its owner adds them (issue 15), and then this set is emptied
NOT_YET_IN_README = set()


def imports(path):
    """(folder imported, names imported) for each import of reversal in the module, relative or absolute."""
    folder = path.parent.name
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level == 1:
                target = folder
            elif node.level == 2:
                target = (node.module or "").split(".")[0]
            elif node.module and node.module.startswith("reversal."):
                target = node.module.split(".")[1]
            else:
                continue
            yield target, [alias.name for alias in node.names]
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("reversal."):
                    yield alias.name.split(".")[1], []


def test_every_module_sits_in_a_known_folder():
    assert {path.parent.name for path in MODULES} == set(ALLOWED)
    assert not [path.name for path in PACKAGE.glob("*.py") if path.name != "__init__.py"], \
        "a module at the top of reversal/: put it in the folder that says what it is"


@pytest.mark.parametrize("path", MODULES, ids=lambda path: f"{path.parent.name}/{path.name}")
def test_imports_keep_to_the_layers(path):
    folder = path.parent.name
    allowed = ALLOWED[folder] | ({"support"} if f"{folder}/{path.name}" in SCRIPTS else set())
    for target, _ in imports(path):
        assert target in allowed, f"{folder}/{path.name} imports reversal.{target}; it may import only " \
                                  f"{sorted(allowed)}"


@pytest.mark.parametrize("path", MODULES, ids=lambda path: f"{path.parent.name}/{path.name}")
def test_no_private_name_is_imported(path):
    for target, names in imports(path):
        private = [name for name in names if name.startswith("_")]
        assert not private, f"{path.parent.name}/{path.name} imports {private} from reversal.{target}"


def test_the_readme_tree_names_every_folder():
    readme = (ROOT / "README.md").read_text()
    missing = [folder for folder in set(ALLOWED) - NOT_YET_IN_README if f"{folder}/" not in readme]
    assert not missing, f"README's 'Where things live' lacks {missing}"


def test_the_readme_glossary_is_the_package_glossary():
    from reversal.report.glossary import GLOSSARY
    readme = (ROOT / "README.md").read_text()
    assert "## Glossary" in readme, "the README ends with the glossary"
    listed = readme.split("## Glossary", 1)[1]
    missing = [term for term, definition in GLOSSARY if f"- **{term}**: {definition}" not in listed]
    assert not missing, f"README's glossary lacks or words differently: {missing}; copy from reversal/report/glossary.py"


def test_the_readme_gives_the_notebooks_90_minute_path():
    readme = " ".join((ROOT / "README.md").read_text().split())
    notebook = " ".join(line.lstrip("# ") for line in (ROOT / "demo_notebook.py").read_text().splitlines()[:30])
    path = readme.split("## A 90-minute class", 1)[1].split("(The same path", 1)[0].strip()
    start = path.index("In class")
    assert path[start:] in " ".join(notebook.split()), (
        f"the README's path ({path[start:]!r}) differs from demo_notebook.py's introduction: keep them the same")
