"""The executor seam without a cluster: which functions may be sent, what a hub offers,
how it says what it cannot, and that nothing imports Ray until a call needs it."""

from __future__ import annotations

import functools
import subprocess
import sys

import pytest

from tests.unit import executor_fns
from tether.config import Settings
from tether.errors import ExecutorUnavailable, NotImportable
from tether.executors import Executors, Offload, function_ref


def test_module_level_functions_are_sent_by_reference() -> None:
    assert function_ref(executor_fns.double) == "tests.unit.executor_fns:double"
    assert function_ref(executor_fns.adouble) == "tests.unit.executor_fns:adouble"
    # Another name for it: the reference is the function's own, which resolves to it.
    assert function_ref(executor_fns.renamed) == "tests.unit.executor_fns:double"


@pytest.mark.parametrize(
    ("fn", "reason"),
    [
        (lambda: 1, "a lambda"),
        (executor_fns.make_closure(), "inside another function"),
        (executor_fns.Holder().method, "not a plain function"),
        (executor_fns.Holder.method, "inside a class"),
        (functools.partial(executor_fns.double, 2), "not a plain function"),
        (print, "not a plain function"),
        (executor_fns.shadowed, "does not name it"),
    ],
)
def test_functions_a_worker_cannot_import_are_refused_with_the_reason(
    fn: object, reason: str
) -> None:
    with pytest.raises(NotImportable) as caught:
        function_ref(fn)  # type: ignore[arg-type]
    assert reason in str(caught.value)
    assert "top level of a module" in str(caught.value)
    assert isinstance(caught.value, TypeError)  # what a wrong argument is, too


def test_a_function_of_main_is_refused() -> None:
    fn = executor_fns.double
    original = fn.__module__
    fn.__module__ = "__main__"
    try:
        with pytest.raises(NotImportable, match="__main__"):
            function_ref(fn)
    finally:
        fn.__module__ = original


def test_a_hub_without_an_address_names_the_variable() -> None:
    executors = Executors.for_hub(ray_address=None)
    assert executors.names == frozenset()
    with pytest.raises(ExecutorUnavailable) as caught:
        executors.get("ray")
    assert "TETHER_RAY_ADDRESS is not set" in str(caught.value)
    assert caught.value.executor == "ray" and caught.value.code == "executor_unavailable"


def test_an_unknown_executor_name_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="'dask'"):
        Executors().get("dask")


def test_offload_checks_the_code_before_the_hub() -> None:
    """A lambda fails as NotImportable even where Ray is not offered: the mistake is in
    the code, and should show wherever it runs."""
    with pytest.raises(NotImportable):
        Offload.of(Executors(), "ray", lambda: 1, None)
    with pytest.raises(TypeError, match=r"fn\(item\)"):
        Offload.of(Executors(), "ray", executor_fns.pair, None, arity=1)
    with pytest.raises(TypeError, match="ray_options"):
        Offload.of(Executors(), "ray", executor_fns.double, {1: 2})  # type: ignore[dict-item]
    with pytest.raises(ExecutorUnavailable):
        Offload.of(Executors(), "ray", executor_fns.double, {"num_cpus": 2}, arity=1)


def test_settings_read_and_check_the_ray_address() -> None:
    assert Settings.from_env({}).ray_address is None
    for address in ("auto", "ray://head:10001", "10.0.0.5:6379", "[::1]:6379"):
        assert Settings.from_env({"TETHER_RAY_ADDRESS": address}).ray_address == address
    with pytest.raises(ValueError, match="TETHER_RAY_ADDRESS='head'"):
        Settings.from_env({"TETHER_RAY_ADDRESS": "head"})


def test_ray_is_imported_only_when_a_call_uses_it() -> None:
    """Building a hub app with a Ray address configured imports no Ray (it takes seconds
    and is an optional extra)."""
    code = (
        "import sys\n"
        "from tether.app import create_app\n"
        "from tether.config import Settings\n"
        "from tether.demos import hub\n"
        "from tether.executors import Executors\n"
        "create_app(Settings(ray_address='auto', static_dir=None), hub)\n"
        "Executors.for_hub(ray_address='auto')\n"
        "assert 'ray' not in sys.modules, 'ray was imported'\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
