"""The shared dynamic provider: model <-> dict, secret outputs, diff driven by field marks.

Every resource declares two pydantic models: its inputs, and its state (inputs + computed
outputs, the pulumi-command "state = inputs + computed fields" shape, so old state and new
inputs always diff field by field). Behaviour sits on the fields (`json_schema_extra`):

- `replace`: a change forces a replacement (preview says so: `replaces=[...]`);
- `nodiff`: an input read only at create or only by `check` (limits, adopt id), never a change;
- `secret`: an output wrapped as a Pulumi secret (and listed in `additional_secret_outputs`);
- `output`: a computed field (state only); `stable`: an output that no in-place update moves.

Credentials: providers are pickled by reference into the state, so nothing is kept on the
instance; create/read/update/delete share the provider process's one client (`_client.py`:
built from the environment on first use, one rate limiter per key for the whole run).
`check` and `diff` make no API calls (STYLE.md section 2: preview is check + diff only).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar, Generic, TypeVar

import pulumi
from pulumi import dynamic
from pulumi.dynamic import (
    CheckFailure,
    CheckResult,
    CreateResult,
    DiffResult,
    ReadResult,
    ResourceProvider,
    UpdateResult,
)
from pulumi.runtime import rpc
from pydantic import BaseModel, ConfigDict, ValidationError

from neon_tenants.catalog.validate import Failure
from neon_tenants.providers import _diagnostics, _profile
from neon_tenants.providers._client import provider_client
from neon_tenants.providers._errors import ProviderError as ProviderError

if TYPE_CHECKING:
    from neon_tenants.client import NeonClient

PROVIDER_KEY = "__provider"
UNKNOWN = rpc.UNKNOWN
_PLACEHOLDER = "unknown-at-preview"


class ResourceInputs(BaseModel):
    """Base of every resource's inputs: frozen, typos are errors."""

    model_config = ConfigDict(frozen=True, extra="forbid")


STATE_CONFIG = ConfigDict(frozen=True, extra="ignore")
"""State models subclass their inputs model with this config: lenient, so state written by
older code (or carrying `__provider`) still parses."""


def mark(**flags: bool) -> dict[str, Any]:
    """`Field(json_schema_extra=mark(replace=True))`: readable field behaviour."""
    return dict(flags)


def fields_marked(model: type[BaseModel], flag: str) -> list[str]:
    out = []
    for name, info in model.model_fields.items():
        extra = info.json_schema_extra
        if isinstance(extra, dict) and extra.get(flag):
            out.append(name)
    return out


def input_fields(state_model: type[BaseModel]) -> list[str]:
    output = set(fields_marked(state_model, "output"))
    return [n for n in state_model.model_fields if n not in output]


def secret_outputs(state_model: type[BaseModel]) -> list[str]:
    return fields_marked(state_model, "secret")


def output_names(state_model: type[BaseModel]) -> list[str]:
    return fields_marked(state_model, "output")


def is_unknown(value: Any) -> bool:
    """At preview the engine sends not-yet-known values as `Unknown()` (or the sentinel)."""
    from pulumi.output import Unknown

    return isinstance(value, Unknown) or (isinstance(value, str) and value == UNKNOWN)


def clean(props: Mapping[str, Any]) -> dict[str, Any]:
    """Drop the pickled provider and unwrap rpc secrets (handlers see plain values)."""
    return {k: rpc.unwrap_rpc_secret(v) for k, v in props.items() if k != PROVIDER_KEY}


