use std::fmt;

/// An error from an operator.
///
/// Returned for one record it *rejects* that record (it goes to the job's
/// dead-letter output, or fails the job if there is none). Anything that
/// implements [`std::error::Error`] converts into it with `?`.
pub struct Error {
    message: String,
}

impl Error {
    /// An error with the given message.
    ///
    /// ```
    /// let e = weir_guest::Error::msg("amount is negative");
    /// assert_eq!(e.to_string(), "amount is negative");
    /// ```
    pub fn msg(message: impl fmt::Display) -> Self {
        Self {
            message: message.to_string(),
        }
    }
}

impl<E: std::error::Error> From<E> for Error {
    fn from(e: E) -> Self {
        Self::msg(e)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Error({:?})", self.message)
    }
}

pub(crate) fn operator_error(
    message: impl fmt::Display,
) -> crate::bindings::weir::dataflow::types::OperatorError {
    crate::bindings::weir::dataflow::types::OperatorError {
        message: message.to_string(),
    }
}
