//! JSON helpers on [`Event`].

use crate::{Error, Event};
use serde::{Serialize, de::DeserializeOwned};

impl Event {
    /// A new event with a payload and event time, no key and no headers.
    ///
    /// ```
    /// let e = weir_guest::Event::new(b"{}".to_vec(), 1_000);
    /// assert_eq!(e.timestamp, 1_000);
    /// ```
    pub fn new(value: Vec<u8>, timestamp: i64) -> Self {
        Self {
            key: None,
            value,
            timestamp,
            headers: Vec::new(),
        }
    }

    /// Parse the payload as JSON.
    ///
    /// ```
    /// let e = weir_guest::Event::new(br#"{"n":3}"#.to_vec(), 0);
    /// let v: serde_json::Value = e.json().unwrap();
    /// assert_eq!(v["n"], 3);
    /// ```
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, Error> {
        serde_json::from_slice(&self.value)
            .map_err(|e| Error::msg(format_args!("payload is not the expected JSON: {e}")))
    }

    /// A new event with `value` serialized as JSON as its payload, and the
    /// key, event time and headers of `self`: what a map or flat-map emits.
    ///
    /// ```
    /// let e = weir_guest::Event::new(b"{}".to_vec(), 7);
    /// let out = e.derive_json(&serde_json::json!({"word": "hi"})).unwrap();
    /// assert_eq!(out.timestamp, 7);
    /// assert_eq!(out.value, br#"{"word":"hi"}"#);
    /// ```
    pub fn derive_json<T: Serialize>(&self, value: &T) -> Result<Event, Error> {
        Ok(Event {
            key: self.key.clone(),
            value: serde_json::to_vec(value)?,
            timestamp: self.timestamp,
            headers: self.headers.clone(),
        })
    }

    /// Replace the payload with `value` serialized as JSON.
    pub fn set_json<T: Serialize>(&mut self, value: &T) -> Result<(), Error> {
        self.value = serde_json::to_vec(value)?;
        Ok(())
    }

    /// The key as UTF-8 text, if it has one and it is text.
    pub fn key_str(&self) -> Option<&str> {
        self.key
            .as_deref()
            .and_then(|k| std::str::from_utf8(k).ok())
    }
}
