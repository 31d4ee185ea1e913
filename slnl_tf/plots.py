"""Figures for people: the confusion matrix, per-class accuracy, the most confused pairs and
the frequency-attention masks, drawn with matplotlib (headless Agg backend), saved as PNG
and SVG and logged to TensorBoard as images.

Every function returns a `matplotlib.figure.Figure`; `save` writes it, `png_bytes` gives
what `tf.summary.image` takes after `tf.io.decode_png`. Sizes grow with the class count so
that 60 and 120 classes stay readable."""
import io
import os

import numpy as np
from matplotlib.figure import Figure

# Above this many classes the cells are too small for their numbers.
MAX_ANNOTATED_CLASSES = 30


def _tick_fontsize(count):
    return 9 if count <= 20 else 7 if count <= 60 else 5


def _row_shares(matrix):
    return matrix / np.maximum(matrix.sum(axis=1, keepdims=True), 1)


def confusion_figure(matrix, class_names, title="Confusion matrix (rows: true class)"):
    """The row-normalised confusion matrix `(classes, classes)` as a heatmap with the class
    names on both axes, a colour scale of the share of each true class, and in each cell
    its percentage where the cells are large enough (up to MAX_ANNOTATED_CLASSES)."""
    count = len(matrix)
    shares = _row_shares(matrix)
    side = min(40.0, max(6.0, 0.2 * count + 3.0))
    figure = Figure(figsize=(side + 1.2, side), layout="constrained")
    axes = figure.add_subplot()
    image = axes.imshow(shares, cmap="Blues", vmin=0.0, vmax=1.0, interpolation="nearest")
    figure.colorbar(image, ax=axes, shrink=0.6, label="share of the true class")
    fontsize = _tick_fontsize(count)
    axes.set_xticks(range(count), class_names, rotation=90, fontsize=fontsize)
    axes.set_yticks(range(count), class_names, fontsize=fontsize)
    axes.set_xlabel("predicted class")
    axes.set_ylabel("true class")
    axes.set_title(f"{title}, {int(matrix.sum())} clips")
    if count <= MAX_ANNOTATED_CLASSES:
        for true, predicted in zip(*np.nonzero(matrix)):
            share = shares[true, predicted]
            axes.text(predicted, true, f"{100 * share:.0f}", ha="center", va="center", fontsize=fontsize - 1,
                      color="white" if share > 0.5 else "black")
    return figure


def per_class_accuracy_figure(matrix, class_names):
    """Each class's top-1 (the diagonal share of its row) as horizontal bars, worst first;
    classes without test clips are left out."""
    totals = matrix.sum(axis=1)
    present = np.flatnonzero(totals)
    accuracy = np.diag(matrix)[present] / totals[present]
    order = present[np.argsort(accuracy, kind="stable")]
    values = np.diag(matrix)[order] / totals[order]
    figure = Figure(figsize=(8.0, max(3.0, 0.22 * len(order) + 1.5)), layout="constrained")
    axes = figure.add_subplot()
    positions = np.arange(len(order))[::-1]  # worst at the top
    axes.barh(positions, 100 * values, color="tab:blue")
    axes.set_yticks(positions, [class_names[i] for i in order], fontsize=_tick_fontsize(len(order)))
    axes.set_xlim(0, 100)
    axes.set_xlabel("top-1 (%)")
    mean = 100 * float(np.diag(matrix).sum() / max(1, matrix.sum()))
    axes.axvline(mean, color="tab:red", linestyle="--", label=f"overall {mean:.1f} %")
    axes.legend(loc="lower right")
    axes.set_title("Per-class top-1, worst first")
    return figure


def top_confusions(matrix, class_names, count=20):
    """The `count` most frequent (true, predicted, clips, share of the true class) pairs off
    the diagonal, most frequent first."""
    off_diagonal = matrix.copy()
    np.fill_diagonal(off_diagonal, 0)
    shares = _row_shares(matrix)
    pairs = [(int(t), int(p)) for t, p in zip(*np.nonzero(off_diagonal))]
    pairs.sort(key=lambda pair: (-off_diagonal[pair], -shares[pair], pair))
    return [(class_names[t], class_names[p], int(off_diagonal[t, p]), float(shares[t, p])) for t, p in pairs[:count]]


