"""Small-cell suppression (pure): examples, then properties over random tables (hypothesis)."""

from hypothesis import given, settings
from hypothesis import strategies as st

from app.outcomes.suppression import Cell, Reason, Sum, determined, suppress

K = 5


def test_small_counts_are_suppressed_and_zero_is_not() -> None:
    cells = {"a": Cell(0), "b": Cell(1), "c": Cell(4), "d": Cell(5), "e": Cell(120)}
    reasons = suppress(cells, [], K)
    assert reasons == {"b": Reason.small_count, "c": Reason.small_count}


def test_a_statistic_from_few_patients_is_suppressed() -> None:
    cells = {"n": Cell(7, patients=3), "mean": Cell(None, patients=3), "ok": Cell(None, 9)}
    reasons = suppress(cells, [], K)
    assert reasons == {"n": Reason.few_patients, "mean": Reason.few_patients}


def test_a_proportion_of_a_suppressed_count_is_suppressed() -> None:
    cells = {"x": Cell(3), "n": Cell(40), "x/n": Cell(None, 40, depends_on=("x", "n"))}
    assert suppress(cells, [], K)["x/n"] is Reason.derived


def test_one_suppressed_part_takes_the_smallest_other_part_with_it() -> None:
    cells = {"total": Cell(60), "A": Cell(2), "B": Cell(8), "C": Cell(50)}
    reasons = suppress(cells, [Sum("total", ("A", "B", "C"))], K)
    assert reasons == {"A": Reason.small_count, "B": Reason.complementary}


def test_a_hidden_complement_protects_its_published_twin() -> None:
    """97 of 100 pain-free: the 3 who are not must not be read off as 100 - 97."""
    cells = {"n": Cell(100), "free": Cell(97), "free.not": Cell(3, shown=False)}
    reasons = suppress(cells, [Sum("n", ("free", "free.not"))], K)
    assert "free.not" not in reasons  # never published anyway
    assert reasons["free"] is Reason.complementary


def test_chains_across_relations_are_followed() -> None:
    """x is protected in its own relation by y; y is pinned down by another relation."""
    cells = {
        "T1": Cell(30),
        "x": Cell(2),
        "y": Cell(28),
        "T2": Cell(40),
        "z": Cell(12),
    }
    sums = [Sum("T1", ("x", "y")), Sum("T2", ("y", "z"))]
    reasons = suppress(cells, sums, K)
    assert reasons["x"] is Reason.small_count
    assert not determined(set(reasons), sums) & {"x"}


def test_determined_solves_the_linear_system() -> None:
    sums = [Sum("t", ("a", "b")), Sum("u", ("b", "c"))]
    assert determined({"a"}, sums) == {"a"}
    assert determined({"a", "b"}, sums) == {"a", "b"}  # b = u - c, then a = t - b
    assert determined({"a", "b", "c"}, sums) == set()


def test_k_of_one_or_less_suppresses_nothing() -> None:
    assert suppress({"a": Cell(1)}, [], 1) == {}


@st.composite
def tables(draw: st.DrawFn) -> tuple[dict[str, Cell], list[Sum]]:
    """Random hierarchies: a total, two or three partitions of it (like complications by SIR,
    by CIRSE and symptomatic / not), sometimes with a hidden complement."""
    total = draw(st.integers(0, 60))
    cells: dict[str, Cell] = {"T": Cell(total, patients=draw(st.integers(0, total)))}
    sums = []
    for p in range(draw(st.integers(1, 3))):
        parts = draw(st.integers(2, 5))
        cuts = sorted(draw(st.lists(st.integers(0, total), min_size=parts - 1, max_size=parts - 1)))
        values = [b - a for a, b in zip([0, *cuts], [*cuts, total], strict=True)]
        names = []
        for i, value in enumerate(values):
            name = f"p{p}.{i}"
            hidden = draw(st.booleans()) and i == len(values) - 1
            patients = draw(st.integers(min(value, 1), value)) if value else 0
            cells[name] = Cell(value, patients=patients, shown=not hidden)
            names.append(name)
        sums.append(Sum("T", tuple(names)))
    if draw(st.booleans()):
        cells["T/p0.0"] = Cell(None, cells["T"].patients, depends_on=("p0.0", "T"))
    return cells, sums


@settings(max_examples=300, deadline=None)
@given(tables(), st.integers(2, 10))
def test_no_small_count_and_no_few_patient_figure_is_published(
    table: tuple[dict[str, Cell], list[Sum]], k: int
) -> None:
    cells, sums = table
    reasons = suppress(cells, sums, k)
    for name, cell in cells.items():
        if not cell.shown or name in reasons:
            continue
        if cell.value is not None:
            assert not 1 <= cell.value < k
        if cell.patients is not None and (cell.value is None or cell.value > 0):
            assert cell.patients >= k or cell.patients == 0


@settings(max_examples=300, deadline=None)
@given(tables(), st.integers(2, 10))
def test_no_sensitive_cell_can_be_recomputed_from_the_published_ones(
    table: tuple[dict[str, Cell], list[Sum]], k: int
) -> None:
    """Solve the relations with everything published: no small cell comes out exactly."""
    cells, sums = table
    reasons = suppress(cells, sums, k)
    unknown = {n for n, c in cells.items() if not c.shown} | set(reasons)
    sensitive = {
        n
        for n, c in cells.items()
        if c.value is not None
        and (1 <= c.value < k or (c.patients is not None and 1 <= c.patients < k))
    }
    assert not determined(unknown, sums) & sensitive
    # and the brute force agrees on a single relation: the unknowns never number exactly one
    for s in sums:
        members = [m for m in s.members if m in unknown]
        if members and any(m in sensitive for m in members):
            assert len(members) >= 2


@settings(max_examples=200, deadline=None)
@given(tables())
def test_dependent_figures_go_with_what_they_depend_on(
    table: tuple[dict[str, Cell], list[Sum]],
) -> None:
    cells, sums = table
    reasons = suppress(cells, sums, K)
    for name, cell in cells.items():
        if any(d in reasons for d in cell.depends_on):
            assert name in reasons
