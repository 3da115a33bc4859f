# Reference numbers for a partial credit calibration in which category 0 of item i1 is used ONLY by
# extreme (all-zero) scorers, from psychotools::pcmodel and eRm::PCM (both conditional ML).
#
#   Rscript scoring_jobs/rasch/reference/extreme_category_reference.R [FIXTURE_DIR]
#                                                     (default tests/scoring_jobs/rasch/fixtures)
#
# Reads FIXTURE_DIR/extreme_category.csv (written by scoring_jobs/rasch/reference/make_extreme_category.py:
# id + i1..i6, categories 0..4, no missing values; 6 persons answer 0 everywhere and are the only ones
# with i1 = 0) and writes into FIXTURE_DIR:
#   psychotools_extreme_category.csv  item, step, threshold   pcmodel(X) with default arguments
#   erm_extreme_category.csv          item, step, threshold   PCM(X) with default arguments (sum0 = TRUE)
#   extreme_category_notes.txt        persons dropped, conditional log-likelihoods, parameter counts, ...
#
# What happens: neither package removes the 6 all-zero persons from the data. Under CML a person with raw
# score 0 contributes log(1) = 0, so they carry no information, but because they are still in the data
# both packages see category 0 of i1 as "used": psychotools' null-category check (nullcats = "keep", the
# default) finds no null category and eRm raises no warning. Both then estimate all 4 steps of i1
# (23 free parameters). Among the persons that carry information i1 = 0 never occurs, so the conditional
# likelihood increases monotonically as the first step threshold of i1 goes to -Inf: the MLE does not
# exist for that parameter and the optimisers stop wherever their tolerance is met (see the notes file for
# the value each reached; psychotools' Hessian is nearly singular, standard errors ~200). The other 19
# thresholds converge to the finite limit, which is the fit with the extreme persons removed and
# category 0 of i1 dropped (22 parameters), and agree across packages to ~1e-5 (see the notes file).
#
# Conversion to the written parameterisation (the same for both packages):
#   1. step thresholds delta_ik on the difficulty scale:
#        psychotools: coef() are the cumulative category parameters eta_ik = sum_{j<=k} delta_ij with
#                     eta_i0 = 0 and the first free parameter i1-C1 fixed at 0; delta_ik = eta_ik - eta_i,k-1.
#        eRm:         thresholds(fit)$threshtable (columns "Threshold k") are already delta_ik.
#   2. steps that are not estimable from the non-extreme persons (here only i1 step 1, whose lower
#      category 0 is unused; generally: steps below the lowest / above the highest category used, and both
#      steps around an interior unused category) are set to NA. The value the optimiser stopped at is
#      reported in the notes file only.
#   3. recentre: item location = mean of the item's non-NA step thresholds (so i1's location is the mean
#      of its steps 2..4); subtract the mean of the 6 item locations from every threshold, so the mean
#      item location is 0. (threshpar(type = "mode") would instead make the mean of all thresholds 0,
#      including the diverging one, which would shift every item by an arbitrary amount.)
suppressPackageStartupMessages({ library(psychotools); library(eRm) })
options(digits = 17)

args <- commandArgs(trailingOnly = TRUE)
dir <- if (length(args) >= 1) args[[1]] else "tests/scoring_jobs/rasch/fixtures"
d <- read.csv(file.path(dir, "extreme_category.csv"), stringsAsFactors = FALSE)
X <- as.matrix(d[, -1])
rownames(X) <- d$id
stopifnot(!anyNA(X))
items <- colnames(X)
m <- apply(X, 2, max)                      # highest category per item (all 4 here)
fmt <- function(x) ifelse(is.na(x), NA, sprintf("%.17g", x))

# --- which steps are estimable from the non-extreme persons ---------------------------------------------
rs <- rowSums(X)
informative <- rs > 0 & rs < sum(m)
n_extreme <- sum(!informative)
estimable <- lapply(seq_along(items), function(i) {
  used <- (0:m[i]) %in% X[informative, i]
  lo <- min(which(used)) - 1; hi <- max(which(used)) - 1
  ok <- rep(TRUE, m[i])
  ok[seq_len(m[i]) <= lo | seq_len(m[i]) > hi] <- FALSE
  for (k in which(!used) - 1) if (k > lo && k < hi) ok[c(k, k + 1)] <- FALSE   # interior null category
  ok
})

