# Reference numbers for the DIF statistics (scoring_jobs/rasch/dif.py), from eRm, psychotools and vcdExtra.
# Run from the repo root, after scoring_jobs/rasch/reference/make_dif_data.py:
#   Rscript scoring_jobs/rasch/reference/dif_reference.R
# R packages: r-cran-erm r-cran-psychotools r-cran-vcdextra r-cran-multcomp (Debian).
# Reads tests/scoring_jobs/rasch/fixtures/dif_sim_pcm.csv and dif_science.csv; writes there:
#   dif_erm_lr.csv          eRm LRtest (Andersen): data, model, groups, lr, df, p_value, loglik_pooled, items_excluded
#   dif_erm_lr_groups.csv   the per-group conditional log-likelihoods of those tests
#   dif_erm_wald.csv        eRm Waldtest (two groups): one row per item-category parameter (eRm's cumulative
#                           easiness "beta", sum-zero within each group's fit): beta1, se1, beta2, se2, z, p
#   dif_psychotools_locations.csv  item-location contrasts anchored on a set of items (psychotools itempar
#                           with ref = anchor items; cross-checked against psychotools::anchortest "fixed")
#   dif_vcdextra_mantel.csv Mantel (1963) chi-square = vcdExtra::CMHtest "rmeans" (row mean scores differ,
#                           groups as rows, item score as column score), strata = answered-items pattern
#                           x total score; plus the standardized mean difference computed here by formula
#   dif_r_versions.csv      R and package versions
suppressPackageStartupMessages({ library(eRm); library(psychotools); library(vcdExtra) })
out <- "tests/scoring_jobs/rasch/fixtures"
# vcdExtra computes a Mantel statistic for every stratum before summing them into the overall one; a stratum
# whose item scores are all equal has a singular covariance and stops it. Such a stratum adds nothing to
# the overall statistic, so its own statistic is set to NA instead (the overall one is unchanged).
assignInNamespace("cmh", function(n, m, A, V, df) {
  AVA <- A %*% V %*% t(A)
  Q <- tryCatch(t(n - m) %*% t(A) %*% solve(AVA) %*% A %*% (n - m), error = function(e) NA_real_)
  c(Q, df, pchisq(Q, df, lower.tail = FALSE))
}, "vcdExtra")

read_dif <- function(file, group_col) {
  d <- read.csv(file.path(out, file), stringsAsFactors = FALSE)
  items <- setdiff(names(d), c("id", group_col))
  list(X = as.matrix(d[, items]), g = d[[group_col]], items = items)
}

fit_erm <- function(X, model) if (model == "pcm") PCM(X) else RSM(X)
fit_pt <- function(X, model) if (model == "pcm") pcmodel(X) else rsmodel(X)

lr_rows <- function(name, model, X, g) {
  fit <- fit_erm(X, model)
  lr <- suppressWarnings(LRtest(fit, splitcr = g))
  labels <- sort(unique(g))
  excluded <- setdiff(colnames(X), colnames(lr$X.list[[1]]))
  cat(name, model, paste(labels, collapse = "|"), "LR", lr$LR, "df", lr$df, "\n")
  list(
    lr = data.frame(data = name, model = model, groups = paste(labels, collapse = "|"),
                    lr = sprintf("%.10f", lr$LR), df = lr$df, p_value = sprintf("%.10g", lr$pvalue),
                    loglik_pooled = sprintf("%.10f", fit$loglik), items_excluded = paste(excluded, collapse = "|")),
    groups = data.frame(data = name, model = model, groups = paste(labels, collapse = "|"), group = labels,
                        loglik = sprintf("%.10f", lr$likgroup))
  )
}

wald_rows <- function(name, model, X, g) {
  w <- Waldtest(fit_erm(X, model), splitcr = g)
  labels <- sort(unique(g))
  par <- sub("^beta ", "", rownames(w$coef.table))
  data.frame(data = name, model = model, group1 = labels[1], group2 = labels[2],
             item = sub("\\.c[0-9]+$", "", par), category = as.integer(sub("^.*\\.c", "", par)),
             beta1 = w$betapar1, se1 = w$se.beta1, beta2 = w$betapar2, se2 = w$se.beta2,
             z = w$coef.table[, 1], p_value = w$coef.table[, 2])
}

# Item-location contrasts (group1 - group2, difficulty scale) with the mean location of the anchor items
# equal in both groups; every item, including the anchor alias psychotools::anchortest leaves out.
location_rows <- function(name, model, X, g, anchor, anchor_label) {
  labels <- sort(unique(g))
  f1 <- fit_pt(X[g == labels[1], ], model)
  f2 <- fit_pt(X[g == labels[2], ], model)
  ip1 <- itempar(f1, ref = anchor, vcov = TRUE)
  ip2 <- itempar(f2, ref = anchor, vcov = TRUE)
  est <- coef(ip1) - coef(ip2)
  se <- sqrt(diag(vcov(ip1)) + diag(vcov(ip2)))
  at <- anchortest(f1, f2, class = "fixed", select = anchor)
  tested <- names(at$final_tests$test$tstat)
  stopifnot(isTRUE(all.equal(unname(at$final_tests$test$tstat), unname((est / se)[tested]), tolerance = 1e-8)))
  data.frame(data = name, model = model, group1 = labels[1], group2 = labels[2], anchor = anchor_label,
             item = colnames(X), contrast = est, se = se, z = est / se)
}

