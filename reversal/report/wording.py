"""How numbers are written in sentences, shared by every technique: one spelling of each."""


def span(values, spec=".1f"):
    """"low to high" for a set of numbers, or one number where both ends read the same."""
    low, high = format(min(values), spec), format(max(values), spec)
    return low if low == high else f"{low} to {high}"


def listing(names):
    """"a", "a and b", "a, b and c"."""
    names = list(names)
    return " and ".join(names) if len(names) <= 2 else ", ".join(names[:-1]) + " and " + names[-1]


def plural(count, noun):
    return f"{count} {noun}" + ("" if count == 1 else "s")


def chance(fraction):
    """4% for 1 in 27; "1 in 4,096" where a percentage would round to 0."""
    return f"{fraction:.0%}" if fraction >= 0.01 else f"1 in {round(1 / fraction):,}"


def chance_precise(fraction):
    """3.7% for 1 in 27, one decimal more than chance(); "1 in 4,096" where a percentage would round to 0."""
    return f"{fraction:.1%}" if fraction >= 0.01 else chance(fraction)


def numbers(values, digits=2):
    """A row of numbers, space-separated, with no "-0.00"."""
    return " ".join(f"{value + 0.0:.{digits}f}".replace(f"-0.{'0' * digits}", f"0.{'0' * digits}") for value in values)


def percentages(values):
    """A row of percentages, each 4 characters wide, so that rows printed one under another line up."""
    return " ".join(f"{v:4.0%}" for v in values)


def precise(value, cutoffs, digits, kind="%"):
    """value with `digits` decimals, or more where that many would print it the same as a cut-off it is compared
    with: 10.5% for 0.1048 against 10%, not 10%; 0.897 against 0.9, not 0.90. kind is the format type: "%" or "f"."""
    while digits < 4 and any(value != cutoff and f"{value:.{digits}{kind}}" == f"{cutoff:.{digits}{kind}}"
                             for cutoff in cutoffs):
        digits += 1
    return f"{value:.{digits}{kind}}"
