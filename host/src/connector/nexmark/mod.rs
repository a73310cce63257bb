//! Nexmark's events — people, auctions and bids of an online auction — as
//! weir's generator makes them: the datagen schemas `nexmark-person`,
//! `nexmark-auction` and `nexmark-bid`, one table each, with the columns
//! of Flink's Nexmark tables (`dateTime` as SQL text, which both Flink's
//! `json` format and weir read as a `TIMESTAMP(3)`).
//!
//! After the generator of the Nexmark benchmark (Beam's, and
//! nexmark-flink's): one stream of events numbered from 0, in groups of 50
//! — 1 person, 3 auctions, 46 bids — 10 events per millisecond of event
//! time (Nexmark's default rate), in order. A bid goes to a hot auction
//! (one in 2), from a hot bidder (one in 4); an auction's seller is a hot
//! seller one time in 4; ids refer only to people and auctions already
//! made (or a few ahead), as in Nexmark. Each event is made from its own
//! number and the seed, so the three tables of one seed are one
//! consistent stream however they are read, and a table's row `k` is
//! always the same event.
//!
//! ```
//! use weir::connector::nexmark::{Table, write_row};
//! let mut line = Vec::new();
//! write_row(Table::Bid, 0, 7, 1_700_000_000_000, &mut line);
//! let bid: serde_json::Value = serde_json::from_slice(&line).unwrap();
//! assert!(bid["auction"].as_i64().unwrap() >= 1000);
//! assert_eq!(bid["dateTime"], "2023-11-14 22:13:20.000");
//! ```

pub mod columns;

use super::rng::Rng;
use std::io::Write;

/// Events in one group, and each kind's share of it.
const PERSONS: u64 = 1;
const AUCTIONS: u64 = 3;
const TOTAL: u64 = 50;
/// Events per millisecond of event time.
const EVENTS_PER_MS: u64 = 10;
const FIRST_PERSON_ID: u64 = 1000;
const FIRST_AUCTION_ID: u64 = 1000;
const FIRST_CATEGORY_ID: u64 = 10;
const CATEGORIES: u64 = 5;
const ACTIVE_PEOPLE: u64 = 1000;
const PERSON_ID_LEAD: u64 = 10;
const IN_FLIGHT_AUCTIONS: u64 = 100;
const AUCTION_ID_LEAD: u64 = 10;
const HOT_AUCTION_RATIO: u64 = 2;
const HOT_BIDDER_RATIO: u64 = 4;
const HOT_SELLER_RATIO: u64 = 4;
const HOT_CHANNEL_RATIO: u64 = 2;
const CHANNELS: u64 = 10_000;
/// Average sizes of a row, bytes (the `extra` column pads up to them).
const PERSON_BYTES: usize = 200;
const AUCTION_BYTES: usize = 500;
const BID_BYTES: usize = 100;

const FIRST_NAMES: &[&str] = &[
    "Peter", "Paul", "Luke", "John", "Saul", "Vicky", "Kate", "Julie", "Sarah", "Deiter", "Walter",
];
const LAST_NAMES: &[&str] = &[
    "Shultz", "Abrams", "Spencer", "White", "Bartels", "Walton", "Smith", "Jones", "Noris",
];
const STATES: &[&str] = &["AZ", "CA", "ID", "OR", "WA", "WY"];
const CITIES: &[&str] = &[
    "Phoenix",
    "Los Angeles",
    "San Francisco",
    "Boise",
    "Portland",
    "Bend",
    "Redmond",
    "Seattle",
    "Kent",
    "Cheyenne",
];
const HOT_CHANNELS: &[&str] = &["Google", "Facebook", "Baidu", "Apple"];

/// One of Nexmark's three tables.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Table {
    /// `person(id, name, emailAddress, creditCard, city, state, dateTime, extra)`.
    Person,
    /// `auction(id, itemName, description, initialBid, reserve, dateTime,
    /// expires, seller, category, extra)`.
    Auction,
    /// `bid(auction, bidder, price, channel, url, dateTime, extra)`.
    Bid,
}

impl Table {
    /// The table a datagen schema name stands for.
    pub fn of_schema(schema: &str) -> Option<Table> {
        match schema {
            "nexmark-person" => Some(Table::Person),
            "nexmark-auction" => Some(Table::Auction),
            "nexmark-bid" => Some(Table::Bid),
            _ => None,
        }
    }

