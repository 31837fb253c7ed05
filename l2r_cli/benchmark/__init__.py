"""Benchmarks: the paper's evaluation protocols (``bfm``) and speed measurements (``speed``)."""
