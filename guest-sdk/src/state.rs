//! Typed handles on host-owned keyed state.
//!
//! Values are stored as JSON. Every read and write goes to the host's state
//! backend for the *current key* (the key of the record or timer being
//! handled), so nothing here survives in the guest.

/// The state handles over one contract version's `state` interface
/// (`$wit`): 0.1's at the crate root, 0.2's in [`crate::v2`]. Values are
/// JSON in both, so state written by an operator of one version reads the
/// same from the other.
macro_rules! state_handles {
    ($($wit:tt)+) => {
        use $($wit)+ as wit;
        use $crate::Error;
        use serde::{Serialize, de::DeserializeOwned};
        use std::marker::PhantomData;

        fn decode<T: DeserializeOwned>(name: &str, bytes: &[u8]) -> Result<T, Error> {
            serde_json::from_slice(bytes).map_err(|e| {
                Error::msg(format_args!("state `{name}` holds unexpected data: {e}"))
            })
        }

        /// One value of type `T` per key.
        ///
        /// ```no_run
        /// # use weir_guest::ValueState;
        /// # fn f() -> Result<(), weir_guest::Error> {
        /// let last = ValueState::<f64>::new("last-amount");
        /// let prev = last.get()?;
        /// last.set(&(prev.unwrap_or(0.0) + 42.0))?;
        /// # Ok(())
        /// # }
        /// ```
        pub struct ValueState<T> {
            name: String,
            handle: wit::ValueState,
            _type: PhantomData<T>,
        }

        impl<T: Serialize + DeserializeOwned> ValueState<T> {
            /// The value state called `name` of this operator.
            pub fn new(name: &str) -> Self {
                Self {
                    name: name.to_owned(),
                    handle: wit::ValueState::new(name),
                    _type: PhantomData,
                }
            }
            /// The current key's value, if set.
            pub fn get(&self) -> Result<Option<T>, Error> {
                self.handle
                    .get()
                    .map(|b| decode(&self.name, &b))
                    .transpose()
            }
            /// Set the current key's value.
            pub fn set(&self, value: &T) -> Result<(), Error> {
                self.handle.set(&serde_json::to_vec(value)?);
                Ok(())
            }
            /// Remove the current key's value.
            pub fn clear(&self) {
                self.handle.clear();
            }
        }

        /// A map from `K` to `V` per key.
        pub struct MapState<K, V> {
            name: String,
            handle: wit::MapState,
            _types: PhantomData<(K, V)>,
        }

        impl<K: Serialize + DeserializeOwned, V: Serialize + DeserializeOwned> MapState<K, V> {
            /// The map state called `name` of this operator.
            pub fn new(name: &str) -> Self {
                Self {
                    name: name.to_owned(),
                    handle: wit::MapState::new(name),
                    _types: PhantomData,
                }
            }
            /// The value under `key` for the current key.
            pub fn get(&self, key: &K) -> Result<Option<V>, Error> {
                self.handle
                    .get(&serde_json::to_vec(key)?)
                    .map(|b| decode(&self.name, &b))
                    .transpose()
            }
            /// Insert or replace.
            pub fn put(&self, key: &K, value: &V) -> Result<(), Error> {
                self.handle
                    .put(&serde_json::to_vec(key)?, &serde_json::to_vec(value)?);
                Ok(())
            }
            /// Remove one entry.
            pub fn remove(&self, key: &K) -> Result<(), Error> {
                self.handle.remove(&serde_json::to_vec(key)?);
                Ok(())
            }
            /// All entries of the current key, ordered by their encoded key.
            pub fn entries(&self) -> Result<Vec<(K, V)>, Error> {
                self.handle
                    .entries()
                    .into_iter()
                    .map(|(k, v)| Ok((decode(&self.name, &k)?, decode(&self.name, &v)?)))
                    .collect()
            }
            /// Remove every entry of the current key.
            pub fn clear(&self) {
                self.handle.clear();
            }
        }

        /// A list of `T` per key.
        pub struct ListState<T> {
            name: String,
            handle: wit::ListState,
            _type: PhantomData<T>,
        }

        impl<T: Serialize + DeserializeOwned> ListState<T> {
            /// The list state called `name` of this operator.
            pub fn new(name: &str) -> Self {
                Self {
                    name: name.to_owned(),
                    handle: wit::ListState::new(name),
                    _type: PhantomData,
                }
            }
            /// The current key's list.
            pub fn get(&self) -> Result<Vec<T>, Error> {
                self.handle
                    .get()
                    .iter()
                    .map(|b| decode(&self.name, b))
                    .collect()
            }
            /// Append to the current key's list.
            pub fn add(&self, value: &T) -> Result<(), Error> {
                self.handle.add(&serde_json::to_vec(value)?);
                Ok(())
            }
            /// Empty the current key's list.
            pub fn clear(&self) {
                self.handle.clear();
            }
        }
    };
}
pub(crate) use state_handles;

state_handles!(crate::bindings::weir::dataflow::state);
