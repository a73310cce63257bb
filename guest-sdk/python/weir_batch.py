"""weir's Python SDK, batch functions: `@weir.map_batch` and
`@weir.filter_batch` are called once per batch with the batch as columns
(one Python list per field) instead of once per row with a dataclass, like
PyFlink's vectorized functions but without pandas. Python's per-row cost
(making an object, calling a function) is paid by C code in list
comprehensions, `map` and `itertools` instead, so a batch function can be
several times faster than the same logic per row.

    @weir.map_batch
    def big_payments(tx: weir.Batch[Transaction]) -> weir.Batch[Payment]:
        big = tx.where([a >= 50.0 for a in tx.amount])
        return big.to(Payment, user=big.user, merchant=big.merchant, ts=big.ts,
                      cents=[round(a * 100) for a in big.amount])

    @weir.filter_batch
    def big(tx: weir.Batch[Transaction]) -> list[bool]:
        return [a >= 50.0 for a in tx.amount]

A `Batch[T]` has one attribute per field of dataclass `T`, a list with one
value per row (None where a field that is `Optional` is null; a row with a
null where the field is not Optional never reaches the function: it is
rejected to the dead-letter output first). `len(batch)` is its number of
rows; `batch.where(mask)` and `batch.take(rows)` select rows;
`batch.to(Out, field=...)` makes the output: one row of dataclass `Out` per
row of `batch`, each field given as a list (one value per row) or as one
value for every row, or left out to take the dataclass's default. Each
output row keeps its input row's event time and key.

A batch function sees rows, not records, so an exception it raises is not
a row's fault: it fails the operator with the exception's message (no row
is rejected for it).
"""

import builtins
import dataclasses
import itertools
import typing

from componentize_py_types import Err
from wit_world.imports import types as t

from weir_columns import _columns, _indices, _write

T = typing.TypeVar("T")

# Names a field of a batch's class cannot have: they are Batch's own.
_RESERVED = {"where", "take", "to"}


class Batch(typing.Generic[T]):
    """Rows of a batch as columns: one list attribute per field of `T`."""

    def __init__(self, names, columns, parents):
        self._names = names
        self._parents = parents
        self.__dict__.update(zip(names, columns))

    def __len__(self):
        return len(self._parents)

    def __repr__(self):
        return f"Batch({len(self)} rows: {', '.join(self._names)})"

    def where(self, mask):
        """The rows for which `mask` (one bool per row) is true."""
        if len(mask) != len(self):
            raise ValueError(f"where: the mask has {len(mask)} values for {len(self)} rows")
        return self.take(list(itertools.compress(range(len(self)), mask)))

    def take(self, rows):
        """The rows at these indices, in increasing order (an index may
        repeat: a row given twice comes out twice)."""
        rows = list(rows)
        if any(builtins.map(int.__gt__, rows, rows[1:])):
            raise ValueError("take: the rows must be in increasing order (output keeps input order)")
        if rows and (rows[0] < 0 or rows[-1] >= len(self)):
            raise IndexError(f"take: a row outside 0..{len(self) - 1}")
        columns = [list(builtins.map(self.__dict__[n].__getitem__, rows)) for n in self._names]
        return Batch(self._names, columns, list(builtins.map(self._parents.__getitem__, rows)))

    def to(self, cls, **fields):
        """Output rows of dataclass `cls`, one per row of this batch: each
        field a list (one value per row), one value for all rows, or left
        out for its default."""
        return _Rows(cls, self._parents, fields)


class _Rows:
    """What `Batch.to` makes: output columns and the input row of each."""

    def __init__(self, cls, parents, fields):
        self.cls, self.parents, self.fields = cls, parents, fields


def check_input(cls, fn):
    """Refuse an input class whose field names are Batch's own."""
    clash = [f.name for f in dataclasses.fields(cls) if f.name in _RESERVED or f.name.startswith("_")]
    if clash:
        raise TypeError(
            f"weir: `{fn.__name__}` reads a Batch of {cls.__name__}, whose field `{clash[0]}` "
            f"is a name Batch uses ({', '.join(sorted(_RESERVED))}, or a leading _); rename it")


def batch_class(fn, hint, what):
    """`T` of a `weir.Batch[T]` annotation, or a TypeError saying what to write."""
    if typing.get_origin(hint) is Batch and len(typing.get_args(hint)) == 1:
        return typing.get_args(hint)[0]
    raise TypeError(f"weir: the {what} of `{fn.__name__}` must be weir.Batch[SomeDataclass], not {hint!r}")


def _defaults(cls):
    out = {}
    for f in dataclasses.fields(cls):
        if f.default is not dataclasses.MISSING:
            out[f.name] = f.default
        elif f.default_factory is not dataclasses.MISSING:
            out[f.name] = f.default_factory()
    return out


def process(op, batch):
    """The transform's answer for `batch` from batch function `op`."""
    columns, bad = _columns(op.in_fields, batch, op.in_types)
    parents = list(range(batch.rows))
    rejected = []
    if bad:
        rejected = [t.Rejection(i, f"field `{name}` is null") for i, name in sorted(bad.items())]
        parents = [i for i in parents if i not in bad]
        columns = [list(builtins.map(c.__getitem__, parents)) for c in columns]
    names = [n for n, _, _ in op.in_fields]
    name = op.fn.__name__
    try:
        out = op.fn(Batch(names, columns, parents))
    except Exception as e:
        raise Err(t.OperatorError(f"`{name}` raised {type(e).__name__}: {e} (on a batch of {len(parents)} rows)"))
    if op.kind == "filter_batch":
        if not isinstance(out, list) or len(out) != len(parents):
            raise Err(t.OperatorError(
                f"`{name}` must return a list of one bool per row ({len(parents)}), not {_what(out)}"))
        kept = list(itertools.compress(parents, out))
        return t.TransformOutput(t.Answer_Select(t.Selection_PackedIndices(_indices(kept))), rejected)
    if not isinstance(out, _Rows) or out.cls is not op.output:
        raise Err(t.OperatorError(
            f"`{name}` must return batch.to({op.output.__name__}, ...), not {_what(out)}"))
    n = len(out.parents)
    unknown = set(out.fields) - {f for f, _, _ in op.out_fields}
    if unknown:
        raise Err(t.OperatorError(f"`{name}`: {op.output.__name__} has no field `{sorted(unknown)[0]}`"))
    defaults = _defaults(op.output)
    cols = []
    for field, ty, nullable in op.out_fields:
        if field in out.fields:
            values = out.fields[field]
        elif field in defaults:
            values = defaults[field]
        else:
            raise Err(t.OperatorError(
                f"`{name}` gave no `{field}` for {op.output.__name__}, and the field has no default"))
        # One value for every row, unless it is a list (of lists, for a list field).
        if not isinstance(values, list) or (typing.get_args(ty) and not (values and isinstance(values[0], list))):
            values = [values] * n
        elif len(values) != n:
            raise Err(t.OperatorError(f"`{name}`: field `{field}` has {len(values)} values for {n} rows"))
        cols.append(_write(values, ty, nullable, field))
    emitted = t.OutputBatch(n, t.RowOrigin_PackedParents(_indices(out.parents)), None, cols)
    return t.TransformOutput(t.Answer_Emit(emitted), rejected)


def _what(v):
    return f"{type(v).__name__} of {len(v)}" if isinstance(v, list) else type(v).__name__
