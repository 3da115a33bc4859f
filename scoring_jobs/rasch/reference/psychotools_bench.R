# Time one R CML partial-credit fit for benchmarks/bench_rasch.py.
# Usage: Rscript scoring_jobs/rasch/reference/psychotools_bench.R DATA.csv erm|psychotools
# DATA.csv: header row of item names, one row per person, NA/empty = missing. Prints one line:
#   package=<pkg> seconds=<fit time, excluding reading> loglik=<conditional log-likelihood>
suppressPackageStartupMessages({ library(eRm); library(psychotools) })
args <- commandArgs(trailingOnly = TRUE)
X <- as.matrix(read.csv(args[1]))
pkg <- args[2]
t0 <- proc.time()[["elapsed"]]
fit <- if (pkg == "erm") PCM(X) else pcmodel(X)
el <- proc.time()[["elapsed"]] - t0
ll <- if (pkg == "erm") fit$loglik else as.numeric(logLik(fit))
cat(sprintf("package=%s seconds=%.3f loglik=%.6f\n", pkg, el, ll))
