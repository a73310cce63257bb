//! DECIMAL arithmetic where Flink's differs from arrow's, as two
//! functions the query is rewritten to call.
//!
//! **Casts.** `CAST(x AS DECIMAL(p, s))` as Flink casts: a `DOUBLE` or `FLOAT` is
//! rounded half up from its shortest decimal text, as Java's
//! `BigDecimal.valueOf(double)` reads it — `105.525` (the double nearest
//! 105 × 1.005, printed `105.52499999999999`) is `105.52`. Arrow's cast
//! multiplies by 10^s in floating point first, which lands on
//! `10552.5` and rounds to `105.53`. Any other type is cast by arrow
//! (text and decimals are rounded half up there too).
//!
//! [`super::flink`] rewrites every such `CAST` into a call of this
//! function, `__weir_cast_decimal(x, p, s)`, before planning.
//!
//! ```text
//! CAST(CAST(amount AS DOUBLE) * 1.005e0 AS DECIMAL(10, 2))
//!   → __weir_cast_decimal(CAST(amount AS DOUBLE) * 1.005e0, 10, 2)
//! ```
//!
//! **Division.** Flink divides `DECIMAL(p1, s1) / DECIMAL(p2, s2)` (an
//! integer being a `DECIMAL(10, 0)` or `(19, 0)`) into a `DECIMAL` of scale
//! `max(6, s1 + p2 + 1)` and precision `p1 - s1 + s2 + scale`, at most
//! 38 (then the scale gives way, down to 6), rounded half up; arrow's
//! quotient has scale `s1 + 4` and is cut off. [`flink_division`]
//! replaces each decimal `/` of a planned query (its operands' types
//! known, after type coercion) with `__weir_divide_decimal(a, b)`, which
//! divides as Flink does in 256-bit integers. A divisor of 0 fails the
//! job, as Flink's `ArithmeticException` does.

use arrow_array::types::Decimal128Type;
use arrow_array::{Array, ArrayRef, Decimal128Array};
use arrow_buffer::i256;
use arrow_cast::cast::parse_string_to_decimal_native;
use arrow_schema::{DataType, Field, FieldRef};
use datafusion_common::tree_node::{Transformed, TreeNode};
use datafusion_common::{Result, ScalarValue, exec_err, plan_err};
use datafusion_expr::expr::ScalarFunction;
use datafusion_expr::{
    BinaryExpr, ColumnarValue, Expr, ExprSchemable, LogicalPlan, Operator, ReturnFieldArgs,
    ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};
use std::sync::{Arc, OnceLock};

/// The cast's name (not one a script can call: the allowlist of
/// functions is checked before the rewrite).
pub(super) const NAME: &str = "__weir_cast_decimal";

/// The division's name.
const DIVIDE: &str = "__weir_divide_decimal";

/// `plan` with each `/` of two decimals (after type coercion: an
/// integer divided by a decimal, or a decimal by one, is coerced to two)
/// replaced by Flink's decimal division.
pub(super) fn flink_division(plan: LogicalPlan) -> Result<LogicalPlan> {
    plan.transform_up(|node| {
        let schema = datafusion_expr::utils::merge_schema(&node.inputs());
        node.map_expressions(|e| {
            e.transform_up(|e| match e {
                Expr::BinaryExpr(BinaryExpr {
                    left,
                    op: Operator::Divide,
                    right,
                }) => {
                    let decimal =
                        |x: &Expr| matches!(x.get_type(&schema), Ok(DataType::Decimal128(..)));
                    if decimal(&left) && decimal(&right) {
                        Ok(Transformed::yes(Expr::ScalarFunction(
                            ScalarFunction::new_udf(divide_udf(), vec![*left, *right]),
                        )))
                    } else {
                        Ok(Transformed::no(Expr::BinaryExpr(BinaryExpr {
                            left,
                            op: Operator::Divide,
                            right,
                        })))
                    }
                }
                other => Ok(Transformed::no(other)),
            })
        })
    })
    .map(|t| t.data)
}

fn divide_udf() -> Arc<ScalarUDF> {
    static F: OnceLock<Arc<ScalarUDF>> = OnceLock::new();
    F.get_or_init(|| {
        Arc::new(ScalarUDF::new_from_impl(DivideDecimals {
            signature: Signature::any(2, Volatility::Immutable),
        }))
    })
    .clone()
}

