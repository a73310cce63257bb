"""weir's Python SDK: operators over typed columns (weir:dataflow@0.2.0).

Write one plain function over dataclasses; weir reads the batch's columns
into your input class, calls the function once per row, and writes what it
returns back as columns. No JSON is parsed or written in the operator.

    from dataclasses import dataclass
    from typing import Optional
    import weir

    @dataclass
    class Transaction:
        ts: int
        user: str
        amount: float
        merchant: str

    @dataclass
    class Payment:
        user: str
        cents: int
        merchant: str
        ts: int

    @weir.map
    def big_payments(tx: Transaction) -> Optional[Payment]:
        if tx.amount < 50:
            return None                      # dropped
        return Payment(tx.user, round(tx.amount * 100), tx.merchant, tx.ts)

`@weir.scalar` goes on `fn(a: A, b: B, …) -> R`: a SQL function
(`CREATE FUNCTION f AS 'project' LANGUAGE WASM`), called per row of its
arguments. `@weir.filter` takes a function returning a bool (the rows it keeps go on
unchanged, with their own bytes). `@weir.map_batch` and `@weir.filter_batch`
take a function called once per batch with a `weir.Batch[In]`, one list per
field: the fast way for logic that list comprehensions can say (see
`weir_batch`). `@weir.aggregate` goes on a class that
is a window aggregate (see `aggregate`); `@weir.keyed(emits=Out)` on a
class that is a keyed process function, its state (`ValueState`,
`MapState`, `ListState`) and timers kept by the host (see `keyed`). Field types: `int`, `float`, `str`,
`bytes`, `bool`, `list[int]`, `list[float]`, `list[str]`, `list[bool]` (a
list column; its items are never None), and `Optional[...]` of them for
fields that may be null (a null in a field that is not Optional rejects
the row). An exception
raised for a row rejects that row: it goes to the job's dead-letter output
with the exception's message. `weir.config()` is the operator's config
from the job file, as a dict; `weir.log(level, message)` logs through the
host. `weir build` (and `weir run`) build a module that imports `weir` as
an operator over columns.
"""

import builtins
import itertools
import json
import operator
import pickle
import typing

from componentize_py_types import Err
from wit_world import exports
from wit_world.imports import log as _log
from wit_world.imports import types as t

from weir_columns import CONFIG, _TYPES, _columns, _fields, _indices, _read, _write
import weir_batch
from weir_batch import Batch  # noqa: F401 (weir.Batch[T] in annotations)


_OP = None
_AGG = None

def config():
    """The operator's config from the job file, as a dict."""
    return CONFIG


def log(level, message):
    """Log `message` at `level` ("trace", "debug", "info", "warn", "error")."""
    _log.log(getattr(_log.Level, level.upper()), str(message))


class _Op:
    def __init__(self, fn, kind):
        hints = typing.get_type_hints(fn)
        params = [p for p in fn.__code__.co_varnames[: fn.__code__.co_argcount]]
        if len(params) != 1 or params[0] not in hints:
            raise TypeError(f"weir: `{fn.__name__}` must take one annotated argument, a @dataclass")
        self.fn, self.kind = fn, kind
        self.in_types = []  # the input columns' WIT types, set at init
        self.input = hints[params[0]]
        self.output, self.out_fields = None, None
        if kind in ("map_batch", "filter_batch"):
            self.input = weir_batch.batch_class(fn, self.input, "argument")
            self.in_fields = _fields(self.input, "argument's class")
            weir_batch.check_input(self.input, fn)
            if kind == "map_batch":
                self.output = weir_batch.batch_class(fn, hints.get("return"), "return type")
                self.out_fields = _fields(self.output, "return type's class")
            return
        self.in_fields = _fields(self.input, "argument")
        if kind == "map":
            ret = hints.get("return")
            args = typing.get_args(ret)
            if typing.get_origin(ret) is typing.Union and type(None) in args:
                ret = [a for a in args if a is not type(None)][0]
            if ret is None:
                raise TypeError(f"weir: `{fn.__name__}` must declare what it returns (-> Out or -> Optional[Out])")
            self.output = ret
            self.out_fields = _fields(ret, "return type")


