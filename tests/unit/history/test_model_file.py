"""Model files: exact round trip, strict reading, and no code run from an untrusted file."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import pytest

from canarywatch.config import TemplatesConfig
from canarywatch.events import LogEvent, Severity, SpanEvent, SpanKind
from canarywatch.history import Learner, ModelError, load_model, load_models, save_model
from canarywatch.history.model import ServiceModel, template_dispersion
from canarywatch.history.store import model_from_json, model_to_json

_T0 = 1_795_000_020_000_000_000  # a multiple of 60 s: windows align
_S = 1_000_000_000


def _learned() -> ServiceModel:
    """A model learned from a few minutes of hand-made events with bursty errors."""
    learner = Learner(TemplatesConfig(), window_s=60.0)
    events: list[SpanEvent | LogEvent] = []
    for i in range(600):
        t = _T0 + i * _S // 2
        trace = f"{i:032x}"
        route = "GET /cart" if i % 3 else "POST /checkout"
        events.append(LogEvent("checkout", "1.4.2", t, Severity.INFO,
                               f"loaded cart {i:08x} for user u-{i} in {i % 40} ms", trace))
        if (i // 120) % 2 == 0 and i % 7 == 0:  # errors in every other minute only
            events.append(LogEvent("checkout", "1.4.2", t, Severity.ERROR,
                                   f"payment gateway timeout after 3000 ms for order {i}",
                                   trace))
        events.append(SpanEvent("checkout", "1.4.2", route, SpanKind.SERVER, route, t,
                                t + (5 + i % 30) * 1_000_000, i % 50 == 0, 200, trace, "1"))
    learner.observe(events)
    return learner.models()[0]


def test_model_file_round_trips_exactly(tmp_path: Path) -> None:
    """Saving then loading gives an equal model, and its file rewrites byte for byte."""
    model = _learned()
    path = save_model(model, tmp_path)
    loaded = load_model(path)
    assert loaded == model
    again = save_model(loaded, tmp_path / "again")
    assert again.read_bytes() == path.read_bytes()
    assert model_from_json(json.loads(path.read_text())) == model


def test_learned_model_holds_rates_variability_and_examples() -> None:
    """The learner keeps per-template counts, bursty windows' dispersion and a few lines."""
    model = _learned()
    by_text = {t.text: t for t in model.templates}
    error = next(t for t in model.templates if t.severity is Severity.ERROR)
    assert "payment gateway timeout" in error.text
    assert error.count == sum(1 for i in range(600) if (i // 120) % 2 == 0 and i % 7 == 0)
    assert template_dispersion(model, error) > 1.5  # bursts: more than Poisson
    assert len(error.examples) == 3
    assert model.requests == 600 and model.windows == 5
    assert any(t.endpoints for t in by_text.values())
    cart = next(e for e in model.endpoints if e.name == "GET /cart")
    assert cart.requests == 400 and sum(n for _, n in cart.latency) == 400


def test_untrusted_pickle_model_cannot_execute_code(tmp_path: Path) -> None:
    """A pickle with a code-running payload, named like a model, is refused and never run."""
    marker = tmp_path / "pwned"

    class Payload:
        def __reduce__(self) -> tuple[object, tuple[str]]:
            return (marker.write_text, ("ran",))  # what unpickling would call

    bad = tmp_path / "models" / "checkout.model.json"
    bad.parent.mkdir()
    bad.write_bytes(pickle.dumps(Payload()))
    with pytest.raises(ModelError, match="not a JSON model file"):
        load_model(bad)
    with pytest.raises(ModelError):
        load_models(bad.parent)
    assert not marker.exists()


@pytest.mark.parametrize(("change", "key"), [
    (lambda d: d.update(format="something-else"), "format"),
    (lambda d: d.update(format_version=99), "format_version"),
    (lambda d: d["templates"][0].update(count=-1), "templates.0.count"),
    (lambda d: d["templates"][0].update(severity="LOUD"), "templates.0.severity"),
    (lambda d: d["templates"][0].update(text={"__class__": "os.system"}), "templates.0.text"),
    (lambda d: d["endpoints"][0].update(latency=[[1, 2, 3]]), "endpoints.0.latency.0"),
    (lambda d: d["index"].update(idf=[]), "index.idf"),
])
def test_malformed_model_fields_are_refused_by_name(tmp_path: Path, change: object,
                                                    key: str) -> None:
    """Each wrong field raises ModelError naming its dotted key."""
    data = model_to_json(_learned())
    assert callable(change)
    change(data)
    path = tmp_path / "checkout.model.json"
    path.write_text(json.dumps(data))
    with pytest.raises(ModelError) as caught:
        load_model(path)
    assert caught.value.key == key


def test_nan_in_a_model_file_is_refused(tmp_path: Path) -> None:
    """JSON's NaN/Infinity extensions are not numbers a model may hold."""
    text = json.dumps(model_to_json(_learned())).replace('"window_s": 60.0',
                                                         '"window_s": NaN')
    path = tmp_path / "checkout.model.json"
    path.write_text(text)
    with pytest.raises(ModelError, match="NaN"):
        load_model(path)
