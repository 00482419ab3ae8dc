"""The kernel dispatch helper and the assert-close helper."""

from __future__ import annotations

import pytest
import torch

from shared_utils import kernels
from shared_utils.kernels import assert_close, resolve_implementation


def test_torch_is_always_available() -> None:
    x = torch.zeros(3)
    assert resolve_implementation("torch", x) == "torch"


def test_auto_takes_reference_on_cpu() -> None:
    x = torch.zeros(3)
    assert resolve_implementation("auto", x) == "torch"


def test_unknown_implementation_is_rejected() -> None:
    with pytest.raises(ValueError, match="implementation must be one of"):
        resolve_implementation("cuda", torch.zeros(1), op="my_op")


def test_triton_on_cpu_without_interpreter_says_why(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRITON_INTERPRET", "0")
    if not kernels.triton_available():
        pytest.skip("triton is not installed")
    with pytest.raises(RuntimeError, match=r"my_op: .*TRITON_INTERPRET=1"):
        resolve_implementation("triton", torch.zeros(1), op="my_op")


def test_triton_on_cpu_with_interpreter(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRITON_INTERPRET", "1")
    if not kernels.triton_available():
        pytest.skip("triton is not installed")
    assert resolve_implementation("triton", torch.zeros(1)) == "triton"
    # auto still prefers the reference for CPU tensors: the interpreter is for tests.
    assert resolve_implementation("auto", torch.zeros(1)) == "torch"


def test_assert_close_passes_within_tolerance() -> None:
    a = torch.tensor([1.0, 2.0, 3.0])
    assert_close(a + 1e-7, a, rtol=0, atol=1e-6)


def test_assert_close_reports_worst_element() -> None:
    expected = torch.zeros(2, 3)
    actual = expected.clone()
    actual[0, 1] = 0.01
    actual[1, 2] = 0.5  # the worst one
    with pytest.raises(AssertionError) as info:
        assert_close(actual, expected, rtol=0, atol=1e-3, name="out")
    message = str(info.value)
    assert "out: 2/6 elements out of tolerance" in message
    assert "worst at index (1, 2)" in message
    assert "actual 0.5" in message


def test_assert_close_nan_handling() -> None:
    a = torch.tensor([float("nan"), 1.0])
    with pytest.raises(AssertionError, match="index \\(0,\\)"):
        assert_close(a, torch.tensor([0.0, 1.0]))
    assert_close(a, a.clone(), equal_nan=True)


def test_assert_close_shape_and_integers() -> None:
    with pytest.raises(AssertionError, match="shape"):
        assert_close(torch.zeros(2), torch.zeros(3))
    with pytest.raises(AssertionError, match=r"1/3 elements differ; first at index \(2,\)"):
        assert_close(torch.tensor([1, 2, 3]), torch.tensor([1, 2, 4]))