class _Scalar:
    """A SQL scalar function `fn(a: A, b: B, …) -> R`: a map whose input
    columns are its arguments (`arg0`, `arg1`, … as the host names them)
    and whose output is one column, `result`, one row per input row."""

    kind = "scalar"

    def __init__(self, fn):
        hints = typing.get_type_hints(fn)
        params = list(fn.__code__.co_varnames[: fn.__code__.co_argcount])
        self.fn, self.in_types = fn, []
        self.in_fields = []
        for i, p in enumerate(params):
            if p not in hints:
                raise TypeError(f"weir: argument `{p}` of `{fn.__name__}` needs a type annotation")
            ty = hints[p]
            if ty not in _TYPES:
                raise TypeError(f"weir: argument `{p}` of `{fn.__name__}` is {ty!r}; use int, float, str, bytes or bool")
            self.in_fields.append((f"arg{i}", ty, False))
        ret, nullable = hints.get("return"), False
        args = typing.get_args(ret)
        if typing.get_origin(ret) is typing.Union and type(None) in args:
            ret, nullable = [a for a in args if a is not type(None)][0], True
        if ret not in _TYPES:
            raise TypeError(f"weir: `{fn.__name__}` must declare what it returns (-> int, float, str, bytes, bool, or Optional of one)")
        self.out_fields = [("result", ret, nullable)]


def scalar(fn):
    """The operator is a SQL scalar function (`CREATE FUNCTION … LANGUAGE
    WASM`): `fn(a: A, b: B, …) -> R`, called once per row of arguments."""
    global _OP
    _OP = _Scalar(fn)
    return fn


def map(fn):
    """The operator: `fn(In) -> Out | None` (None drops the row)."""
    global _OP
    _OP = _Op(fn, "map")
    return fn


def filter(fn):
    """The operator: `fn(In) -> bool`; rows it keeps go on unchanged."""
    global _OP
    _OP = _Op(fn, "filter")
    return fn


def map_batch(fn):
    """The operator: `fn(weir.Batch[In]) -> weir.Batch[Out]`, once per
    batch, over columns (see `weir_batch`)."""
    global _OP
    _OP = _Op(fn, "map_batch")
    return fn


def filter_batch(fn):
    """The operator: `fn(weir.Batch[In]) -> list[bool]`, once per batch;
    the rows it keeps go on unchanged (see `weir_batch`)."""
    global _OP
    _OP = _Op(fn, "filter_batch")
    return fn


class _Agg:
    def __init__(self, cls):
        self.obj = cls()
        add = typing.get_type_hints(cls.add)
        params = [p for p in cls.add.__code__.co_varnames[1: cls.add.__code__.co_argcount]]
        if len(params) != 2 or params[1] not in add:
            raise TypeError(
                f"weir: {cls.__name__}.add must be `def add(self, acc, record: In)` with `In` a @dataclass")
        self.input = add[params[1]]
        self.in_fields = _fields(self.input, "record `add` takes")
        out = typing.get_type_hints(cls.finish).get("return")
        if out is None:
            raise TypeError(
                f"weir: {cls.__name__}.finish must declare what it returns (-> Out, a @dataclass)")
        self.output = out
        self.out_fields = _fields(out, "return type of `finish`")
        for name in ("create", "merge"):
            if not callable(getattr(cls, name, None)):
                raise TypeError(f"weir: {cls.__name__} has no method `{name}`")


def aggregate(cls):
    """A window aggregate over columns, on a class with four methods:

        create(self) -> acc                 # a new, empty accumulator
        add(self, acc, record: In) -> acc   # or None: acc changed in place
        merge(self, a, b) -> acc            # session windows that grow together
        finish(self, acc, key: bytes, start: int, end: int) -> Out

    `In` and `Out` are @dataclasses: `In`'s fields are the columns the
    aggregate reads (a record without one that is not Optional goes to the
    dead-letter output before any window sees it), `Out`'s the columns of
    its results, after the window's `key`, `window_start` and `window_end`.
    The host keeps the accumulators (pickled) between calls, in its state
    and checkpoints; an exception fails the job.
    """
    global _AGG
    _AGG = _Agg(cls)
    return cls


