"""The figures: class names on the axes (read from the matplotlib figure's text, not from
pixels), sizes that grow with the class count, the order of the bars, the frequency axes."""
import numpy as np
import pytest

from slnl_tf import plots


def _texts(figure):
    return {text.get_text() for text in figure.findobj(lambda artist: hasattr(artist, "get_text"))}


def _matrix(classes, seed=0):
    rng = np.random.default_rng(seed)
    matrix = rng.integers(0, 3, size=(classes, classes))
    matrix[np.diag_indices(classes)] += 10
    return matrix


@pytest.mark.parametrize("classes", [5, 60, 120])
def test_confusion_matrix_names_every_class_and_grows_with_them(classes, tmp_path):
    names = [f"action {i:03d}" for i in range(classes)]
    figure = plots.confusion_figure(_matrix(classes), names)
    axes = figure.axes[0]
    assert [t.get_text() for t in axes.get_xticklabels()] == names == [t.get_text() for t in axes.get_yticklabels()]
    assert axes.get_xlabel() == "predicted class" and axes.get_ylabel() == "true class"
    assert any(a.get_ylabel() == "share of the true class" for a in figure.axes[1:])  # the colour scale
    width, height = figure.get_size_inches()
    assert height >= max(6.0, 0.2 * classes)
    cell_numbers = [t for t in axes.texts]
    assert (len(cell_numbers) > 0) == (classes <= plots.MAX_ANNOTATED_CLASSES)
    png, svg = plots.save(figure, str(tmp_path / "confusion"))
    assert open(png, "rb").read()[:8] == b"\x89PNG\r\n\x1a\n" and "action 000" in open(svg).read()


def test_cell_numbers_are_row_percentages():
    matrix = np.array([[3, 1], [0, 2]])
    axes = plots.confusion_figure(matrix, ["a", "b"]).axes[0]
    cells = {(round(t.get_position()[1]), round(t.get_position()[0])): t.get_text() for t in axes.texts}
    assert cells == {(0, 0): "75", (0, 1): "25", (1, 1): "100"}


def test_per_class_accuracy_is_sorted_worst_first_and_skips_classes_without_clips():
    matrix = np.array([[9, 1, 0], [5, 5, 0], [0, 0, 0]])
    figure = plots.per_class_accuracy_figure(matrix, ["good", "bad", "absent"])
    axes = figure.axes[0]
    labels = [t.get_text() for t in sorted(axes.get_yticklabels(), key=lambda t: -t.get_position()[1])]
    assert labels == ["bad", "good"]  # from the top
    assert sorted(round(bar.get_width()) for bar in axes.patches) == [50, 90]
    assert "overall 70.0 %" in _texts(figure)  # 14 of 20 clips


def test_top_confusions_lists_the_most_frequent_pairs_off_the_diagonal():
    matrix = np.array([[5, 4, 1], [0, 6, 0], [2, 0, 3]])
    names = ["hug", "push", "punch"]
    assert plots.top_confusions(matrix, names, 2) == [("hug", "push", 4, 0.4), ("punch", "hug", 2, 0.4)]
    assert "hug -> push" in _texts(plots.top_confusions_figure(matrix, names, 2))
    assert "No confusions" in _texts(plots.top_confusions_figure(np.eye(3, dtype=int), names))


def test_frequency_mask_figure_labels_its_axes_and_panels():
    assert list(plots.frequency_axis(4)) == [-2, -1, 0, 1] and list(plots.frequency_axis(5)) == [-2, -1, 0, 1, 2]
    masks = {f"{stream}, {part}": np.full((16, 8), 0.5) for stream in ("position", "velocity")
             for part in ("real", "imaginary")}
    figure = plots.frequency_mask_figure(masks, "Frequency attention masks, epoch 3")
    texts = _texts(figure)
    assert set(masks) <= texts and "Frequency attention masks, epoch 3" in texts
    assert "temporal frequency (cycles per clip)" in texts and "joint frequency (cycles per skeleton)" in texts
    assert "mask value (1 = kept)" in texts
    panel = figure.axes[0]
    left, right, bottom, top = panel.images[0].get_extent()
    assert (left, right) == (-4.5, 3.5) and (bottom, top) == (-8.5, 7.5)  # zero frequency in the middle
    in_hertz = plots.frequency_mask_figure({"position, real": np.zeros((16, 8))}, frames_per_second=30)
    assert "temporal frequency (Hz)" in _texts(in_hertz)
    assert in_hertz.axes[0].images[0].get_extent()[2] == pytest.approx(-15.0 - 30 / 16 / 2)
    assert plots.png_bytes(figure)[:8] == b"\x89PNG\r\n\x1a\n"
    # One colour scale over the values present in all panels.
    spread = plots.frequency_mask_figure({"a": np.full((4, 4), 0.4), "b": np.full((4, 4), 0.7)})
    assert {image.get_clim() for axes in spread.axes for image in axes.images} == {(0.4, 0.7)}
