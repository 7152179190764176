"""tinygrad_lstm.compare.report: a Check's numbers, the report's verdicts, text and data."""
import json

import numpy as np
import pytest

from tinygrad_lstm.compare import Check, GradientReport, GradientRow


def test_check_between_full_arrays():
    autograd = np.array([[1.0, -2.0], [3.0, 4.0]])
    reference = autograd + np.array([[0.0, 1e-3], [0.0, -2e-3]])
    check = Check.between(autograd, reference, (1e-4, 1e-6))
    assert check.max_abs == pytest.approx(2e-3, rel=1e-9)
    assert check.max_rel == pytest.approx(2e-3 / 3.998, rel=1e-9)
    assert (check.checked, check.size, check.passed) == (4, 4, False)
    assert Check.between(autograd, reference, (1e-3, 0.0)).passed  # 2e-3 <= 1e-3 * 3.998, 1e-3 <= 1e-3 * 1.999


def test_check_is_elementwise_as_gradcheck():
    """A small entry wrong by 50% fails although it is tiny next to the largest entry."""
    autograd, reference = np.array([100.0, 1e-3]), np.array([100.0, 2e-3])
    assert not Check.between(autograd, reference, (1e-3, 0.0)).passed  # 1e-3 > 1e-3 * 2e-3
    assert Check.between(autograd, reference, (1e-3, 1e-3)).passed  # atol covers it


def test_check_between_a_subset_of_flat_indices():
    autograd = np.arange(6.0).reshape(2, 3)
    check = Check.between(autograd, (np.array([1, 5]), np.array([1.0, 5.5])), (0.0, 0.1))
    assert (check.checked, check.size) == (2, 6) and check.max_abs == 0.5 and not check.passed


def test_check_nan_never_passes_and_zero_reference():
    assert not Check.between(np.array([np.nan]), np.array([0.0]), (1.0, 1.0)).passed
    zero = Check.between(np.zeros(3), np.zeros(3), (0.0, 0.0))
    assert zero.passed and zero.max_rel == 0.0
    # An all-zero true gradient (c0 of a loss that ignores it): the absolute error, never inf.
    wrong = Check.between(np.full(2, 0.25), np.zeros(2), (1e-3, 0.0))
    assert wrong.max_rel == wrong.max_abs == 0.25 and not wrong.passed
    with pytest.raises(ValueError, match=r"reference gradient has shape \(2,\), autograd's \(3,\)"):
        Check.between(np.zeros(3), np.zeros(2), (0.0, 0.0))


def _report(passed: bool) -> GradientReport:
    rows = [GradientRow("weight", (2, 3), 1.5, {"manual": Check(1e-13, 1e-13, True, 6, 6),
                                                "numerical": Check(2e-9, 1e-9, passed, 4, 6)}),
            GradientRow("x", (4,), 0.25, {"manual": Check(0.0, 0.0, True, 4, 4),
                                          "numerical": Check(1e-10, 4e-10, True, 4, 4)})]
    return GradientReport("Toy()", "float64", "a loss", rows, {"manual": "by hand", "numerical": "differences"},
                          {"manual": (1e-9, 1e-12), "numerical": (1e-5, 1e-6)}, {"torch": "not installed"})


def test_report_verdicts_and_summary():
    good, bad = _report(True), _report(False)
    assert good.ok and good.failures() == []
    assert good.summary() == "all agree: autograd = manual = numerical for all 2 tensors"
    assert not bad.ok and bad.failures() == [("weight", "numerical")]
    assert bad.summary() == "DISAGREE: 1 of 4 comparisons failed: weight (numerical)"


def test_report_text_and_data():
    text = str(_report(False))
    assert text.startswith("Gradient check of Toy(), float64")
    assert "torch      (not compared: not installed)" in text and "FAIL*" in text and "random subset" in text
    data = json.loads(json.dumps(_report(True).to_dict()))
    assert data["skipped"] == {"torch": "not installed"} and data["references"]["manual"]["rtol"] == 1e-9
    assert data["rows"][0]["checks"]["numerical"] == {"max_abs": 2e-9, "max_rel": 1e-9, "passed": True,
                                                      "checked": 4, "size": 6}


def test_notebook_table_shows_the_warnings_and_where_the_manual_gradients_are_wrong():
    from tinygrad_lstm.manual.localize import GradientCheck
    report = _report(True)
    report.warnings = ["WARNING: checking in float32"]
    report.rows[0].checks["manual"] = Check(0.1, 0.1, False, 6, 6)
    report.rows[0].localization = GradientCheck("weight", False, 0.1, 0.1, gate="g", first_wrong_length=2)
    page = report._repr_html_()
    assert page.index("<b>WARNING: checking in float32</b>") < page.index("Gradient check of")
    assert "weight gate g wrong from length 2 on" in page and "elementwise" in page
    assert "weight gate g wrong from length 2 on" in str(report)
    assert report.to_dict()["rows"][0]["localization"]["where"] == "weight gate g wrong from length 2 on"
