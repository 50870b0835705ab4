"""The scatter plots' point names do not overprint each other: plot.place_labels puts each name
where it overlaps the fewest names and markers. Checked on the demo's logme layout, where a fixed
offset put two names on top of each other, and on a tight cluster."""
import os
import sys

sys.path.insert(0, os.path.join(os.environ.get("XFER_SOURCE_DIR", "."), "tests", "common"))
sys.path.insert(0, os.path.join(os.environ.get("XFER_SOURCE_DIR", "."), "scripts"))
from xfertest import check, finish  # noqa: E402

import matplotlib  # noqa: E402

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import plot  # noqa: E402


def label_boxes(fig, ax):
    fig.canvas.draw()
    r = fig.canvas.get_renderer()
    boxes = []
    for t in ax.texts:
        e = t.get_window_extent(r)
        boxes.append((t.get_text(), (e.x0, e.y0, e.x1, e.y1)))
    return boxes


def layout(points):
    fig, ax = plt.subplots(figsize=(6, 4.8))
    ax.plot([p[0] for p in points], [p[1] for p in points], "o")
    ax.margins(x=0.15, y=0.12)
    plot.place_labels(fig, ax, points)
    boxes = label_boxes(fig, ax)
    plt.close(fig)
    return boxes


CASES = {
    # the demo's logme scores and mean best accuracies (README): untrained and other_clothes collided
    "demo logme": [(-0.568336, 0.5433, "untrained"), (-0.542666, 0.5429, "other_clothes"),
                   (-0.536792, 0.5279, "same_classes_small"), (-0.554612, 0.4858, "footwear"),
                   (-0.569954, 0.4733, "footwear_then_clothes"), (-0.502784, 0.5871, "all_others"),
                   (-0.485941, 0.6492, "same_classes")],
    "cluster": [(1.0 + 0.01 * i, 0.5 + 0.002 * (i % 3), "source_%d" % i) for i in range(5)]
               + [(2.0, 0.9, "far")],
}

for name, pts in CASES.items():
    boxes = layout(pts)
    check(sorted(b[0] for b in boxes) == sorted(p[2] for p in pts), name + ": every point named once")
    worst = 0.0
    for i in range(len(boxes)):
        for j in range(i + 1, len(boxes)):
            ov = plot.overlap(boxes[i][1], boxes[j][1])
            if ov > worst:
                worst = ov
                pair = (boxes[i][0], boxes[j][0])
    check(worst == 0.0, "%s: no two names overlap (worst %.1f px^2%s)" %
          (name, worst, "" if worst == 0 else ", %s / %s" % pair))

finish()
