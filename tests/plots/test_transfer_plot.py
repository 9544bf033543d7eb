"""The transfer figure: one panel per set and functional, with every answered curve drawn."""

import numpy as np
import pandas as pd

from scattermorph.plots.transfer import plot_transfer


def test_one_panel_per_set_and_functional(rng):
    rows = []
    for s in ("a", "b", "c"):
        for f in ("volume_density", "euler_density"):
            for k in range(4):
                y = rng.normal()
                rows.append({"set": s, "functional": f, "y_true": y, "y_mean": y + 0.1, "y_std": 0.05,
                             "in_domain": k % 2 == 0, "refused": k == 3})
    fig = plot_transfer(pd.DataFrame(rows))
    axes = np.array(fig.axes).reshape(3, 2)
    assert axes.shape == (3, 2)
    # three answered curves per panel (one refused), in two marker groups (inside / outside the domain)
    for ax in axes.ravel():
        points = sum(len(line.get_xdata()) for line in ax.lines if line.get_marker() == "o")
        assert points == 3