    /// The table's columns and their `[source.schema]` types.
    pub fn columns(self) -> &'static [(&'static str, &'static str)] {
        match self {
            Table::Person => &[
                ("id", "int"),
                ("name", "string"),
                ("emailAddress", "string"),
                ("creditCard", "string"),
                ("city", "string"),
                ("state", "string"),
                ("dateTime", "timestamp"),
                ("extra", "string"),
            ],
            Table::Auction => &[
                ("id", "int"),
                ("itemName", "string"),
                ("description", "string"),
                ("initialBid", "int"),
                ("reserve", "int"),
                ("dateTime", "timestamp"),
                ("expires", "timestamp"),
                ("seller", "int"),
                ("category", "int"),
                ("extra", "string"),
            ],
            Table::Bid => &[
                ("auction", "int"),
                ("bidder", "int"),
                ("price", "int"),
                ("channel", "string"),
                ("url", "string"),
                ("dateTime", "timestamp"),
                ("extra", "string"),
            ],
        }
    }

    /// The number of the event that is this table's row `row`.
    fn event(self, row: u64) -> u64 {
        match self {
            Table::Person => row * TOTAL,
            Table::Auction => row / AUCTIONS * TOTAL + PERSONS + row % AUCTIONS,
            Table::Bid => {
                let bids = TOTAL - PERSONS - AUCTIONS;
                row / bids * TOTAL + PERSONS + AUCTIONS + row % bids
            }
        }
    }

    /// Rows of this table among the first `events` events.
    pub fn rows_in(self, events: u64) -> u64 {
        let (share, first) = match self {
            Table::Person => (PERSONS, 0),
            Table::Auction => (AUCTIONS, PERSONS),
            Table::Bid => (TOTAL - PERSONS - AUCTIONS, PERSONS + AUCTIONS),
        };
        let rest = (events % TOTAL).saturating_sub(first).min(share);
        events / TOTAL * share + rest
    }
}

/// The id (from 0) of the last person made by event `event` (a group's
/// one person is its first event).
fn last_person(event: u64) -> u64 {
    const { assert!(PERSONS == 1) };
    event / TOTAL
}

/// The id (from 0) of the last auction made by event `event`.
fn last_auction(event: u64) -> u64 {
    let (epoch, offset) = (event / TOTAL, event % TOTAL);
    if offset < PERSONS {
        // Before this group's first auction: the previous group's last.
        (epoch * AUCTIONS).saturating_sub(1)
    } else {
        epoch * AUCTIONS + (offset - PERSONS).min(AUCTIONS - 1)
    }
}

/// A person among the active ones (or a few not made yet).
fn some_person(rng: &mut Rng, event: u64) -> u64 {
    let people = last_person(event) + 1;
    let active = people.min(ACTIVE_PEOPLE);
    people - active + rng.below(active + PERSON_ID_LEAD)
}

/// An auction among the ones in flight (or a few not made yet).
fn some_auction(rng: &mut Rng, event: u64) -> u64 {
    let last = last_auction(event);
    let first = last.saturating_sub(IN_FLIGHT_AUCTIONS);
    first + rng.below(last - first + 1 + AUCTION_ID_LEAD)
}

/// A price in cents, log-uniform from 1 to 1,000,000 dollars.
fn price(rng: &mut Rng) -> u64 {
    let unit = (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
    (10f64.powf(unit * 6.0) * 100.0).round() as u64
}

fn letters(rng: &mut Rng, n: usize, out: &mut Vec<u8>) {
    for _ in 0..n {
        out.push(b'a' + rng.below(26) as u8);
    }
}

/// `extra`: letters that bring a row of `used` bytes to about `average`
/// (±20%).
fn extra(rng: &mut Rng, used: usize, average: usize, out: &mut Vec<u8>) {
    let delta = average / 5;
    let target = average - delta + rng.below(2 * delta as u64) as usize;
    letters(rng, target.saturating_sub(used), out);
}

fn pick<'a>(rng: &mut Rng, from: &[&'a str]) -> &'a str {
    from[rng.below(from.len() as u64) as usize]
}

/// Where a row's values go, one column after another in the table's
/// order: a JSON object ([`write_row`]) or typed columns
/// ([`columns::Generated`]). The generator makes the same values, with the
/// same random draws, whichever it is.
trait RowOut {
    /// The next column, an integer.
    fn int(&mut self, v: u64);
    /// The next column, a timestamp (ms since the epoch).
    fn timestamp(&mut self, ms: i64);
    /// The next column, text written by `f`, which is told the length of
    /// the row as a JSON object so far, up to the text's opening quote
    /// (for `extra`, which pads the row to a size).
    fn text(&mut self, f: impl FnOnce(&mut Vec<u8>, usize));
}

/// The JSON text of a row: an object of its table's columns, in order.
struct JsonRow<'a> {
    out: &'a mut Vec<u8>,
    begin: usize,
    names: &'static [(&'static str, &'static str)],
    next: usize,
}

impl JsonRow<'_> {
    /// `{"name":` or `,"name":` for the next column.
    fn key(&mut self) {
        self.out.push(if self.next == 0 { b'{' } else { b',' });
        self.out.push(b'"');
        self.out
            .extend_from_slice(self.names[self.next].0.as_bytes());
        self.out.extend_from_slice(b"\":");
        self.next += 1;
    }
}

