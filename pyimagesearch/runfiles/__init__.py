"""The run folder's format: the files a run writes and reads back
(checkpoints, the run's configuration, file names and the lock, montages,
plots, the metrics CSVs, saved generators) and the tools that read them
(comparing runs).  Below the training app (run/), above the models, the
data and the quality measurements."""
