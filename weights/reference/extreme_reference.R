# Reference numbers for leap.weights with extreme weights and a unanimous cell, from R's survey package.
#
#   Rscript weights/reference/extreme_reference.R [FIXTURE_DIR]     (default tests/weights/fixtures)
#
# Reads FIXTURE_DIR/extreme.csv (written by tests/weights/make_extreme_fixture.py; columns respondent_id,
# school_id, group, w, item, score) and writes, with 17 significant digits:
#   r_extreme_props.csv         per group: svymean(~factor(item), svydesign(ids = ~school_id, weights = ~w),
#                               na.rm = TRUE): group, category, p, se
#   r_extreme_school_means.csv  per school: svymean(~score, svydesign(ids = ~1, weights = ~w)):
#                               school_id, mean, se
#   r_extreme_contrast.csv      svydesign(ids = ~school_id, strata = ~group, weights = ~w) on all rows;
#                               svyby(~score, ~group, svymean, covmat = TRUE) + svycontrast(c(-1, 1)) (b - a):
#                               estimate, se, df (= degf(design)), t, p (t on df), p_normal, and
#                               svyttest(score ~ group): ttest_t, ttest_df, ttest_p
#   r_extreme_paired.csv        t.test(spring, fall, paired = TRUE) on respondents 1..10 of school A1:
#                               n, mean_diff, se, df, t, p, ci_low, ci_high
#
# Weights in group a go down to ~1e-299 (their squares underflow to 0 in float64). survey's svymean
# divides the weights by their sum before forming the linearisation variables (x * w / sum(w)), so it
# does not square raw weights and needs no special handling; design$prob = 1 / w stays finite (< 1e300).
suppressPackageStartupMessages(library(survey))
options(digits = 17)

args <- commandArgs(trailingOnly = TRUE)
dir <- if (length(args) >= 1) args[[1]] else "tests/weights/fixtures"
# colClasses: read w as double (read.csv would do so anyway; explicit so that no weight becomes a factor)
d <- read.csv(file.path(dir, "extreme.csv"), stringsAsFactors = FALSE,
              colClasses = c("character", "character", "character", "numeric", "integer", "numeric"))
stopifnot(all(d$w > 0), all(is.finite(d$w)))
write <- function(df, name) write.csv(df, file.path(dir, name), row.names = FALSE)
fmt <- function(x) sprintf("%.17g", unname(x))

# --- category shares per group ---------------------------------------------------------------------------
# Group b is unanimous (item == 3 for everyone): factor(item) has a single level there and
# svymean(~factor(item)) fails in model.matrix ("contrasts can be applied only to factors with 2 or more
# levels"). For a single-level factor the share is computed with svymean(~I(item == 3)) instead, whose
# "TRUE" row is the share of category 3 (the "FALSE" row, share 0, is not written since category != 3
# does not appear in the group).
prop_rows <- list()
for (g in sort(unique(d$group))) {
  dg <- d[d$group == g, ]
  des <- svydesign(ids = ~school_id, weights = ~w, data = dg)
  levs <- sort(unique(dg$item[!is.na(dg$item)]))
  if (length(levs) >= 2) {
    m <- svymean(~factor(item), des, na.rm = TRUE)
    cats <- sub("factor\\(item\\)", "", names(coef(m)))
    p <- coef(m); se <- SE(m)
  } else {
    m <- svymean(as.formula(sprintf("~I(item == %d)", levs)), des, na.rm = TRUE)
    keep <- grepl("TRUE$", names(coef(m)))
    cats <- as.character(levs)
    p <- coef(m)[keep]; se <- SE(m)[keep]
  }
  prop_rows[[g]] <- data.frame(group = g, category = cats, p = fmt(p), se = fmt(se))
}
write(do.call(rbind, prop_rows), "r_extreme_props.csv")

# --- score mean per school (each school alone, ids = ~1) ---------------------------------------------
school_rows <- list()
for (s in sort(unique(d$school_id))) {
  des <- svydesign(ids = ~1, weights = ~w, data = d[d$school_id == s, ])
  m <- svymean(~score, des)
  school_rows[[s]] <- data.frame(school_id = s, mean = fmt(coef(m)), se = fmt(SE(m)))
}
write(do.call(rbind, school_rows), "r_extreme_school_means.csv")

# --- group contrast b - a on the pooled stratified cluster design ----------------------------------------
des <- svydesign(ids = ~school_id, strata = ~group, weights = ~w, data = d)
b <- svyby(~score, ~group, des, svymean, covmat = TRUE)   # rows in order a, b
stopifnot(identical(as.character(b$group), c("a", "b")))
con <- svycontrast(b, c(-1, 1))
est <- unname(coef(con)); se <- unname(SE(con)); df <- degf(des)
t <- est / se
tt <- svyttest(score ~ group, des)
write(data.frame(estimate = fmt(est), se = fmt(se), df = fmt(df), t = fmt(t),
                 p = fmt(2 * pt(-abs(t), df)), p_normal = fmt(2 * pnorm(-abs(t))),
                 ttest_t = fmt(tt$statistic), ttest_df = fmt(tt$parameter), ttest_p = fmt(tt$p.value)),
      "r_extreme_contrast.csv")

# --- paired t-test ---------------------------------------------------------------------------------
# fall = scores of the first 10 respondents (file order) of school A1;
# spring = fall + c(3, -1, 4, 1, 5, -9, 2, 6, 5, 3)
a1 <- d[d$school_id == "A1", ]
fall <- a1$score[1:10]
spring <- fall + c(3, -1, 4, 1, 5, -9, 2, 6, 5, 3)
pt_res <- t.test(spring, fall, paired = TRUE)
diffs <- spring - fall
n <- length(diffs)
write(data.frame(n = n, mean_diff = fmt(mean(diffs)), se = fmt(sd(diffs) / sqrt(n)),
                 df = fmt(pt_res$parameter), t = fmt(pt_res$statistic), p = fmt(pt_res$p.value),
                 ci_low = fmt(pt_res$conf.int[1]), ci_high = fmt(pt_res$conf.int[2])),
      "r_extreme_paired.csv")

cat("wrote r_extreme_props.csv r_extreme_school_means.csv r_extreme_contrast.csv r_extreme_paired.csv to",
    dir, "\n")
