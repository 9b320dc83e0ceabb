"""DCGAN on Fashion-MNIST: a faithful Keras 3 port of the PyImageSearch tutorial."""
