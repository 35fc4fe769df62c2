"""The run-level summary (summary.md, summary.csv, roc.png) and the frontier plot."""

import contextlib
import csv
import io

import numpy as np
import pytest

from miabench import frontier
from miabench.cli import main


@pytest.fixture(scope="module")
def tiny_run(data_dir, tmp_path_factory):
    """A tiny run through the CLI (K = 4, 2 epochs, loss and LiRA): its folder and what it printed."""
    root = tmp_path_factory.mktemp("tiny-run")
    argv = ["run", "--models", "4", "--param", "epochs=2", "--attack", "loss,lira", "--data-dir", str(data_dir),
            "--cache-dir", str(root / "cache"), "--out", str(root / "out"), "--quiet"]  # fmt: skip
    printed = io.StringIO()  # a module fixture cannot take capsys
    with contextlib.redirect_stdout(printed), pytest.warns(UserWarning, match="reference models per target"):
        assert main(argv) == 0
    return root / "out", printed.getvalue()


def test_run_says_where_it_wrote_and_leaves_a_summary(tiny_run):
    out, printed = tiny_run
    assert f"records written to {out}/" in printed and f"{out}/roc.png" in printed
    for name in ("summary.md", "summary.csv", "roc.png"):
        assert (out / name).stat().st_size > 100
    text = (out / "summary.md").read_text()
    assert "task location | defense none | K = 4" in text and "utility:" in text and "| lira " in text


def test_summary_csv_has_one_row_per_attack_with_the_records_numbers(tiny_run):
    import miabench

    out, _ = tiny_run
    rows = list(csv.DictReader((out / "summary.csv").open()))
    records = {record.attack.name: record for record in miabench.load(out)}
    assert [row["attack"] for row in rows] == ["loss", "lira"]
    for row in rows:
        record = records[row["attack"]]
        assert float(row["auc"]) == pytest.approx(record.metrics.auc.mean)
        assert float(row["auc_ci_low"]) == pytest.approx(record.metrics.auc.ci95[0])
        tpr = record.metrics.tpr_at_fpr["0.01"]
        assert float(row["tpr@0.01"]) == pytest.approx(tpr.mean)
        assert float(row["tpr@0.01_ci_high"]) == pytest.approx(tpr.ci95[1])
        assert float(row["test_accuracy"]) == pytest.approx(record.utility.test_accuracy.mean)


def test_frontier_plot_has_a_title_error_bars_and_percent_ticks(tmp_path):
    points = [
        {"setting": "none", "test_accuracy": 0.8, "test_accuracy_std": 0.01, "attack": "lira", "auc": 0.7,
         "tpr_at_1pct_fpr": 0.05, "tpr_ci95": [0.04, 0.06]},
        {"setting": "dpsgd-epsilon=4", "test_accuracy": 0.7, "test_accuracy_std": 0.02, "attack": "loss",
         "auc": 0.55, "tpr_at_1pct_fpr": 0.012, "tpr_ci95": [0.01, 0.015]},
        {"setting": "dpsgd-epsilon=1", "test_accuracy": 0.6, "test_accuracy_std": 0.02, "attack": "loss",
         "auc": 0.51, "tpr_at_1pct_fpr": 0.0, "tpr_ci95": [0.0, 0.002]},
        {"setting": "dpsgd-epsilon=8", "test_accuracy": 0.705, "test_accuracy_std": 0.02, "attack": "loss",
         "auc": 0.56, "tpr_at_1pct_fpr": 0.013, "tpr_ci95": [0.011, 0.016]},  # next to epsilon=4
    ]  # fmt: skip
    figure = frontier.plot(points, tmp_path / "frontier", "privacy–utility frontier: task location, dpsgd, K = 4")
    assert (tmp_path / "frontier.png").stat().st_size > 1000
    (axes,) = figure.axes
    assert axes.get_title().endswith("K = 4")
    assert len(axes.containers) == len(points)  # one ErrorbarContainer per setting
    assert all(container.has_yerr and container.has_xerr for container in axes.containers)
    figure.canvas.draw()
    labels = [tick.get_text() for tick in axes.get_yticklabels() if tick.get_text()]
    assert labels and all(label.endswith("%") and "10^" not in label and "×" not in label for label in labels)
    box = axes.get_window_extent()
    assert sorted(text.get_text() for text in axes.texts) == sorted(p["setting"] for p in points)
    extents = [text.get_window_extent() for text in axes.texts]
    for i, extent in enumerate(extents):  # every point's label lies inside the axes, and none overprints another
        assert box.x0 <= extent.x0 and extent.x1 <= box.x1 and box.y0 <= extent.y0 and extent.y1 <= box.y1
        assert not any(extent.overlaps(other) for other in extents[i + 1 :])


def test_roc_plot_draws_every_attack_with_a_band(tmp_path):
    from miabench.summary import plot_roc

    rng = np.random.default_rng(0)
    curves = {"loss": np.sort(rng.uniform(size=(4, 33)), axis=1), "lira": np.sort(rng.uniform(size=(4, 33)), axis=1)}
    figure = plot_roc(curves, "ROC: task toy, defense none, K = 4", tmp_path / "roc.png")
    (axes,) = figure.axes
    assert (tmp_path / "roc.png").stat().st_size > 1000
    assert [t.get_text() for t in axes.get_legend().get_texts()] == ["loss", "lira", "chance"]
    assert len(axes.collections) == 2  # the bands
    assert "0.01%" in [tick.get_text() for tick in axes.get_xticklabels()]


def test_the_readme_shows_a_committed_runs_output_summary_and_roc():
    import re
    from pathlib import Path

    from miabench import record, report
    from miabench.cli import written

    root = Path(__file__).resolve().parents[2]
    readme = (root / "README.md").read_text()
    pattern = r"<!-- run output: (\S+) -->\n```text\n(.+?)\n```\n<!-- /run output -->"
    folder, block = re.search(pattern, readme, flags=re.DOTALL).groups()
    names = [row["attack"] for row in csv.DictReader((root / folder / "summary.csv").open())]
    records = [record.read(root / folder / name / "result.json") for name in names]
    summary = (root / folder / "summary.md").read_text()
    assert summary == report.run_summary(records) + "\n"  # the summary is the committed records'
    assert summary.strip() in block and written(Path(folder), records).strip() in block
    figure = re.search(r"!\[[^]]*\]\((docs/\S+\.png)\)", readme.split("## Using it")[1]).group(1)
    assert (root / figure).read_bytes() == (root / folder / "roc.png").read_bytes()
