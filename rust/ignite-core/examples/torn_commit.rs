//! Does the server apply part of a thin-client transaction whose connection closes while it
//! commits? Each round moves a key the way an IGFS rename does (remove `src`, put `dst`, update
//! `parent`) in a pessimistic transaction, sends the commit request, and closes the socket
//! without waiting for the answer. Another connection then reads the three keys under lock: a
//! whole transaction leaves all three old or all three new; anything else is torn.
//!
//! Ignite 2.17.0, one node on loopback: 60 of 4,000 rounds torn (the destination written, the
//! source and the parent not) on a node that had served half an hour of IGFS writers killed at
//! random; none of 10,000 (4,000 alone, then three of these at once) on freshly started nodes.
//! This is why IGFS marks the versions a rename moves (`igfs::entry::MovingRecord`).
//! Run against a node you started: `cargo run -p ignite-core --example torn_commit -- PORT [ROUNDS]`.

use std::collections::HashMap;
use std::time::Duration;

use ignite_core::ignite2::cluster::caches::{self, Atomicity, CacheSettings};
use ignite_core::ignite2::connection::Connection;
use ignite_core::ignite2::kv::{CacheRef, Transaction};
use ignite_core::ignite2::protocol::op;
use ignite_core::ignite2::wire::Writer;
use ignite_core::net::stream::ConnectionConfig;
use ignite_core::Result;

fn main() -> Result<()> {
    let mut args = std::env::args().skip(1);
    let port: u16 = args
        .next()
        .and_then(|p| p.parse().ok())
        .expect("usage: torn_commit PORT [ROUNDS]");
    let rounds: usize = args.next().and_then(|r| r.parse().ok()).unwrap_or(2000);
    let config = ConnectionConfig {
        addresses: vec![format!("127.0.0.1:{port}")],
        ..Default::default()
    };
    let mut check = Connection::open(&config)?;
    let settings = CacheSettings {
        atomicity: Atomicity::Transactional,
        backups: 0,
    };
    caches::get_or_create_with_settings(&mut check, "torn_commit", &settings)?;
    let cache = CacheRef::new("torn_commit");
    let (mut committed, mut rolled_back, mut torn) = (0, 0, 0);
    for round in 0..rounds {
        // Keys of this process only, so that several can run at once (a busy node tears more).
        let keys = ["src", "dst", "parent"].map(|k| format!("{k}-{}-{round}", std::process::id()));
        let [src, dst, parent] = &keys;
        cache.put(&mut check, None, src, b"file")?;
        cache.put(&mut check, None, parent, b"old")?;

        let mut conn = Connection::open(&config)?;
        let tx = Transaction::start(&mut conn, Duration::from_secs(10), "torn_commit")?;
        cache.get_all(&mut conn, Some(tx.id), &keys)?;
        cache.remove_all(&mut conn, Some(tx.id), std::slice::from_ref(src))?;
        cache.put(&mut conn, Some(tx.id), dst, b"file")?;
        cache.put(&mut conn, Some(tx.id), parent, b"new")?;
        let mut commit = Writer::new();
        commit.i32(tx.id).bool(true);
        conn.send(op::TX_END, &commit.buf)?;
        // Vary the moment of the close a little around the server's handling of the commit.
        for _ in 0..(round % 50) * 200 {
            std::hint::spin_loop();
        }
        drop(conn);

        let read = Transaction::start(&mut check, Duration::from_secs(30), "torn_commit check")?;
        let found: HashMap<String, Vec<u8>> = cache.get_all(&mut check, Some(read.id), &keys)?;
        read.rollback(&mut check)?;
        let state = (
            found.contains_key(src),
            found.contains_key(dst),
            found.get(parent).map(Vec::as_slice),
        );
        match state {
            (true, false, Some(b"old")) => rolled_back += 1,
            (false, true, Some(b"new")) => committed += 1,
            (s, d, p) => {
                torn += 1;
                let p = p.map(String::from_utf8_lossy);
                println!("round {round}: torn: src present {s}, dst present {d}, parent {p:?}");
            }
        }
    }
    println!("{rounds} rounds: {committed} committed, {rolled_back} rolled back, {torn} torn");
    Ok(())
}
