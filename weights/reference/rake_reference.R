# Reference numbers for leap.weights, from R's survey package (Lumley).
#
#   Rscript weights/reference/rake_reference.R [FIXTURE_DIR]     (default tests/weights/fixtures)
#
# Reads FIXTURE_DIR/sample.csv and FIXTURE_DIR/margins.csv (columns variable, level, total) and writes
# FIXTURE_DIR/r_*.csv, which tests/weights compare with. Written with 17 significant digits.
#   r_rake.csv      rake() weights: tight convergence, R's default control, and unit base weights
#   r_trim.csv      calibrate(calfun = "raking", bounds = c(-Inf, U) * N / n, bounds.const = TRUE) weights
#   r_svymean.csv   svymean(~factor(item)) and the top-two share, by sample, without and with clusters
#   r_contrast.csv  svyby(~factor(item), ~sample, svymean, covmat = TRUE) + svycontrast(national - nextgen)
suppressPackageStartupMessages(library(survey))
options(digits = 17)

args <- commandArgs(trailingOnly = TRUE)
dir <- if (length(args) >= 1) args[[1]] else "tests/weights/fixtures"
sample <- read.csv(file.path(dir, "sample.csv"), stringsAsFactors = FALSE)
margins <- read.csv(file.path(dir, "margins.csv"), stringsAsFactors = FALSE)
vars <- unique(margins$variable)
write <- function(df, name) write.csv(df, file.path(dir, name), row.names = FALSE)
fmt <- function(x) sprintf("%.17g", unname(x))

# --- rake(): one formula and one population table per raking variable ---------------------------------
sample.margins <- lapply(vars, function(v) as.formula(paste0("~", v)))
population.margins <- lapply(vars, function(v) {
  m <- margins[margins$variable == v, ]
  out <- data.frame(m$level, m$total, stringsAsFactors = FALSE)
  names(out) <- c(v, "Freq")
  out
})
rake_weights <- function(base, control) {
  des <- svydesign(ids = ~1, weights = base, data = sample)
  weights(rake(des, sample.margins, population.margins, control = control))
}
sample$unit <- 1
tight <- list(maxit = 1000, epsilon = 1e-12)            # epsilon < 1: relative to the sum of base weights
rake_out <- data.frame(
  respondent_id = sample$respondent_id,
  weight_tight = fmt(rake_weights(~base_weight, tight)),
  weight_default = fmt(rake_weights(~base_weight, list(maxit = 10, epsilon = 1, verbose = FALSE))),
  weight_unit_base = fmt(rake_weights(~unit, tight))
)
write(rake_out, "r_rake.csv")

# --- bounded raking: final weights within [L, U] times the mean final weight N / n ------------------------
# bounds.const = TRUE makes the bounds apply to the weights themselves (not to g = w / d). The base weights
# sum to about N, so grake() does not rescale them (it does when every population / sample ratio > 20, and
# then reinterprets the bounds after rescaling). Only upper bounds: grake()'s derivative for bounded raking
# (cal.raking$dF tests u against bounds - 1 instead of log(bounds)) zeroes the Newton step of units whose
# g = w / d is far below 1, and on this fixture every finite lower bound fails to converge in R. Lower
# bounds are checked in the tests against an independent optimiser instead (scipy SLSQP).
N <- sum(margins$total[margins$variable == vars[[1]]])
n <- nrow(sample)
trim_cases <- list(c(-Inf, 3), c(-Inf, 4))
trim_out <- data.frame(respondent_id = sample$respondent_id)
for (b in trim_cases) {
  des <- svydesign(ids = ~1, weights = ~base_weight, data = sample)
  cal <- calibrate(des, sample.margins, population.margins, calfun = "raking",
                   bounds = b * N / n, bounds.const = TRUE, maxit = 500, epsilon = 1e-12)
  trim_out[[sprintf("weight_upper_%g", b[2])]] <- fmt(weights(cal))
}
write(trim_out, "r_trim.csv")

# --- svymean with the tight raked weights as given weights (no calibration adjustment to the SEs) --------
sample$w <- as.numeric(rake_out$weight_tight)
sample$top2 <- as.numeric(sample$item >= 3)
designs <- list(
  srs = function(d) svydesign(ids = ~1, weights = ~w, data = d),
  cluster = function(d) svydesign(ids = ~school_id, weights = ~w, data = d)
)
est_rows <- list()
for (dname in names(designs)) {
  for (group in c("all", "national", "nextgen")) {
    d <- if (group == "all") sample else sample[sample$sample == group, ]
    des <- designs[[dname]](d)
    m <- svymean(~factor(item), des, na.rm = TRUE)
    t2 <- svymean(~top2, des, na.rm = TRUE)
    est_rows[[length(est_rows) + 1]] <- data.frame(
      design = dname, group = group,
      category = c(sub("factor\\(item\\)", "", names(coef(m))), "top2"),
      proportion = fmt(c(coef(m), coef(t2))), se = fmt(c(SE(m), SE(t2))))
  }
}
write(do.call(rbind, est_rows), "r_svymean.csv")

# --- group difference national - nextgen --------------------------------------------------------------
# "separate": each sample its own design, svymean(na.rm = TRUE), SE = sqrt(se1^2 + se2^2) (independent
# samples). "svyby": svyby(covmat = TRUE) + svycontrast on one pooled design; svyby cannot drop missing
# values with covmat = TRUE (na.rm fails inside it), so there the respondents who skipped are dropped first.
answered <- sample[!is.na(sample$item), ]
con_rows <- list()
for (dname in names(designs)) {
  des <- designs[[dname]](answered)
  by <- svyby(~factor(item), ~sample, des, svymean, covmat = TRUE)
  sep <- lapply(c("national", "nextgen"), function(g)
    svymean(~factor(item), designs[[dname]](sample[sample$sample == g, ]), na.rm = TRUE))
  cats <- sub("factor\\(item\\)", "", names(coef(sep[[1]])))
  for (k in seq_along(cats)) {
    w <- setNames(c(1, -1), paste0(c("national", "nextgen"), ":factor(item)", cats[k]))
    con <- svycontrast(by, w)
    con_rows[[length(con_rows) + 1]] <- data.frame(
      design = dname, category = cats[k],
      difference = fmt(coef(sep[[1]])[k] - coef(sep[[2]])[k]),
      se_separate = fmt(sqrt(SE(sep[[1]])[k]^2 + SE(sep[[2]])[k]^2)),
      difference_svyby = fmt(coef(con)), se_svyby = fmt(SE(con)))
  }
}
write(do.call(rbind, con_rows), "r_contrast.csv")
cat("wrote r_rake.csv r_trim.csv r_svymean.csv r_contrast.csv to", dir, "\n")
