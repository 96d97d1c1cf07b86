"""Log lines of the simulated checkout service, with realistic varied parameters.

Each function takes the scenario's ``random.Random`` so a seed gives the same lines. INFO
lines vary by endpoint; the known WARN/ERROR lines appear in both cohorts at a low base rate;
the fault lines appear only where a fault puts them.
"""

from __future__ import annotations

import random
from collections.abc import Callable

from canarywatch.events import Severity

Line = tuple[Severity, str]
LineMaker = Callable[[random.Random, float], str]

_CURRENCIES = ("EUR", "USD", "GBP", "CHF")
_TABLES = ("shop.orders", "shop.carts", "shop.cart_items", "catalog.products", "shop.payments")
_PROVIDERS = ("stripe", "adyen", "paypal")
_AGENTS = ("Mozilla/5.0", "okhttp/4.12.0", "Go-http-client/2.0", "python-requests/2.32")


def _hex(rng: random.Random, digits: int) -> str:
    return f"{rng.getrandbits(4 * digits):0{digits}x}"


def _uuid(rng: random.Random) -> str:
    h = _hex(rng, 32)
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-a{h[17:20]}-{h[20:]}"


def _ip(rng: random.Random) -> str:
    return f"10.{rng.randrange(0, 64)}.{rng.randrange(0, 256)}.{rng.randrange(1, 255)}"


def _user(rng: random.Random) -> str:
    return f"u-{rng.randrange(100000, 999999)}"


def _amount(rng: random.Random) -> str:
    return f"{rng.lognormvariate(3.6, 0.8):.2f}"


def _sku(rng: random.Random) -> str:
    return f"SKU-{rng.randrange(10000, 99999)}"


def _order(rng: random.Random) -> int:
    return rng.randrange(1000, 99999)


# Main INFO line per known route: (how the baseline words it, how `reword_info` words it).
def _cart(rng: random.Random, ms: float) -> str:
    return (f"loaded cart {_hex(rng, 8)} for user {_user(rng)} "
            f"with {rng.randrange(0, 12)} items in {ms:.0f} ms")


def _cart_reworded(rng: random.Random, ms: float) -> str:
    return (f"cart {_hex(rng, 8)} fetched: user={_user(rng)} "
            f"items={rng.randrange(0, 12)} took={ms:.0f}ms")


def _add_item(rng: random.Random, ms: float) -> str:
    return f"added {_sku(rng)} x{rng.randrange(1, 5)} to cart {_hex(rng, 8)} for user {_user(rng)}"


def _add_item_reworded(rng: random.Random, ms: float) -> str:
    return f"cart {_hex(rng, 8)} now holds {_sku(rng)} (qty {rng.randrange(1, 5)})"


def _product(rng: random.Random, ms: float) -> str:
    where = "cache" if rng.random() < 0.8 else "database"
    return f"served product {rng.randrange(1, 50000)} from {where} in {ms:.1f} ms"


def _product_reworded(rng: random.Random, ms: float) -> str:
    return f"product lookup id={rng.randrange(1, 50000)} hit={rng.random() < 0.8} t={ms:.1f}ms"


def _checkout(rng: random.Random, ms: float) -> str:
    return (f"order {_order(rng)} placed for user {_user(rng)}: total {_amount(rng)} "
            f"{rng.choice(_CURRENCIES)}, {rng.randrange(1, 9)} items")


def _checkout_reworded(rng: random.Random, ms: float) -> str:
    return (f"checkout complete order_id={_order(rng)} amount={_amount(rng)} "
            f"currency={rng.choice(_CURRENCIES)}")


def _payment(rng: random.Random, ms: float) -> str:
    return (f"payment {_uuid(rng)} authorized for order {_order(rng)} amount {_amount(rng)} "
            f"via {rng.choice(_PROVIDERS)}")


def _payment_reworded(rng: random.Random, ms: float) -> str:
    return f"authorized payment id={_uuid(rng)} provider={rng.choice(_PROVIDERS)}"


def _generic(method: str, route: str) -> tuple[LineMaker, LineMaker]:
    def plain(rng: random.Random, ms: float) -> str:
        return f"handled {method} {route} for user {_user(rng)} in {ms:.0f} ms"

    def reworded(rng: random.Random, ms: float) -> str:
        return f"{method} {route} done user={_user(rng)} elapsed={ms:.0f}ms"

    return plain, reworded