def _load(agg, data, offsets, i):
    a, b = offsets[i], offsets[i + 1]
    return pickle.loads(data[a:b]) if b > a else agg.obj.create()


def _dump(accs):
    out, offsets = bytearray(), [0]
    for acc in accs:
        out += pickle.dumps(acc, protocol=5)
        offsets.append(len(out))
    return t.VarData(offsets, bytes(out))


class _Aggregator:
    """The aggregate world's export (`Aggregator` below, when the component
    is built for that world)."""

    def init(self, config):
        if _AGG is None:
            raise Err(t.OperatorError("weir: no @weir.aggregate class in the module"))
        CONFIG.update(json.loads(config) if config else {})
        fields = lambda fs: [t.Field(n, _TYPES[ty][1], nullable) for n, ty, nullable in fs]
        return t.AggregateSpec(fields(_AGG.in_fields), fields(_AGG.out_fields))

    def add(self, batch, groups):
        agg, rows = _AGG, batch.rows
        columns = [_read(c, rows) for c in batch.columns]
        make, add = agg.input, agg.obj.add
        records = [make(*values) for values in zip(*columns)] if columns else [make()] * rows
        accs, offsets = groups.accs.data, groups.accs.offsets
        starts, members = groups.row_offsets, groups.rows
        out = []
        try:
            for i in range(len(starts) - 1):
                acc = _load(agg, accs, offsets, i)
                for r in members[starts[i]:starts[i + 1]]:
                    changed = add(acc, records[r])
                    if changed is not None:
                        acc = changed
                out.append(acc)
        except Exception as e:
            raise Err(t.OperatorError(f"add: {type(e).__name__}: {e}"))
        return _dump(out)

    def merge(self, left, right):
        agg = _AGG
        try:
            return _dump([
                agg.obj.merge(_load(agg, left.data, left.offsets, i),
                              _load(agg, right.data, right.offsets, i))
                for i in range(len(left.offsets) - 1)
            ])
        except Exception as e:
            raise Err(t.OperatorError(f"merge: {type(e).__name__}: {e}"))

    def finish(self, fired):
        agg = _AGG
        keys, accs = fired.keys, fired.accs
        outs = []
        try:
            for i, (start, end) in enumerate(zip(fired.window_starts, fired.window_ends)):
                key = keys.data[keys.offsets[i]:keys.offsets[i + 1]]
                outs.append(agg.obj.finish(_load(agg, accs.data, accs.offsets, i), key, start, end))
        except Exception as e:
            raise Err(t.OperatorError(f"finish: {type(e).__name__}: {e}"))
        return [
            _write(list(builtins.map(operator.attrgetter(name), outs)), ty, nullable, name)
            for name, ty, nullable in agg.out_fields
        ]


if hasattr(exports, "Aggregator"):
    class Aggregator(_Aggregator, exports.Aggregator):
        """The component's export; `weir build` wires it up."""