long <- function(delta) {                  # delta: list of step-threshold vectors, one per item
  delta <- mapply(function(x, ok) ifelse(ok, x, NA), delta, estimable, SIMPLIFY = FALSE)
  loc <- sapply(delta, function(x) mean(x, na.rm = TRUE))
  shift <- mean(loc)
  do.call(rbind, lapply(seq_along(items), function(i)
    data.frame(item = items[i], step = seq_along(delta[[i]]), threshold = delta[[i]] - shift)))
}
raw_steps <- function(delta) {             # values at the non-estimable steps, on the csv's scale
  shift <- mean(mapply(function(x, ok) mean(x[ok]), delta, estimable))
  unlist(mapply(function(x, ok, it) setNames(x[!ok] - shift, sprintf("%s step %d", it, which(!ok))),
                delta, estimable, items, SIMPLIFY = FALSE))
}

# psychotools: cumulative parameters -> step thresholds
pt_delta <- function(fit, Y) {
  cf <- coef(fit)
  lapply(colnames(Y), function(it) {
    mm <- max(Y[, it])
    eta <- c(0, sapply(seq_len(mm), function(k) {
      nm <- sprintf("%s-C%d", it, k)
      if (nm %in% names(cf)) cf[[nm]] else 0       # i1-C1 is the fixed reference (0)
    }))
    diff(eta)
  })
}
erm_delta <- function(fit) {
  tab <- thresholds(fit)$threshtable[[1]]
  lapply(seq_len(nrow(tab)), function(i) { x <- unname(tab[i, -1]); x[!is.na(x)] })
}

# --- psychotools, default arguments ---------------------------------------------------------------------
pt_warn <- character(0)
pt <- withCallingHandlers(pcmodel(X), warning = function(w) {
  pt_warn <<- c(pt_warn, conditionMessage(w)); invokeRestart("muffleWarning") })
pt_nullcats <- eval(formals(pcmodel)$nullcats)[1]   # match.arg default: "keep"
pt_d <- pt_delta(pt, X)
pt_long <- long(pt_d)
write.csv(transform(pt_long, threshold = fmt(threshold)), file.path(dir, "psychotools_extreme_category.csv"),
          row.names = FALSE)

# --- eRm, default arguments -----------------------------------------------------------------------------
erm_warn <- character(0)
erm_out <- capture.output(er <- withCallingHandlers(PCM(X), warning = function(w) {
  erm_warn <<- c(erm_warn, conditionMessage(w)); invokeRestart("muffleWarning") }))
er_d <- erm_delta(er)
er_long <- long(er_d)
write.csv(transform(er_long, threshold = fmt(threshold)), file.path(dir, "erm_extreme_category.csv"),
          row.names = FALSE)

# --- comparison: the well-posed fit (extreme persons removed, i1 recoded 1..4 -> 0..3) --------------------
X2 <- X[informative, , drop = FALSE]
pt2 <- suppressWarnings(pcmodel(X2))       # warns "Minimum score is not zero ... scaled to zero"
pt2_d <- pt_delta(pt2, scale(X2, center = apply(X2, 2, min), scale = FALSE))
pt2_d[[1]] <- c(NA, pt2_d[[1]])            # i1's steps 2..4
pt2_long <- long(pt2_d)
er2 <- suppressWarnings({ capture.output(f <- PCM(X2)); f })
er2_d <- erm_delta(er2); er2_d[[1]] <- c(NA, er2_d[[1]])
er2_long <- long(er2_d)
maxdiff <- function(a, b) max(abs(a$threshold - b$threshold), na.rm = TRUE)