/// The type of `DECIMAL(p1, s1) / DECIMAL(p2, s2)` in Flink
/// (`LogicalTypeMerging.findDivisionDecimalType`, then
/// `adjustPrecisionScale`).
fn quotient_type(p1: u8, s1: i8, p2: u8, s2: i8) -> (u8, i8) {
    let (p1, s1, p2, s2) = (i32::from(p1), i32::from(s1), i32::from(p2), i32::from(s2));
    let scale = 6.max(s1 + p2 + 1);
    let precision = p1 - s1 + s2 + scale;
    if precision <= 38 {
        return (precision as u8, scale as i8);
    }
    let whole = precision - scale;
    let scale = (38 - whole).max(scale.min(6));
    (38, scale as i8)
}

/// `a / b` of unscaled decimals of scales `s1` and `s2` as an unscaled
/// decimal of scale `s`, rounded half up (away from zero).
fn divide(a: i128, s1: i8, b: i128, s2: i8, s: i8) -> Option<i128> {
    if b == 0 {
        return None;
    }
    let shift = i32::from(s) + i32::from(s2) - i32::from(s1);
    let ten = i256::from_i128(10);
    let (mut num, mut den) = (i256::from_i128(a), i256::from_i128(b));
    if shift >= 0 {
        num = num.checked_mul(ten.checked_pow(shift as u32)?)?;
    } else {
        den = den.checked_mul(ten.checked_pow(shift.unsigned_abs())?)?;
    }
    let q = num.checked_div(den)?;
    let r = num.checked_rem(den)?;
    let q = if r.wrapping_abs().checked_mul(i256::from_i128(2))? >= den.wrapping_abs() {
        q.checked_add(num.signum().checked_mul(den.signum())?)?
    } else {
        q
    };
    q.to_i128()
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct DivideDecimals {
    signature: Signature,
}

impl ScalarUDFImpl for DivideDecimals {
    fn name(&self) -> &str {
        DIVIDE
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, types: &[DataType]) -> Result<DataType> {
        match types {
            [DataType::Decimal128(p1, s1), DataType::Decimal128(p2, s2)] => {
                let (p, s) = quotient_type(*p1, *s1, *p2, *s2);
                Ok(DataType::Decimal128(p, s))
            }
            other => plan_err!("{DIVIDE}: two decimals, not {other:?}"),
        }
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let n = args.number_rows;
        let to = args.return_field.data_type().clone();
        let (a, b) = (args.args[0].to_array(n)?, args.args[1].to_array(n)?);
        let (DataType::Decimal128(p, s), DataType::Decimal128(_, s1), DataType::Decimal128(_, s2)) =
            (&to, a.data_type(), b.data_type())
        else {
            return exec_err!("{DIVIDE}: two decimals into one, not {to}");
        };
        let (a, b) = (
            a.as_any()
                .downcast_ref::<Decimal128Array>()
                .expect("a decimal"),
            b.as_any()
                .downcast_ref::<Decimal128Array>()
                .expect("a decimal"),
        );
        let values = a
            .iter()
            .zip(b.iter())
            .map(|(x, y)| match (x, y) {
                (Some(x), Some(y)) => {
                    let q = divide(x, *s1, y, *s2, *s).filter(|q| {
                        <Decimal128Type as arrow_array::types::DecimalType>::is_valid_decimal_precision(*q, *p)
                    });
                    match q {
                        Some(q) => Ok(Some(q)),
                        None if y == 0 => exec_err!("decimal division by zero"),
                        None => exec_err!("a decimal quotient with more than {p} digits"),
                    }
                }
                _ => Ok(None),
            })
            .collect::<Result<Decimal128Array>>()?;
        Ok(ColumnarValue::Array(Arc::new(
            values.with_precision_and_scale(*p, *s)?,
        )))
    }
}

/// The cast, for the catalog.
pub(super) fn udf() -> Arc<ScalarUDF> {
    static F: OnceLock<Arc<ScalarUDF>> = OnceLock::new();
    F.get_or_init(|| {
        Arc::new(ScalarUDF::new_from_impl(CastToDecimal {
            signature: Signature::any(3, Volatility::Immutable),
        }))
    })
    .clone()
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct CastToDecimal {
    signature: Signature,
}

/// `p` or `s`, a literal argument.
fn literal(args: &ReturnFieldArgs, i: usize) -> Result<i64> {
    match args.scalar_arguments.get(i).copied().flatten() {
        Some(ScalarValue::Int64(Some(n))) => Ok(*n),
        Some(ScalarValue::Int32(Some(n))) => Ok(i64::from(*n)),
        _ => plan_err!("{NAME}: argument {} must be an integer literal", i + 1),
    }
}

impl ScalarUDFImpl for CastToDecimal {
    fn name(&self) -> &str {
        NAME
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _: &[DataType]) -> Result<DataType> {
        plan_err!("{NAME}: its type comes from its literal arguments")
    }

    fn return_field_from_args(&self, args: ReturnFieldArgs) -> Result<FieldRef> {
        let (p, s) = (literal(&args, 1)?, literal(&args, 2)?);
        if !(1..=38).contains(&p) || !(0..=p).contains(&s) {
            return plan_err!("DECIMAL({p}, {s}): precision 1 to 38, scale 0 to the precision");
        }
        let nullable = args.arg_fields[0].is_nullable();
        Ok(Arc::new(Field::new(
            NAME,
            DataType::Decimal128(p as u8, s as i8),
            nullable,
        )))
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let to = args.return_field.data_type().clone();
        let DataType::Decimal128(p, s) = to else {
            return exec_err!("{NAME}: returns {to}, not a DECIMAL");
        };
        let n = args.number_rows;
        let input = args.args[0].to_array(n)?;
        let out: ArrayRef = match input.data_type() {
            DataType::Float64 | DataType::Float32 => {
                let doubles = arrow_cast::cast(&input, &DataType::Float64)?;
                let doubles = doubles
                    .as_any()
                    .downcast_ref::<arrow_array::Float64Array>()
                    .expect("cast to Float64");
                let values = doubles
                    .iter()
                    .map(|v| v.map(|v| from_double(v, p, s)).transpose())
                    .collect::<Result<Decimal128Array>>()?;
                Arc::new(values.with_precision_and_scale(p, s)?)
            }
            _ => arrow_cast::cast(&input, &to)?,
        };
        Ok(ColumnarValue::Array(out))
    }
}

/// `v` as a DECIMAL(p, s) unscaled value: its shortest decimal text
/// (Rust's `Display` of an f64: no exponent, the fewest digits that read
/// back the same double), rounded half up to `s` decimals.
fn from_double(v: f64, p: u8, s: i8) -> Result<i128> {
    if !v.is_finite() {
        return exec_err!("CAST({v} AS DECIMAL({p}, {s})): not a number");
    }
    let text = v.to_string();
    let unscaled = parse_string_to_decimal_native::<Decimal128Type>(&text, s as usize)?;
    if !<Decimal128Type as arrow_array::types::DecimalType>::is_valid_decimal_precision(unscaled, p)
    {
        return exec_err!("CAST({text} AS DECIMAL({p}, {s})): more than {p} digits");
    }
    Ok(unscaled)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn division_has_flinks_type_and_rounds_half_up() {
        // DECIMAL(10, 2) / INT (a DECIMAL(10, 0)), / DECIMAL(3, 2).
        assert_eq!(quotient_type(10, 2, 10, 0), (21, 13));
        assert_eq!(quotient_type(10, 2, 3, 2), (16, 6));
        // Over 38 digits, the scale gives way down to 6.
        assert_eq!(quotient_type(38, 2, 10, 0), (38, 6));
        // 117.10 / 3 = 39.0333333333333 (13 places); -1.46 / 3 = -0.4866666666667.
        assert_eq!(divide(11710, 2, 3, 0, 13), Some(390_333_333_333_333));
        assert_eq!(divide(-146, 2, 3, 0, 13), Some(-4_866_666_666_667));
        // 117.10 / 1.07 = 109.439252 (109.4392523…), 1.00 / 8.00 = 0.125000.
        assert_eq!(divide(11710, 2, 107, 2, 6), Some(109_439_252));
        assert_eq!(divide(100, 2, 800, 2, 6), Some(125_000));
        assert_eq!(divide(1, 0, 0, 0, 6), None);
    }

    #[test]
    fn a_double_rounds_half_up_from_its_shortest_text() {
        let v = 105.0 * 1.005;
        assert_eq!(v.to_string(), "105.52499999999999");
        assert_eq!(from_double(v, 10, 2).unwrap(), 10552);
        assert_eq!(from_double(2.675, 10, 2).unwrap(), 268);
        assert_eq!(from_double(-0.125, 10, 2).unwrap(), -13);
        assert_eq!(from_double(1e-7, 10, 2).unwrap(), 0);
        assert!(from_double(1e12, 10, 2).is_err(), "more digits than 10");
        assert!(from_double(f64::NAN, 10, 2).is_err());
    }
}
