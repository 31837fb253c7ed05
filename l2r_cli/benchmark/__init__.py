"""Benchmarks: the paper's evaluation protocols (``bfm``: SIDE/MAD, ``texture``: SSIM,
``identity``: cross-view face embeddings, ``threedfaw``: keypoint depth correlation,
``photoface``: normal accuracy; ``report``: Markdown with plots; ``diagnose``: pose and relief
fits) and speed measurements (``speed``, ``degrade_speed``)."""
