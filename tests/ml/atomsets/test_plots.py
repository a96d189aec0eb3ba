import numpy as np
import pytest

from sseflow.ml.atomsets.plots import plot_p_si_histogram, plot_p_si_vs_d_training


def test_plots(tmp_path):
    rng = np.random.default_rng(0)
    p = rng.uniform(size=40)
    fig = plot_p_si_histogram(p, rng.uniform(size=40) > 0.5)
    fig.savefig(tmp_path / "hist.png")
    heights = sum(patch.get_height() for patch in fig.axes[0].patches)
    assert heights == 40
    fig = plot_p_si_vs_d_training(p, rng.uniform(size=40) * 3, rng.uniform(size=40) * 0.1)
    fig.savefig(tmp_path / "scatter.png")
    assert (tmp_path / "scatter.png").stat().st_size > 1000
    with pytest.raises(ValueError):
        plot_p_si_histogram(p, [True])