def top_confusions_figure(matrix, class_names, count=20):
    """The most confused pairs as horizontal bars ("true -> predicted", clips)."""
    pairs = top_confusions(matrix, class_names, count)
    figure = Figure(figsize=(9.0, max(2.5, 0.3 * len(pairs) + 1.5)), layout="constrained")
    axes = figure.add_subplot()
    positions = np.arange(len(pairs))[::-1]
    axes.barh(positions, [clips for _, _, clips, _ in pairs], color="tab:orange")
    axes.set_yticks(positions, [f"{true} -> {predicted}" for true, predicted, _, _ in pairs], fontsize=8)
    axes.set_xlabel("clips")
    axes.set_title(f"The {len(pairs)} most confused pairs (true -> predicted)" if pairs else "No confusions")
    return figure


def frequency_axis(length):
    """The frequencies of an fftshift-ed axis of `length` bins, in cycles per length."""
    return np.fft.fftshift(np.fft.fftfreq(length, 1.0 / length))


def frequency_mask_figure(masks, title="Frequency attention masks", frames_per_second=None):
    """Heatmaps of frequency masks, one panel each. `masks` maps a panel's name (e.g.
    "position, real") to a `(T, V')` array of mask values in [0, 1] in fftshift order (zero
    frequency in the centre). Rows are temporal frequencies in cycles per clip (in Hz when
    `frames_per_second` is given), columns joint frequencies in cycles per V' joints."""
    names = list(masks)
    # One colour scale over all panels, spread over the values present: trained masks often
    # stay within a few tenths of their start (0.5), which a 0-1 scale would flatten.
    low, high = min(float(np.min(m)) for m in masks.values()), max(float(np.max(m)) for m in masks.values())
    low, high = (low, high) if high > low else (0.0, 1.0)
    columns = min(2, len(names))
    rows = -(-len(names) // columns)
    figure = Figure(figsize=(5.0 * columns + 1.0, 4.2 * rows), layout="constrained")
    panels = figure.subplots(rows, columns, squeeze=False)
    image = None
    for axes, name in zip(panels.flat, names):
        mask = np.asarray(masks[name], np.float32)
        temporal, joint = frequency_axis(mask.shape[0]), frequency_axis(mask.shape[1])
        if frames_per_second:
            temporal = temporal * frames_per_second / mask.shape[0]
        half_bin = 0.5 * (temporal[1] - temporal[0]) if len(temporal) > 1 else 0.5
        extent = (joint[0] - 0.5, joint[-1] + 0.5, temporal[0] - half_bin, temporal[-1] + half_bin)
        image = axes.imshow(mask, cmap="viridis", vmin=low, vmax=high, aspect="auto", extent=extent,
                            origin="lower", interpolation="nearest")
        axes.set_title(name)
        axes.set_xlabel("joint frequency (cycles per skeleton)")
        axes.set_ylabel("temporal frequency (Hz)" if frames_per_second else "temporal frequency (cycles per clip)")
    for axes in list(panels.flat)[len(names):]:
        axes.set_visible(False)
    if image is not None:
        figure.colorbar(image, ax=panels, shrink=0.8, label="mask value (1 = kept)")
    figure.suptitle(title)
    return figure


def png_bytes(figure, dpi=100):
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=dpi)
    return buffer.getvalue()


def save(figure, path_without_extension, formats=("png", "svg"), dpi=100):
    """Writes the figure as `<path>.png` and `<path>.svg` (for papers); returns the paths."""
    os.makedirs(os.path.dirname(path_without_extension) or ".", exist_ok=True)
    paths = []
    for extension in formats:
        paths.append(f"{path_without_extension}.{extension}")
        figure.savefig(paths[-1], format=extension, dpi=dpi)
    return paths