_MAIN: dict[str, tuple[LineMaker, LineMaker]] = {
    "GET /cart": (_cart, _cart_reworded),
    "POST /cart/items": (_add_item, _add_item_reworded),
    "GET /products/{id}": (_product, _product_reworded),
    "POST /checkout": (_checkout, _checkout_reworded),
    "POST /payments": (_payment, _payment_reworded),
}


def main_info(method: str, route: str) -> tuple[LineMaker, LineMaker]:
    """The endpoint's main INFO line maker and its reworded twin."""
    return _MAIN.get(f"{method} {route}") or _generic(method, route)


def secondary_info(rng: random.Random, ms: float) -> str:
    """An extra INFO line some requests log (access-log or bookkeeping style)."""
    pick = rng.random()
    if pick < 0.5:
        return (f"request from {_ip(rng)} agent {rng.choice(_AGENTS)} "
                f"completed in {ms:.0f} ms")
    if pick < 0.8:
        return f"session {_hex(rng, 16)} refreshed, expires in {rng.randrange(300, 3600)} s"
    return f"feature flags evaluated for user {_user(rng)}: {rng.randrange(3, 20)} flags"


# Known WARN/ERROR lines both cohorts log at a low base rate.
def slow_query(rng: random.Random) -> Line:
    return (Severity.WARN, f"slow query on table {rng.choice(_TABLES)}: "
            f"{rng.randrange(500, 4000)} ms (threshold 500 ms)")


def retry_inventory(rng: random.Random) -> Line:
    return (Severity.WARN, f"retrying call to inventory-service for {_sku(rng)}, "
            f"attempt {rng.randrange(2, 4)} of 3")


def gateway_timeout(rng: random.Random) -> Line:
    """The known ERROR line that `known_error_more` makes more frequent in the canary."""
    return (Severity.ERROR, f"payment gateway timeout after 3000 ms for order {_order(rng)}")


def gateway_timeout_reworded(rng: random.Random) -> Line:
    """The same known ERROR as :func:`gateway_timeout`, worded as `reword_error` words it."""
    return (Severity.ERROR, f"timeout from payment gateway (waited 3000 ms) while placing "
            f"order {_order(rng)}")


def cache_failover(rng: random.Random) -> Line:
    """A rare known ERROR that comes in bursts (`rare_known_error`)."""
    return (Severity.ERROR, f"cache node {_ip(rng)}:6379 unreachable, failing over to replica "
            f"{rng.randrange(1, 4)}")


def upstream_error(rng: random.Random, dependency: str, status: int) -> Line:
    """The ERROR line that goes with a base-rate 5xx."""
    return (Severity.ERROR, f"upstream {dependency} returned {status} for request {_uuid(rng)}")


# Fault lines.
NEW_ERROR_TYPE = "java.lang.NullPointerException"


def new_error(rng: random.Random) -> tuple[Line, str, str]:
    """The canary's new ERROR signature: (line, exception message, stack trace)."""
    cart = _hex(rng, 8)
    message = 'Cannot invoke "Discount.rate()" because "discount" is null'
    line = (f"NullPointerException in CartService.applyDiscount for cart {cart}: {message} "
            f"(CartService.java:212)")
    stack = (f"{NEW_ERROR_TYPE}: {message}\n"
             "\tat com.shop.cart.CartService.applyDiscount(CartService.java:212)\n"
             "\tat com.shop.cart.CartController.update(CartController.java:88)\n"
             "\tat com.shop.http.Router.dispatch(Router.java:41)")
    return (Severity.ERROR, line), message, stack


def new_error_200(rng: random.Random) -> Line:
    """A new ERROR signature whose request still answers 200."""
    return (Severity.ERROR, f"failed to publish OrderPlaced event for order {_order(rng)}: "
            f"schema registry rejected field discount_code (schema v{rng.randrange(3, 9)})")


def shared_outage(rng: random.Random) -> Line:
    return (Severity.ERROR, f"connection refused: postgres-primary.db.svc:5432 "
            f"(pool checkout-db, {rng.randrange(1, 40)} active)")


_ERROR_WORDS = ("error", "fail", "exception", "fatal", "denied", "refused", "panic")
_WARN_WORDS = ("warn", "timeout", "retry", "unable", "invalid", "lost")


def corpus_severity(line: str) -> Severity:
    """Guess a corpus line's level from its words (the corpus has no reliable level)."""
    low = line.lower()
    if any(w in low for w in _ERROR_WORDS):
        return Severity.ERROR
    if any(w in low for w in _WARN_WORDS):
        return Severity.WARN
    return Severity.INFO
