"""The card's plots: PNG files drawn with matplotlib (the export extra) from a `Summary`."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from synth.summary import SIZE_FIELDS, Summary, registry_coverage

PLOTS_DIR = "plots"


def _labels(summary: Summary, ax: Any) -> None:
    names = sorted(summary.kernel_types, key=lambda k: -summary.kernel_types[k])
    ax.barh(names[::-1], [summary.kernel_types[k] for k in names[::-1]], color="tab:blue")
    ax.set_xlabel("records")
    ax.set_title("kernel_type (label) distribution")


def _sizes(summary: Summary, ax: Any) -> None:
    sizes = {f: np.frombuffer(summary.sizes[f], dtype=np.int64) for f in SIZE_FIELDS}
    positive = np.concatenate([v[v > 0] for v in sizes.values()])
    bins = np.logspace(np.log10(positive.min()), np.log10(positive.max()), 40)
    for name, values in sizes.items():
        ax.hist(values[values > 0], bins=bins, histtype="step", linewidth=1.5, label=name)
    ax.set_xscale("log")
    ax.set_xlabel("bytes (log scale)")
    ax.set_ylabel("records")
    ax.set_title("sizes per record")
    ax.legend()


def _families(summary: Summary, ax: Any) -> None:
    registry = registry_coverage()
    families = sorted(set(registry) | set(summary.families), key=lambda f: -registry.get(f, 0))
    y = np.arange(len(families))
    seen = [len(summary.family_builtins.get(f, ())) for f in families]
    ax.barh(
        y + 0.2, [registry.get(f, 0) for f in families], height=0.4, label="in Warp's registry", color="0.75"
    )
    ax.barh(y - 0.2, seen, height=0.4, label="called in the dataset", color="tab:green")
    ax.set_yticks(y, families)
    ax.invert_yaxis()
    ax.set_xlabel("distinct builtins")
    ax.set_title("builtin-family coverage")
    ax.legend()


def _scatter(summary: Summary, ax: Any) -> None:
    source = np.frombuffer(summary.sizes["python_source"], dtype=np.int64)
    ax.scatter(source, summary.code_sizes(), s=6, alpha=0.5)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("python_source bytes")
    ax.set_ylabel("generated code bytes (forward + backward + helpers)")
    ax.set_title("python source vs generated code")


#: (file name, title, drawing); the card links them in this order.
PLOTS: tuple[tuple[str, str, Callable[[Summary, Any], None]], ...] = (
    ("kernel_types.png", "label distribution", _labels),
    ("sizes.png", "size histograms (log scale)", _sizes),
    ("builtin_families.png", "builtin-family coverage", _families),
    ("source_vs_code.png", "python source vs generated code size", _scatter),
)


def draw(summary: Summary, out: Path) -> list[tuple[str, str]]:
    """Draw every plot into `out/plots/`; (title, path relative to `out`) for the card."""
    import matplotlib

    matplotlib.use("Agg")  # files only, no display
    from matplotlib import pyplot as plt

    (out / PLOTS_DIR).mkdir(parents=True, exist_ok=True)
    links = []
    for name, title, plot in PLOTS:
        fig, ax = plt.subplots(figsize=(8, 5), layout="constrained")
        plot(summary, ax)
        fig.savefig(out / PLOTS_DIR / name, dpi=100)
        plt.close(fig)
        links.append((title, f"{PLOTS_DIR}/{name}"))
    return links