impl RowOut for JsonRow<'_> {
    fn int(&mut self, v: u64) {
        self.key();
        let _ = write!(self.out, "{v}");
    }
    fn timestamp(&mut self, ms: i64) {
        self.key();
        self.out.push(b'"');
        let frac = crate::time::write_sql_seconds(self.out, ms);
        let _ = write!(self.out, ".{frac:03}\"");
    }
    fn text(&mut self, f: impl FnOnce(&mut Vec<u8>, usize)) {
        self.key();
        self.out.push(b'"');
        let used = self.out.len() - self.begin;
        f(self.out, used);
        self.out.push(b'"');
    }
}

/// Write `table`'s row `row` of the stream of `seed`, whose first event is
/// at `start_ms`, into `out` as one JSON object.
pub fn write_row(table: Table, row: u64, seed: u64, start_ms: i64, out: &mut Vec<u8>) {
    let begin = out.len();
    let mut json = JsonRow {
        out,
        begin,
        names: table.columns(),
        next: 0,
    };
    generate(table, row, seed, start_ms, &mut json);
    json.out.push(b'}');
}

/// Make `table`'s row `row` of the stream of `seed` into `out`.
fn generate(table: Table, row: u64, seed: u64, start_ms: i64, out: &mut impl RowOut) {
    let event = table.event(row);
    let mut rng = Rng::new(seed.wrapping_mul(0x2545_f491_4f6c_dd1d) ^ event);
    let ts = start_ms + (event / EVENTS_PER_MS) as i64;
    match table {
        Table::Person => {
            out.int(last_person(event) + FIRST_PERSON_ID);
            let first = pick(&mut rng, FIRST_NAMES);
            let last = pick(&mut rng, LAST_NAMES);
            out.text(|b, _| {
                let _ = write!(b, "{first} {last}");
            });
            out.text(|b, _| {
                letters(&mut rng, 7, b);
                b.push(b'@');
                letters(&mut rng, 5, b);
                b.extend_from_slice(b".com");
            });
            out.text(|b, _| {
                for i in 0..4 {
                    if i > 0 {
                        b.push(b' ');
                    }
                    let _ = write!(b, "{:04}", rng.below(10_000));
                }
            });
            let city = pick(&mut rng, CITIES);
            out.text(|b, _| b.extend_from_slice(city.as_bytes()));
            let state = pick(&mut rng, STATES);
            out.text(|b, _| b.extend_from_slice(state.as_bytes()));
            out.timestamp(ts);
            out.text(|b, used| extra(&mut rng, used, PERSON_BYTES, b));
        }
        Table::Auction => {
            let id = last_auction(event) + FIRST_AUCTION_ID;
            let seller = if rng.below(HOT_SELLER_RATIO) > 0 {
                last_person(event) / HOT_SELLER_RATIO * HOT_SELLER_RATIO
            } else {
                some_person(&mut rng, event)
            } + FIRST_PERSON_ID;
            let category = FIRST_CATEGORY_ID + rng.below(CATEGORIES);
            let initial = price(&mut rng);
            let reserve = initial + price(&mut rng);
            // An auction runs until about twice the time the next 100
            // auctions take to be made.
            let horizon = IN_FLIGHT_AUCTIONS * TOTAL / AUCTIONS / EVENTS_PER_MS;
            let expires = ts + 1 + rng.below(2 * horizon) as i64;
            out.int(id);
            out.text(|b, _| letters(&mut rng, 20, b));
            out.text(|b, _| letters(&mut rng, 100, b));
            out.int(initial);
            out.int(reserve);
            out.timestamp(ts);
            out.timestamp(expires);
            out.int(seller);
            out.int(category);
            out.text(|b, used| extra(&mut rng, used, AUCTION_BYTES, b));
        }
        Table::Bid => {
            let auction = if rng.below(HOT_AUCTION_RATIO) > 0 {
                last_auction(event) / HOT_AUCTION_RATIO * HOT_AUCTION_RATIO
            } else {
                some_auction(&mut rng, event)
            } + FIRST_AUCTION_ID;
            let bidder = if rng.below(HOT_BIDDER_RATIO) > 0 {
                last_person(event) / HOT_BIDDER_RATIO * HOT_BIDDER_RATIO + 1
            } else {
                some_person(&mut rng, event)
            } + FIRST_PERSON_ID;
            out.int(auction);
            out.int(bidder);
            out.int(price(&mut rng));
            let mut channel = None;
            out.text(|b, _| {
                if rng.below(HOT_CHANNEL_RATIO) > 0 {
                    let i = rng.below(HOT_CHANNELS.len() as u64) as usize;
                    b.extend_from_slice(HOT_CHANNELS[i].as_bytes());
                } else {
                    let c = rng.below(CHANNELS);
                    let _ = write!(b, "channel-{c}");
                    channel = Some(c);
                }
            });
            out.text(|b, _| {
                b.extend_from_slice(b"https://www.nexmark.com/");
                for _ in 0..3 {
                    letters(&mut rng, 5, b);
                    b.push(b'/');
                }
                b.extend_from_slice(b"item.htm?query=1");
                // Nine in ten other channels name themselves in the URL.
                if let Some(c) = channel.filter(|_| rng.below(10) > 0) {
                    let _ = write!(b, "&channel_id={}", (c as u32).reverse_bits() >> 1);
                }
            });
            out.timestamp(ts);
            out.text(|b, used| extra(&mut rng, used, BID_BYTES, b));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    fn rows(table: Table, n: u64) -> Vec<serde_json::Value> {
        (0..n)
            .map(|row| {
                let mut line = Vec::new();
                write_row(table, row, 3, 1_700_000_000_000, &mut line);
                serde_json::from_slice(&line).unwrap_or_else(|e| {
                    panic!(
                        "{table:?} row {row}: {e}: {}",
                        String::from_utf8_lossy(&line)
                    )
                })
            })
            .collect()
    }

    #[test]
    fn every_row_has_its_tables_columns() {
        for table in [Table::Person, Table::Auction, Table::Bid] {
            for row in rows(table, 300) {
                let keys: Vec<&str> = row
                    .as_object()
                    .unwrap()
                    .keys()
                    .map(|k| k.as_str())
                    .collect();
                let mut want: Vec<&str> = table.columns().iter().map(|(c, _)| *c).collect();
                want.sort();
                let mut keys = keys;
                keys.sort();
                assert_eq!(keys, want, "{table:?}");
            }
        }
    }

    #[test]
    fn rows_of_a_table_interleave_as_one_stream_of_fifty() {
        // Every event number is one table's row, once.
        let mut seen = BTreeSet::new();
        for (table, n) in [(Table::Person, 20), (Table::Auction, 60), (Table::Bid, 920)] {
            assert_eq!(table.rows_in(1000), n, "{table:?}");
            for row in 0..n {
                assert!(seen.insert(table.event(row)), "{table:?} {row}");
            }
        }
        assert_eq!(seen, (0..1000).collect());
        assert_eq!(Table::Bid.rows_in(4), 0);
        assert_eq!(Table::Bid.rows_in(5), 1);
        assert_eq!(Table::Auction.rows_in(2), 1);
    }

    #[test]
    fn ids_refer_to_people_and_auctions_made_about_then() {
        let people = rows(Table::Person, 100);
        let auctions = rows(Table::Auction, 300);
        let ids = |v: &[serde_json::Value]| -> Vec<i64> {
            v.iter().map(|r| r["id"].as_i64().unwrap()).collect()
        };
        assert_eq!(ids(&people), (1000..1100).collect::<Vec<_>>());
        assert_eq!(ids(&auctions), (1000..1300).collect::<Vec<_>>());
        for bid in rows(Table::Bid, 4600) {
            let (a, b) = (
                bid["auction"].as_i64().unwrap(),
                bid["bidder"].as_i64().unwrap(),
            );
            assert!((1000..1310).contains(&a), "{bid}");
            assert!((1000..1110).contains(&b), "{bid}");
            assert!(bid["price"].as_i64().unwrap() >= 100);
        }
        // Hot auctions and bidders: a hot auction's id is even (one bid in
        // two goes to one), a hot bidder's is 1 modulo 4 (three in four).
        let bids = rows(Table::Bid, 4600);
        let share = |f: &dyn Fn(&serde_json::Value) -> bool| {
            bids.iter().filter(|b| f(b)).count() as f64 / bids.len() as f64
        };
        let even = share(&|b| b["auction"].as_i64().unwrap() % 2 == 0);
        let hot_bidder = share(&|b| (b["bidder"].as_i64().unwrap() - 1000) % 4 == 1);
        assert!((0.7..0.8).contains(&even), "{even}");
        assert!((0.75..0.87).contains(&hot_bidder), "{hot_bidder}");
    }

    #[test]
    fn event_time_is_ten_events_a_millisecond_in_order() {
        let bids = rows(Table::Bid, 1000);
        let first = bids[0]["dateTime"].as_str().unwrap().to_string();
        let last = bids[999]["dateTime"].as_str().unwrap().to_string();
        assert_eq!(first, "2023-11-14 22:13:20.000");
        // Bid 999 is event 999 / 46 * 50 + 4 + 999 % 46 = 1087.
        assert_eq!(last, "2023-11-14 22:13:20.108");
        let times: Vec<&str> = bids
            .iter()
            .map(|b| b["dateTime"].as_str().unwrap())
            .collect();
        assert!(times.windows(2).all(|w| w[0] <= w[1]));
    }
}
