//! An aggregate component: the tests load it where a transform is expected.

use weir_guest::{Aggregate, Error, Event, Window};

/// Counts events.
pub struct Count;

#[weir_guest::aggregate]
impl Aggregate for Count {
    type Acc = u64;
    type Out = u64;
    fn add(acc: &mut u64, _event: &Event) -> Result<(), Error> {
        *acc += 1;
        Ok(())
    }
    fn merge(a: u64, b: u64) -> u64 {
        a + b
    }
    fn finish(acc: u64, _key: &[u8], _window: Window) -> u64 {
        acc
    }
}