class _Transformer:
    """The transform world's export (`Transformer` below)."""

    def init(self, config, input):
        if _OP is None:
            raise Err(t.OperatorError("weir: no @weir.map or @weir.filter function in the module"))
        CONFIG.update(json.loads(config) if config else {})
        if _OP.kind == "scalar" and len(input) != len(_OP.in_fields):
            raise Err(t.OperatorError(
                f"the function takes {len(_OP.in_fields)} argument(s); it was called with {len(input)}"))
        have = {f.name: (i, f) for i, f in enumerate(input)}
        projection = []
        _OP.in_types = []
        for name, ty, _ in _OP.in_fields:
            if name not in have:
                names = ", ".join(f.name for f in input)
                raise Err(t.OperatorError(f"the input has no column `{name}` (it has {names})"))
            i, f = have[name]
            if f.data_type not in _TYPES[ty][0]:
                raise Err(t.OperatorError(
                    f"column `{name}` is {f.data_type.name.lower()}, which a field of type {ty.__name__} cannot be read from"))
            projection.append(i)
            _OP.in_types.append(f.data_type)
        output = None
        if _OP.out_fields is not None:
            output = [t.Field(n, _TYPES[ty][1], nullable) for n, ty, nullable in _OP.out_fields]
        # Packed input: componentize-py lifts bytes at once, other lists
        # value by value.
        return t.OperatorSpec(output, projection, True)

    def process(self, batch):
        op = _OP
        if op.kind in ("map_batch", "filter_batch"):
            return weir_batch.process(op, batch)
        columns, bad = _columns(op.in_fields, batch, op.in_types)
        if op.kind == "scalar":
            return _scalar(op, columns, batch.rows)
        is_map = op.kind == "map"
        # A class without fields still makes one record per row.
        rows = zip(*columns) if columns else itertools.repeat((), batch.rows)
        if bad:
            results, rejected = _each_checked(op, rows, bad, is_map)
        else:
            results, rejected = _each(op, rows, batch.rows, is_map)
        if is_map:
            kept = [i for i, out in enumerate(results) if out is not None]
            outs = [out for out in results if out is not None]
        else:
            kept = list(itertools.compress(range(len(results)), results))
        if not is_map:
            return t.TransformOutput(t.Answer_Select(t.Selection_PackedIndices(_indices(kept))), rejected)
        cols = [
            _write(list(builtins.map(operator.attrgetter(name), outs)), ty, nullable, name)
            for name, ty, nullable in op.out_fields
        ]
        out = t.OutputBatch(len(outs), t.RowOrigin_PackedParents(_indices(kept)), None, cols)
        return t.TransformOutput(t.Answer_Emit(out), rejected)


def _scalar(op, columns, n):
    """A scalar function's answer: one value per row (the host never
    passes a null argument), a row whose call raises rejected."""
    results, rejected = [], []
    rows = iter(zip(*columns) if columns else itertools.repeat((), n))
    while len(results) < n:
        try:
            results.extend(itertools.starmap(op.fn, rows))
        except Exception as e:  # a row's failure rejects the row
            rejected.append(t.Rejection(len(results), f"{type(e).__name__}: {e}"))
            results.append(None)
    name, ty, nullable = op.out_fields[0]
    col = _write(results, ty, nullable or bool(rejected), name)
    out = t.OutputBatch(n, t.RowOrigin_Same(), None, [col])
    return t.TransformOutput(t.Answer_Emit(out), rejected)


def _each(op, rows, n, is_map):
    """`fn(make(*row))` of every row, looped in C (`map`, `starmap`,
    `list.extend`) rather than by the interpreter: the per-row function's
    own cost is what is left. A row whose call raises is rejected with the
    exception and the rest go on from the next row (the rows' iterator is
    past it already). Returns one result for each of the `n` rows: what `fn` returned, or
    `None` (map) / `False` (filter) for a rejected row."""
    results, rejected = [], []
    rows = iter(rows)
    while True:
        try:
            results.extend(builtins.map(op.fn, itertools.starmap(op.input, rows)))
            if len(results) == n:
                return results, rejected
            # A `StopIteration` the function raised ended `map` early.
            e = StopIteration()
        except Exception as raised:  # a row's failure rejects the row
            e = raised
        rejected.append(t.Rejection(len(results), f"{type(e).__name__}: {e}"))
        results.append(None if is_map else False)


def _each_checked(op, rows, bad, is_map):
    """`_each` for a batch with rows that hold a null where the input class
    does not allow one ({row: field}): those are rejected uncalled."""
    results, rejected = [], []
    make, fn = op.input, op.fn
    for i, values in enumerate(rows):
        out = None if is_map else False
        if i in bad:
            rejected.append(t.Rejection(i, f"field `{bad[i]}` is null"))
        else:
            try:
                out = fn(make(*values))
            except Exception as e:  # a row's failure rejects the row
                rejected.append(t.Rejection(i, f"{type(e).__name__}: {e}"))
        results.append(out)
    return results, rejected


if hasattr(exports, "Transformer"):
    class Transformer(_Transformer, exports.Transformer):
        """The component's export; `weir build` wires it up."""


# Keyed process functions: `@weir.keyed`, state handles, `Context`.
from weir_keyed import Context, ListState, MapState, ValueState, keyed  # noqa: E402,F401
