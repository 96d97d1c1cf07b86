"""The similarity index of template texts (TF-IDF + nearest neighbours)."""

from __future__ import annotations

from canarywatch.events import Severity
from canarywatch.history.index import TextIndex, fit_index
from canarywatch.history.model import ServiceModel, TemplateStats
from canarywatch.history.view import ModelView

KNOWN = (
    "payment gateway timeout after <*> ms for order <*>",
    "upstream redis returned <*> for request <*>",
    "cache node <*> unreachable, failing over to replica <*>",
    "slow query on table <*>: <*> ms (threshold <*> ms)",
    "loaded cart <*> for user <*> with <*> items in <*> ms",
    "order <*> placed for user <*>: total <*> <*>, <*> items",
)
REWORDED = "timeout from payment gateway (waited <*> ms) while placing order <*>"
UNRELATED = ('NullPointerException in CartService.applyDiscount for cart <*>: Cannot invoke '
             '"Discount.rate()" because "discount" is null (CartService.java:<*>)')


def _model() -> ServiceModel:
    levels = (Severity.ERROR, Severity.ERROR, Severity.ERROR, Severity.WARN, Severity.INFO,
              Severity.INFO)
    templates = tuple(TemplateStats(text, level, 10, 1.0, 3, 0, 1)
                      for text, level in zip(KNOWN, levels, strict=True))
    return ServiceModel("checkout", ("1.4.2",), 60.0, 10, 10_000, "requests", 0, 600 * 10**9,
                        templates, (), fit_index(KNOWN))


def test_index_finds_the_reworded_template_first() -> None:
    """A reworded gateway timeout's nearest known text is the gateway timeout, well above 0.7."""
    index = TextIndex(fit_index(KNOWN), KNOWN)
    best = index.nearest(REWORDED, 2)
    assert KNOWN[best[0].position].startswith("payment gateway timeout")
    assert best[0].similarity >= 0.7 > best[1].similarity


def test_index_keeps_an_unrelated_error_far_from_everything() -> None:
    """An unrelated error shares only a common word or two: far below the threshold."""
    index = TextIndex(fit_index(KNOWN), KNOWN)
    assert all(n.similarity < 0.3 for n in index.nearest(UNRELATED, len(KNOWN)))


def test_unseen_words_count_against_similarity() -> None:
    """A message of mostly new words is not close to the one known word it shares."""
    index = TextIndex(fit_index(KNOWN), KNOWN)
    assert index.nearest("order <*> vanished during reconciliation batch", 1)[0].similarity < 0.5


def test_view_classifies_reworded_known_and_new() -> None:
    """The judge's lookup: reworded ERROR -> known (reworded); unrelated ERROR -> unknown;
    a generalised text covers the specific known templates; severity must match."""
    view = ModelView(_model(), similarity_threshold=0.7)
    reworded = view.known(REWORDED, Severity.ERROR)
    assert reworded is not None and reworded.reworded
    assert reworded.template.text == KNOWN[0]
    assert view.known(UNRELATED, Severity.ERROR) is None
    assert view.known(REWORDED, Severity.INFO) is None
    general = view.known("upstream <*> returned <*> for request <*>", Severity.ERROR)
    assert general is not None and not general.reworded and general.template.count == 10
    exact = view.known(KNOWN[2], Severity.ERROR)
    assert exact is not None and exact.similarity == 1.0
