"""The benchmarks depend on the product, never on the test package: `python -m bench` runs from
an installation without the tests, and a fixture changed for a test must not change a benchmark.
The graph is read from the source by the import-graph test's own reader."""

from pco_pipeline_tests.test_import_graph import ROOT, arrows, module_files


def test_bench_imports_nothing_from_the_tests():
    modules = module_files(ROOT, ["bench"])
    assert modules, "no benchmark module found"
    into_tests = [str(arrow) for arrow in arrows(modules) if arrow.imported.split(".")[0] == "pco_pipeline_tests"]
    assert into_tests == []
