//! Rows grouped by partition and sent as streamer batches (`STREAMER_BATCH_SEND`) of a few MB,
//! several in flight (`net::window`) but one per partition at a time (so that a repeated key's
//! last row wins).

use crate::error::Result;
use crate::ignite3::codes::op;
use crate::ignite3::connection::Connection;
use crate::ignite3::tuple::TupleBuilder;
use crate::net::window::{InFlightWindow, Refused, IN_FLIGHT, REQUEST_BYTES};

use super::colocation::partition_of;
use super::plan::Plan;
use super::schema::TableSchema;

/// The rows of each partition, each group in the given order.
pub(super) fn rows_by_partition(plan: &Plan, partitions: usize) -> Vec<Vec<u32>> {
    let mut by_partition: Vec<Vec<u32>> = vec![Vec::new(); partitions];
    for row in 0..plan.rows {
        by_partition[partition_of(plan.colocation_hash(row), partitions)].push(row as u32);
    }
    by_partition
}

/// Sends the rows of each partition (`by_partition`) into table `table_id` of `schema`; returns
/// the rows stored.
pub(super) fn send_batches(
    conn: &mut Connection,
    table: &str,
    table_id: i32,
    schema: &TableSchema,
    plan: &Plan,
    by_partition: &[Vec<u32>],
) -> Result<usize> {
    let rows_per_request = (REQUEST_BYTES / plan.max_row_bytes()).max(1);
    // Requests taken round-robin over the partitions, so that the ones in flight differ.
    let mut requests: Vec<(usize, &[u32])> = Vec::new();
    let mut chunks: Vec<_> = by_partition
        .iter()
        .map(|rows| rows.chunks(rows_per_request))
        .collect();
    loop {
        let before = requests.len();
        for (p, chunk) in chunks.iter_mut().enumerate() {
            if let Some(rows) = chunk.next() {
                requests.push((p, rows));
            }
        }
        if requests.len() == before {
            break;
        }
    }

    // A batch is one transaction on its partition: a refused one stored none of its rows.
    let target = format!("table {table}");
    let mut window =
        InFlightWindow::new(conn, target, IN_FLIGHT, plan.rows, Refused::StoredNothing);
    let mut tuple = TupleBuilder::new();
    for (partition, batch) in requests {
        window.make_room(partition)?;
        let sent = window.conn().send(op::STREAMER_BATCH_SEND, |w| {
            w.int(table_id as i64)
                .int(partition as i64)
                .nil() // no deletions
                .int(schema.version as i64)
                .int(batch.len() as i64);
            for &row in batch {
                plan.write_row(row as usize, &mut tuple, w);
            }
        });
        window.sent(sent, batch.len(), partition)?;
    }
    window.finish()
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::error::Error;
    use crate::ignite3::msgpack::MsgReader;
    use crate::ignite3::test_support::{empty_answer, handshake_answer, read_frame};
    use crate::net::mux::Pipelined;

    /// A fake Ignite 3 node serving one connection: it accepts the handshake and the heartbeat
    /// of opening, answers the first streamer request at once, then holds every answer back
    /// for `delay` (longer than the client's read timeout: a node that stopped answering) and
    /// sends them late.
    fn slow_node(delay: Duration) -> String {
        use std::io::{Read, Write};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap().to_string();
        std::thread::spawn(move || {
            let (mut s, _) = listener.accept().unwrap();
            let read_id = |s: &mut std::net::TcpStream| -> Option<i64> {
                let body = read_frame(s)?;
                let mut r = MsgReader::new(&body);
                r.i64().ok()?; // op
                r.i64().ok()
            };
            let mut magic = [0u8; 4];
            s.read_exact(&mut magic).unwrap();
            read_frame(&mut s).unwrap(); // the handshake
            s.write_all(&handshake_answer()).unwrap();
            let heartbeat = read_id(&mut s).unwrap();
            s.write_all(&empty_answer(heartbeat)).unwrap();
            let first = read_id(&mut s).unwrap();
            s.write_all(&empty_answer(first)).unwrap();
            let rest: Vec<i64> = (0..3).map_while(|_| read_id(&mut s)).collect();
            std::thread::sleep(delay);
            for id in rest {
                let _ = s.write_all(&empty_answer(id));
            }
            let _ = read_id(&mut s); // until the client closes
        });
        address
    }

    #[test]
    fn the_streamer_stops_reading_at_a_timeout_and_counts_the_unanswered_batches_uncertain() {
        let config = crate::ConnectionConfig {
            addresses: vec![slow_node(Duration::from_millis(1500))],
            read_timeout: Some(Duration::from_secs(1)),
            ..crate::ConnectionConfig::default()
        };
        let mut conn = Connection::open(&config).unwrap();
        let mut window = InFlightWindow::new(
            &mut conn,
            "table T".into(),
            IN_FLIGHT,
            40,
            Refused::StoredNothing,
        );
        for partition in 0..4 {
            let sent = window.conn().send(op::STREAMER_BATCH_SEND, |w| {
                w.nil();
            });
            window.sent(sent, 10, partition).unwrap();
        }
        let error = window.finish().unwrap_err();
        // The late answers are not read: after the timeout the stream's position is unknown.
        assert!(matches!(error, Error::Timeout(_)), "{error}");
        assert!(
            error.to_string().contains(
                "writing to table T failed (10 of 40 rows were stored, and up to 30 more may have been)"
            ),
            "{error}"
        );
        assert!(conn.is_broken(), "the connection is dropped, not reused");
    }
}