def normalize(value: Any) -> Any:
    """The wire turns every number into a float; compare 2 and 2.0 as equal."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {k: normalize(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [normalize(v) for v in value]
    return value


def to_outputs(state: BaseModel) -> dict[str, Any]:
    """State as the engine stores it: JSON values, secret fields wrapped as secrets."""
    data = state.model_dump(mode="json")
    for name in secret_outputs(type(state)):
        if data.get(name) is not None:
            data[name] = rpc.wrap_rpc_secret(data[name])
    return data


def _failures_from(err: ValidationError) -> list[Failure]:
    out = []
    for e in err.errors():
        prop = ".".join(str(p) for p in e["loc"]) or "(inputs)"
        out.append(Failure(prop, e["msg"]))
    return out


I = TypeVar("I", bound=BaseModel)  # noqa: E741
S = TypeVar("S", bound=BaseModel)


class NeonProvider(ResourceProvider, Generic[I, S]):
    """check/diff from the models' marks; create/read/update/delete delegate to hooks."""

    inputs_model: ClassVar[type[BaseModel]]
    state_model: ClassVar[type[BaseModel]]
    delete_before_replace: ClassVar[bool] = False
    # The blob is a by-reference pickle with no secrets: keep it plaintext and small.
    serialize_as_secret_always = False

    # -- hooks --------------------------------------------------------------------------

    def validate(self, inputs: I) -> list[Failure]:
        """Limits and names beyond the field types; pure (catalog/validate.py)."""
        return []

    def create_resource(self, client: NeonClient, inputs: I) -> tuple[str, S]:
        raise NotImplementedError

    def read_resource(self, client: NeonClient, id_: str, state: S) -> S | None:
        """The live state, or None when the object is gone (refresh then drops it)."""
        raise NotImplementedError

    def update_resource(self, client: NeonClient, id_: str, old: S, new: I) -> S:
        raise NotImplementedError

    def delete_resource(self, client: NeonClient, id_: str, state: S) -> None:
        raise NotImplementedError

    # -- parsing ------------------------------------------------------------------------

    def parse_inputs(self, props: Mapping[str, Any]) -> I:
        data = clean(props)
        allowed = set(self.inputs_model.model_fields)
        model = self.inputs_model.model_validate({k: v for k, v in data.items() if k in allowed})
        return model  # type: ignore[return-value]

    def parse_state(self, props: Mapping[str, Any]) -> S:
        return self.state_model.model_validate(clean(props))  # type: ignore[return-value]

    # -- engine handlers ----------------------------------------------------------------

    def _profiled(self, name: str) -> Any:
        return _profile.handler(name, type(self).__name__)

    def check(self, _olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        with self._profiled("check"):
            return self._check(news)

    def _check(self, news: dict[str, Any]) -> CheckResult:
        data = clean(news)
        allowed = set(self.inputs_model.model_fields)
        unknown = {k for k, v in data.items() if k in allowed and is_unknown(v)}
        extra = [k for k in data if k not in allowed and k not in output_names(self.state_model)]
        failures = [Failure(k, f"unknown input; known: {', '.join(sorted(allowed))}")
                    for k in extra]
        probe = {k: (_PLACEHOLDER if k in unknown else v) for k, v in data.items()
                 if k in allowed and v is not None}
        try:
            inputs = self.inputs_model.model_validate(probe)
        except ValidationError as err:
            failures += [f for f in _failures_from(err) if f.property.split(".")[0] not in unknown]
            if not failures:  # only placeholder-typed fields failed: validate at apply time
                return CheckResult({k: v for k, v in news.items() if k in allowed}, [])
            return CheckResult(news, [CheckFailure(f.property, f.reason) for f in failures])
        failures += [f for f in self.validate(inputs)  # type: ignore[arg-type]
                     if f.property.split(".")[0] not in unknown]
        checked = inputs.model_dump(mode="json")
        for k in unknown:
            checked[k] = data[k]  # hand the engine back its own unknown marker
        return CheckResult(checked, [CheckFailure(f.property, f.reason) for f in failures])

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        with self._profiled("diff"):
            return self._diff(olds, news)

    def _diff(self, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        old, new = clean(olds), clean(news)
        nodiff = set(fields_marked(self.state_model, "nodiff"))
        replace_marked = set(fields_marked(self.state_model, "replace"))
        changed, unknown = [], []
        for name in input_fields(self.state_model):
            if name in nodiff:
                continue
            if is_unknown(new.get(name)):
                unknown.append(name)
            elif normalize(old.get(name)) != normalize(new.get(name)):
                changed.append(name)
        # An unknown (an upstream output at preview, e.g. project_id while the project is
        # updated in place) is a possible change, never a predicted replacement: the ids the
        # dynamic engine leaves unknown at preview are stable ones, and apply re-diffs.
        replaces = [n for n in changed if n in replace_marked]
        changed += unknown
        stables = [] if replaces else fields_marked(self.state_model, "stable")
        return DiffResult(
            changes=bool(changed),
            replaces=replaces,
            stables=stables,
            delete_before_replace=self.delete_before_replace if replaces else False,
        )

    def create(self, props: dict[str, Any]) -> CreateResult:
        inputs = self.parse_inputs(props)
        with self._profiled("create"):
            id_, state = self.create_resource(provider_client(), inputs)
        return CreateResult(id_, to_outputs(state))

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        state = self.parse_state(props)
        with self._profiled("read"):
            live = self.read_resource(provider_client(), id_, state)
        if live is None:
            return ReadResult("", {})
        return ReadResult(id_, to_outputs(live))

    def update(self, _id: str, _olds: dict[str, Any], _news: dict[str, Any]) -> UpdateResult:
        old = self.parse_state(_olds)
        new = self.parse_inputs(_news)
        with self._profiled("update"):
            state = self.update_resource(provider_client(), _id, old, new)
        return UpdateResult(to_outputs(state))

    def delete(self, _id: str, _props: dict[str, Any]) -> None:
        with self._profiled("delete"):
            self.delete_resource(provider_client(), _id, self.parse_state(_props))


def resource_props(inputs: Mapping[str, Any], state_model: type[BaseModel]) -> dict[str, Any]:
    """Props for `dynamic.Resource`: the inputs plus every output name set to None.

    Output names must be present for the Python SDK to expose them as attributes.
    """
    props: dict[str, Any] = dict(inputs)
    for name in output_names(state_model):
        props.setdefault(name, None)
    return props


class NeonResource(dynamic.Resource):
    """Base of the four resources: its provider's state model decides the output attributes
    (`resource_props`) and which outputs are secret (`additional_secret_outputs`).

    Subclasses set `provider_class` and keep `module="neon", name=...` on their own class
    statement, so each keeps its type token.
    """

    provider_class: ClassVar[type[NeonProvider[Any, Any]]]

    def __init__(
        self, name: str, props: dict[str, Any], opts: pulumi.ResourceOptions | None = None
    ) -> None:
        state_model = self.provider_class.state_model
        secret = secret_outputs(state_model)
        if secret:
            opts = pulumi.ResourceOptions.merge(
                opts, pulumi.ResourceOptions(additional_secret_outputs=secret)
            )
        super().__init__(self.provider_class(), name, resource_props(props, state_model), opts)


# In Pulumi's dynamic-provider host, a failed resource answers one line (what failed, what to
# do) instead of a traceback; NEON_TENANTS_DEBUG=1 keeps it (providers/_diagnostics.py).
_diagnostics.install()
