# Reference numbers for the Rasch engine tests, from eRm (CML) and psychotools (CML).
# Run from the repo root:  Rscript scoring_jobs/rasch/reference/erm_reference.R
# Writes into tests/scoring_jobs/rasch/fixtures/:
#   pcmdat2.csv                          eRm's pcmdat2 data (id + I1..I4)
#   erm_<name>_<model>_thresholds.csv    item, step, threshold  (eRm thresholds(), difficulty scale)
#   erm_<name>_<model>_summary.csv       key, value (conditional loglik, npar, iterations)
#   psychotools_<name>_<model>_thresholds.csv  same from psychotools::pcmodel / rsmodel
suppressPackageStartupMessages({ library(eRm); library(psychotools) })
out <- "tests/scoring_jobs/rasch/fixtures"

read_wide <- function(path) {
  d <- read.csv(path, stringsAsFactors = FALSE)
  m <- as.matrix(d[, -1])
  rownames(m) <- d[[1]]
  m
}

long_thresholds <- function(tab) {
  # tab: items x (Location, Threshold 1, Threshold 2, ...)
  rows <- list()
  for (i in seq_len(nrow(tab))) {
    th <- tab[i, -1]
    th <- th[!is.na(th)]
    rows[[i]] <- data.frame(item = sub("^beta ", "", rownames(tab)[i]), step = seq_along(th), threshold = th)
  }
  do.call(rbind, rows)
}

erm_fit <- function(X, model, name) {
  t0 <- proc.time()[["elapsed"]]
  fit <- if (model == "pcm") PCM(X, sum0 = TRUE) else RSM(X, sum0 = TRUE)
  el <- proc.time()[["elapsed"]] - t0
  tab <- thresholds(fit)$threshtable[[1]]
  rownames(tab) <- colnames(X)
  write.csv(long_thresholds(tab), file.path(out, sprintf("erm_%s_%s_thresholds.csv", name, model)),
            row.names = FALSE)
  s <- data.frame(key = c("loglik", "npar", "iterations", "seconds", "erm_version"),
                  value = c(sprintf("%.12f", fit$loglik), fit$npar, fit$iter, sprintf("%.2f", el),
                            as.character(packageVersion("eRm"))))
  write.csv(s, file.path(out, sprintf("erm_%s_%s_summary.csv", name, model)), row.names = FALSE)
  cat(name, model, "loglik", fit$loglik, "seconds", el, "\n")
  invisible(fit)
}

pt_fit <- function(X, model, name) {
  fit <- if (model == "pcm") pcmodel(X) else rsmodel(X)
  write.csv(data.frame(key = "loglik", value = sprintf("%.12f", as.numeric(logLik(fit)))),
            file.path(out, sprintf("psychotools_%s_%s_summary.csv", name, model)), row.names = FALSE)
  cat(name, model, "psychotools loglik", logLik(fit), "\n")
  if (model == "rsm") return(invisible(fit))  # rsmodel's coefficients are not per-step; loglik only
  # cumulative category parameters (first item's first category fixed at 0) -> step thresholds
  cf <- coef(fit)
  rows <- list()
  for (i in seq_len(ncol(X))) {
    m <- max(X[, i], na.rm = TRUE)
    eta <- c(0, sapply(seq_len(m), function(k) {
      nm <- sprintf("%s-C%d", colnames(X)[i], k)
      if (nm %in% names(cf)) cf[[nm]] else 0
    }))
    rows[[i]] <- data.frame(item = colnames(X)[i], step = seq_len(m), threshold = diff(eta))
  }
  write.csv(do.call(rbind, rows), file.path(out, sprintf("psychotools_%s_%s_thresholds.csv", name, model)),
            row.names = FALSE)
}

data(pcmdat2, package = "eRm")
write.csv(data.frame(id = sprintf("r%03d", seq_len(nrow(pcmdat2))), pcmdat2), file.path(out, "pcmdat2.csv"),
          row.names = FALSE)
fit <- erm_fit(as.matrix(pcmdat2), "rsm", "pcmdat2")
print(summary(fit))
erm_fit(as.matrix(pcmdat2), "pcm", "pcmdat2")

for (nm in c("sim_pcm", "sim_rsm")) {
  X <- read_wide(file.path(out, paste0(nm, ".csv")))
  model <- sub("^sim_", "", nm)
  erm_fit(X, model, nm)
  pt_fit(X, model, nm)
}
# Items with different numbers of categories and missing responses: eRm 1.0.2 returns a
# conditional log-likelihood below the maximum here (it agrees on the complete cases), so this data
# set is checked against psychotools::pcmodel, and eRm on its complete cases.
X <- read_wide(file.path(out, "sim_pcm_mixed.csv"))
pt_fit(X, "pcm", "sim_pcm_mixed")
erm_fit(X, "pcm", "sim_pcm_mixed")
cc <- X[complete.cases(X), ]
write.csv(data.frame(id = rownames(cc), cc), file.path(out, "sim_pcm_mixed_complete.csv"), row.names = FALSE)
erm_fit(cc, "pcm", "sim_pcm_mixed_complete")
# the PCM data fitted as RSM is not meaningful (items differ in categories); fit the RSM data as PCM too
erm_fit(read_wide(file.path(out, "sim_rsm.csv")), "pcm", "sim_rsm")
