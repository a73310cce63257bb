"""weir's Python SDK, keyed process functions over typed columns: the
`@weir.keyed(emits=Out)` class decorator, the host-owned state handles
(`ValueState`, `MapState`, `ListState`) and `Context` (the current key,
emitting rows, timers). Re-exported by `weir`; use it as `weir.keyed`."""

import builtins
import json
import operator
import typing

from componentize_py_types import Err
from wit_world import exports
from wit_world.imports import types as t

from weir_columns import CONFIG, _TYPES, _columns, _fields, _indices, _write

try:  # the keyed world's imports
    from wit_world.imports import keyed_context as _kc
    from wit_world.imports import state as _state
    from wit_world.imports import timers as _timers
except ImportError:  # a transform or an aggregate: no state
    _kc = _state = _timers = None

_KEYED = None


def _json(value):
    return json.dumps(value, separators=(",", ":")).encode()


class _Handle:
    """A state handle, made at its first use (no host call may run while
    the module is imported: componentize-py snapshots it at build time)."""

    _kind = None

    def __init__(self, name):
        self.name, self._h = name, None

    def _handle(self):
        if self._h is None:
            self._h = getattr(_state, self._kind)(self.name)
        return self._h

    def _decode(self, data):
        try:
            return json.loads(data)
        except ValueError as e:
            raise ValueError(f"state `{self.name}` holds unexpected data: {e}") from None


class ValueState(_Handle):
    """One value per key, stored as JSON (as the Rust SDK stores it, so
    either can be swapped live for the other). Make it once, at module or
    class level: it names the state; the key is the current one."""

    _kind = "ValueState"

    def get(self):
        data = self._handle().get()
        return None if data is None else self._decode(data)

    def set(self, value):
        self._handle().set(_json(value))

    def clear(self):
        self._handle().clear()


class MapState(_Handle):
    """A map per key; keys and values stored as JSON."""

    _kind = "MapState"

    def get(self, key):
        data = self._handle().get(_json(key))
        return None if data is None else self._decode(data)

    def put(self, key, value):
        self._handle().put(_json(key), _json(value))

    def remove(self, key):
        self._handle().remove(_json(key))

    def entries(self):
        return [(self._decode(k), self._decode(v)) for k, v in self._handle().entries()]

    def clear(self):
        self._handle().clear()


class ListState(_Handle):
    """A list per key (append-mostly); elements stored as JSON."""

    _kind = "ListState"

    def get(self):
        return [self._decode(v) for v in self._handle().get()]

    def add(self, value):
        self._handle().add(_json(value))

    def clear(self):
        self._handle().clear()


class Context:
    """What a keyed operator can do for the current key (`key`, bytes)."""

    __slots__ = ("key", "_parent", "_time", "_out")

    def __init__(self, key, parent, time, out):
        self.key, self._parent, self._time, self._out = key, parent, time, out

    def emit(self, row, time=None):
        """Send `row` (an instance of the class given as `emits`) on, with
        the current key and the record's (or timer's) event time, or `time`."""
        self._out.append((row, self._parent, self._time if time is None else time))

    def register_event_timer(self, at):
        _timers.register_event_time(at)

    def register_processing_timer(self, at):
        _timers.register_processing_time(at)

    def delete_event_timer(self, at):
        _timers.delete_event_time(at)

    def delete_processing_timer(self, at):
        _timers.delete_processing_time(at)

    def watermark(self):
        return _timers.current_watermark()

    def processing_time(self):
        return _timers.current_processing_time()


class _Keyed:
    def __init__(self, cls, emits):
        self.obj = cls()
        hints = typing.get_type_hints(cls.process)
        code = cls.process.__code__
        params = list(code.co_varnames[1: code.co_argcount])
        if len(params) != 2 or params[1] not in hints:
            raise TypeError(
                f"weir: {cls.__name__}.process must be `def process(self, ctx, record: In)` with `In` a @dataclass")
        self.input = hints[params[1]]
        self.in_fields = _fields(self.input, "record `process` takes")
        self.output = emits
        self.out_fields = _fields(emits, "`emits` class")


def keyed(emits):
    """A keyed process function over columns, on a class:

        @weir.keyed(emits=Alert)
        class Fraud:
            last = weir.ValueState("last")
            def process(self, ctx, p: Payment): ...   # ctx.emit(Alert(...))
            def on_timer(self, ctx, at, domain): ...  # optional

    `process` is called per record with its key current (`ctx.key`): the
    state handles and `ctx`'s timers refer to it. An exception rejects the
    record (it goes to the dead-letter output); one in `on_timer` fails the
    job. `Payment` and `Alert` are @dataclasses: the columns read and
    emitted. Everything kept between calls lives in the host's state.
    """
    def register(cls):
        global _KEYED
        _KEYED = _Keyed(cls, emits)
        return cls
    return register


def _emitted(out, parents_of):
    """The rows emitted in a call as an output batch."""
    rows = [r for r, _, _ in out]
    parents = [p for _, p, _ in out]
    times = [tm for _, _, tm in out]
    cols = [
        _write(list(builtins.map(operator.attrgetter(name), rows)), ty, nullable, name)
        for name, ty, nullable in _KEYED.out_fields
    ]
    return t.OutputBatch(len(rows), t.RowOrigin_PackedParents(_indices(parents)), times, cols)


class _KeyedProcessor:
    """The keyed world's export (`KeyedProcessor` below)."""

    def init(self, config):
        if _KEYED is None:
            raise Err(t.OperatorError("weir: no @weir.keyed class in the module"))
        CONFIG.update(json.loads(config) if config else {})
        fields = lambda fs: [t.Field(n, _TYPES[ty][1], nullable) for n, ty, nullable in fs]
        return t.KeyedSpec(fields(_KEYED.in_fields), fields(_KEYED.out_fields))

    def process(self, batch, keys):
        k = _KEYED
        columns, bad = _columns(k.in_fields, batch)
        make, process = k.input, k.obj.process
        ko, kd = keys.offsets, keys.data
        out, rejected = [], []
        for i, values in enumerate(zip(*columns) if columns else [()] * batch.rows):
            if bad and i in bad:
                rejected.append(t.Rejection(i, f"field `{bad[i]}` is null"))
                continue
            _kc.select(i)
            ctx = Context(kd[ko[i]:ko[i + 1]], i, batch.event_time[i], out)
            try:
                process(ctx, make(*values))
            except Exception as e:  # a record's failure rejects the record
                rejected.append(t.Rejection(i, f"{type(e).__name__}: {e}"))
        return t.TransformOutput(t.Answer_Emit(_emitted(out, batch.rows)), rejected)

    def on_timer(self, timers):
        on_timer = getattr(_KEYED.obj, "on_timer", None)
        ko, kd = timers.keys.offsets, timers.keys.data
        out = []
        for i, (at, domain) in enumerate(zip(timers.at, timers.domains)):
            if on_timer is None:
                break
            _kc.select(i)
            try:
                on_timer(Context(kd[ko[i]:ko[i + 1]], i, at, out), at, domain)
            except Exception as e:
                raise Err(t.OperatorError(f"on_timer: {type(e).__name__}: {e}"))
        return _emitted(out, len(timers.at))


if hasattr(exports, "KeyedProcessor"):
    class KeyedProcessor(_KeyedProcessor, exports.KeyedProcessor):
        """The component's export; `weir build` wires it up."""