notes <- c(
  sprintf("R: %s", R.version.string),
  sprintf("psychotools %s, eRm %s", packageVersion("psychotools"), packageVersion("eRm")),
  sprintf("data: %d persons x %d items (%s), categories 0..4, no missing values", nrow(X), ncol(X),
          paste(items, collapse = ",")),
  sprintf("extreme persons (raw score 0 or %d): %d (all raw score 0: %s)", sum(m), n_extreme,
          paste(rownames(X)[!informative], collapse = ",")),
  "",
  "psychotools::pcmodel(X), default arguments",
  sprintf("  nullcats used: \"%s\" (the default); null categories detected: %s", pt_nullcats,
          if (is.null(pt$nullcats)) "none (the all-zero persons are still in the data, so i1 = 0 counts as used)"
          else paste(capture.output(str(pt$nullcats)), collapse = " ")),
  sprintf("  persons dropped as extreme: 0 (fit$n = %d of %d rows; extremes are kept and contribute 0 to the CLL)",
          pt$n, nrow(X)),
  sprintf("  conditional logLik: %.12f", as.numeric(logLik(pt))),
  sprintf("  estimated parameters (df): %d", attr(logLik(pt), "df")),
  sprintf("  optim convergence code: %d, iterations (gradient evaluations): %d", pt$code, pt$iterations),
  sprintf("  warnings: %s", if (length(pt_warn)) paste(pt_warn, collapse = " | ") else "none"),
  sprintf("  non-estimable step(s), value where optim stopped (on the csv's recentred scale): %s",
          paste(sprintf("%s = %.6f", names(raw_steps(pt_d)), raw_steps(pt_d)), collapse = ", ")),
  sprintf("  its standard error (sqrt(vcov)) of i1-C2, the first free parameter: %.3f (Hessian nearly singular)",
          sqrt(diag(vcov(pt)))[1]),
  "",
  "eRm::PCM(X), default arguments (sum0 = TRUE)",
  sprintf("  persons dropped as extreme: 0 (nrow(fit$X) = %d; CML with the extremes in, they contribute 0)", nrow(er$X)),
  sprintf("  conditional loglik ($loglik): %.12f", er$loglik),
  sprintf("  estimated parameters ($npar): %d", er$npar),
  sprintf("  nlm convergence code: %d, iterations: %d", er$convergence, er$iter),
  sprintf("  warnings/messages: %s", if (length(c(erm_warn, erm_out))) paste(c(erm_warn, erm_out), collapse = " | ") else "none"),
  sprintf("  non-estimable step(s), value where nlm stopped (on the csv's recentred scale): %s",
          paste(sprintf("%s = %.6f", names(raw_steps(er_d)), raw_steps(er_d)), collapse = ", ")),
  "",
  "Comparison fits: extreme persons removed first (X2, 500 persons), i1 shifted to 0..3 by the package",
  sprintf("  psychotools pcmodel(X2): logLik %.12f, df %d, nullcats detected: %s", as.numeric(logLik(pt2)),
          attr(logLik(pt2), "df"), if (is.null(pt2$nullcats)) "none" else "yes"),
  sprintf("  eRm PCM(X2):             loglik %.12f, npar %d", er2$loglik, er2$npar),
  sprintf("  max |threshold difference| over the 23 estimable steps (recentred as in the csv files):"),
  sprintf("    psychotools(X) vs psychotools(X2): %.3g", maxdiff(pt_long, pt2_long)),
  sprintf("    eRm(X)         vs eRm(X2):         %.3g", maxdiff(er_long, er2_long)),
  sprintf("    psychotools(X2) vs eRm(X2):        %.3g", maxdiff(pt2_long, er2_long)),
  sprintf("    psychotools(X)  vs eRm(X):         %.3g", maxdiff(pt_long, er_long)),
  "  The X2 fits are the boundary MLE (the supremum of the CLL as i1 step 1 -> -Inf); psychotools(X2) reaches",
  "  the highest CLL of the four fits (eRm's nlm stops a little earlier).",
  "  The csv files come from the default fits on X as asked, so compare them with a tolerance of ~1e-4.",
  "",
  "Parameterisation in the csv files: step thresholds delta_ik (difficulty scale), NA for non-estimable",
  "steps, shifted so that the mean over items of (mean of the item's non-NA steps) is 0."
)
writeLines(notes, file.path(dir, "extreme_category_notes.txt"))
cat(notes, sep = "\n")
