"""The demo's DensePose quality bar (recorded as bar_met in its report)."""

from mobile_densepose.demo import DP_AP_MARGIN, densepose_bar


def test_bar_needs_a_clear_margin_over_the_untrained_model() -> None:
    assert DP_AP_MARGIN == 1.0
    assert densepose_bar(0.0, 9.1)  # the README's demo run (800 steps, 1 thread)
    assert densepose_bar(2.0, 3.0)  # exactly the margin
    assert not densepose_bar(2.0, 2.9)
    assert not densepose_bar(0.0, 0.0)  # the former 60-step smoke run
    assert not densepose_bar(5.0, 4.0)
