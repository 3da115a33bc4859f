"""The words of the reports: suppression reasons, significance and effect sizes in plain language,
number formats. One home, so the page, the PDF and the tests say the same thing."""

from __future__ import annotations

SUPPRESSION = {
    "fewer_than_min_n": "fewer than {min_n} respondents answered",
    "complementary": "hidden so that a smaller hidden group cannot be worked out from the totals",
    "school_hidden": "hidden because the school's own result is hidden",
    "too_few_schools": "fewer than {min_schools} schools in a group: no test",
}


def suppression_text(reason: str | None, min_n: int, min_schools: int = 5) -> str | None:
    if reason is None:
        return None
    return SUPPRESSION.get(reason, reason).format(min_n=min_n, min_schools=min_schools)


def num(value: float | None, digits: int = 1) -> str:
    """A number as printed on the page ('–' for none); tests compare the marts through this."""
    return "–" if value is None else f"{value:.{digits}f}"


def pct(value: float | None, digits: int = 0) -> str:
    return "–" if value is None else f"{value:.{digits}f}%"


def signed(value: float | None, digits: int = 1) -> str:
    return "–" if value is None else f"{value:+.{digits}f}"


def p_value(p: float | None) -> str:
    if p is None:
        return ""
    return "p < 0.001" if p < 0.001 else f"p = {p:.3f}"


def effect_size_word(d: float | None) -> str:
    """Cohen's conventions for a standardized mean difference: 0.2 small, 0.5 medium, 0.8 large."""
    if d is None:
        return ""
    size = abs(d)
    word = "negligible" if size < 0.2 else "small" if size < 0.5 else "medium" if size < 0.8 else "large"
    return f"{word} effect (d = {d:.2f})"


def growth_verdict(change: float | None, p: float | None, significant: bool | None) -> str:
    """Plain-language significance of a fall-to-spring change at the 95 % level."""
    if change is None:
        return ""
    if significant:
        direction = "increase" if change > 0 else "decrease"
        return f"Statistically significant {direction} ({p_value(p)})"
    return f"No statistically significant change ({p_value(p)})"


def difference_mark(diff: float | None, significant: bool | None) -> str:
    """Beside a school's share: ▲/▼ when it differs from national at 95 %, nothing otherwise."""
    if diff is None or not significant:
        return ""
    return "▲ above national" if diff > 0 else "▼ below national"


LEVEL_NAMES = {"emerging": "Emerging", "moderate_low": "Moderate (low)", "moderate_high": "Moderate (high)",
               "high": "High"}
SUBGROUP_NAMES = {"grade": "Grade", "gender": "Gender", "race_ethnicity": "Race / ethnicity",
                  "parent_education": "Parent education"}
GROUP_NAMES = {"other_groups": "Other groups (pooled)", "not_reported": "Not reported"}


def label(code: str | None) -> str:
    """A code as words: 'moderate_low' -> 'Moderate low', 'other_groups' -> 'Other groups (pooled)'."""
    if code is None:
        return "–"
    return GROUP_NAMES.get(code) or LEVEL_NAMES.get(code) or code.replace("_", " ").capitalize()
