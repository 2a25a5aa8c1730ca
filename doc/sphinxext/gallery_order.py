"""The order of the example gallery: the reading order, not the alphabet.

sphinx-gallery imports this sort key by name (``gallery_order.ReadingOrder``),
which keeps ``sphinx_gallery_conf`` picklable for Sphinx's environment cache.
"""

READING_ORDER = [
    "plot_l1ae_synthetic.py",
    "plot_sparse_pipeline_grid_search.py",
    "plot_compressed_label_classification.py",
    "plot_deep_l0_depth.py",
    "plot_deep_l0_classifier.py",
    "plot_relu_dictionary_autoencoder.py",
    "plot_learned_sketch_low_rank.py",
    "plot_training_callbacks.py",
]


class ReadingOrder:
    """Sort key: the listed examples first, in list order, then the others by name."""

    def __init__(self, src_dir):
        self.src_dir = src_dir

    def __call__(self, filename):
        name = str(filename)
        if name in READING_ORDER:
            return (0, READING_ORDER.index(name), name)
        return (1, 0, name)

    def __repr__(self):
        return "<ReadingOrder>"