# Mantel (1963) for one item: persons of the two groups who answered it, strata = which items a person
# answered x total score (the CML sufficient statistics), strata with fewer than two persons dropped.
mantel_row <- function(X, g, j, focal, reference) {
  keep <- !is.na(X[, j]) & g %in% c(focal, reference)
  pattern <- apply(is.na(X[keep, , drop = FALSE]), 1, paste, collapse = "")
  stratum <- paste(pattern, rowSums(X[keep, , drop = FALSE], na.rm = TRUE))
  big <- stratum %in% names(which(table(stratum) >= 2))
  y <- X[keep, j][big]
  grp <- factor(g[keep][big], levels = c(reference, focal))
  tab <- table(grp, factor(y, levels = sort(unique(X[, j]))), stratum[big])
  q <- as.numeric(CMHtest(tab, types = "rmeans", overall = TRUE)$ALL$table[[1, "Chisq"]])
  # standardized mean difference (Dorans & Schmitt): focal-weighted mean over strata holding both groups
  s <- stratum[big]
  both <- intersect(s[grp == focal], s[grp == reference])
  mf <- tapply(y[grp == focal], s[grp == focal], mean)[both]
  mr <- tapply(y[grp == reference], s[grp == reference], mean)[both]
  nf <- table(s[grp == focal])[both]
  yy <- X[keep, j]
  data.frame(item = colnames(X)[j], focal = focal, reference = reference,
             mantel_chi2 = q, df = 1, p_value = pchisq(q, 1, lower.tail = FALSE),
             smd = sum(nf * (mf - mr)) / sum(nf), sd_total = sd(yy))
}

mantel_rows <- function(name, X, g, focal, reference) {
  rows <- lapply(seq_len(ncol(X)), function(j) mantel_row(X, g, j, focal, reference))
  cbind(data = name, do.call(rbind, rows))
}

sim <- read_dif("dif_sim_pcm.csv", "group")
ab <- sim$g %in% c("A", "B")
sci <- read_dif("dif_science.csv", "half")

lr <- list(
  lr_rows("sim_pcm", "pcm", sim$X, sim$g),
  lr_rows("sim_pcm", "pcm", sim$X[ab, ], sim$g[ab]),
  lr_rows("science", "pcm", sci$X, sci$g),
  lr_rows("science", "rsm", sci$X, sci$g)
)
write.csv(do.call(rbind, lapply(lr, `[[`, "lr")), file.path(out, "dif_erm_lr.csv"), row.names = FALSE)
write.csv(do.call(rbind, lapply(lr, `[[`, "groups")), file.path(out, "dif_erm_lr_groups.csv"), row.names = FALSE)

wald <- rbind(
  wald_rows("sim_pcm", "pcm", sim$X[ab, ], sim$g[ab]),
  wald_rows("science", "pcm", sci$X, sci$g),
  wald_rows("science", "rsm", sci$X, sci$g)
)
write.csv(wald, file.path(out, "dif_erm_wald.csv"), row.names = FALSE)

loc <- rbind(
  location_rows("sim_pcm", "pcm", sim$X[ab, ], sim$g[ab], seq_len(ncol(sim$X)), "all"),
  location_rows("sim_pcm", "pcm", sim$X[ab, ], sim$g[ab], setdiff(seq_len(ncol(sim$X)), 4), "all_but_i04"),
  location_rows("science", "pcm", sci$X, sci$g, seq_len(ncol(sci$X)), "all"),
  location_rows("science", "rsm", sci$X, sci$g, seq_len(ncol(sci$X)), "all")
)
write.csv(loc, file.path(out, "dif_psychotools_locations.csv"), row.names = FALSE)

mantel <- rbind(
  mantel_rows("sim_pcm", sim$X, sim$g, "B", "A"),
  mantel_rows("sim_pcm", sim$X, sim$g, "C", "A"),
  mantel_rows("science", sci$X, sci$g, "odd", "even")
)
write.csv(mantel, file.path(out, "dif_vcdextra_mantel.csv"), row.names = FALSE)
print(mantel)

write.csv(data.frame(package = c("R", "eRm", "psychotools", "vcdExtra"),
                     version = c(paste(R.version$major, R.version$minor, sep = "."),
                                 as.character(packageVersion("eRm")), as.character(packageVersion("psychotools")),
                                 as.character(packageVersion("vcdExtra")))),
          file.path(out, "dif_r_versions.csv"), row.names = FALSE)
