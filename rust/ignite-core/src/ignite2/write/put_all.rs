//! The bulk writer: rows of columns sent with put-all (op 1004) in chunks of a few MB, several
//! requests in flight, each chunk encoded straight into its message by [`EntryEncoder`]. An object
//! value's type is registered first ([`super::binary_type`]) so that every reader, Java's
//! included, can read the objects.

use crate::error::{Error, Result};
use crate::ignite2::connection::Connection;
use crate::ignite2::protocol::{java_string_hash, op};
use crate::ignite2::write::binary_type::register;
use crate::ignite2::write::entries::{EntryEncoder, WriteValues};
use crate::kinds::WriteColumn;
use crate::net::window::{InFlightWindow, Refused, IN_FLIGHT, REQUEST_BYTES};

/// Writes `keys[i] -> values[i]` for every row into `cache_name`; returns the rows written.
/// Rows go in chunks: a failure part-way leaves the chunks acknowledged before it written
/// (put-all is not a transaction), and those still unanswered may or may not have been: the
/// error message gives both counts.
pub fn put_all(
    conn: &mut Connection,
    cache_name: &str,
    keys: &WriteColumn,
    values: &WriteValues,
) -> Result<usize> {
    let rows = keys.rows();
    keys.check_strings("key")?;
    match values {
        WriteValues::Plain(column) => {
            check_rows(column, rows, "val")?;
            column.check_strings("val")?;
        }
        WriteValues::Object { type_name, fields } => {
            if fields.is_empty() {
                return Err(Error::InvalidArgument(
                    "an object value needs at least one field".into(),
                ));
            }
            for (name, column) in fields {
                check_rows(column, rows, name)?;
                column.check_strings(name)?;
            }
            register(conn, type_name, fields)?;
        }
    }
    let cache_id = java_string_hash(cache_name);
    let mut entries = EntryEncoder::new(keys, values);
    let max_entry = entries.max_entry_len();
    // An atomic cache's put-all is not all or nothing: a refused chunk may be stored in part.
    let target = format!("'{cache_name}'");
    let mut window = InFlightWindow::new(conn, target, IN_FLIGHT, rows, Refused::MayHaveStoredSome);
    let mut row = 0;
    let mut chunk = 0;
    let written = loop {
        if row == rows {
            break window.finish();
        }
        if let Err(e) = window.make_room(chunk) {
            break Err(e);
        }
        let first = row;
        // Entries are encoded straight into the outgoing message: values are copied once.
        let sent =
            window
                .conn()
                .send_with(op::CACHE_PUT_ALL, 9 + REQUEST_BYTES + max_entry, |msg| {
                    let start = msg.len();
                    msg.extend_from_slice(&cache_id.to_le_bytes());
                    msg.push(0); // flags
                    msg.extend_from_slice(&0i32.to_le_bytes()); // count, patched below
                    while row < rows && (row == first || msg.len() - start < REQUEST_BYTES) {
                        entries.encode_key(row, msg);
                        entries.encode_value(row, msg);
                        row += 1;
                    }
                    let count = (row - first) as i32;
                    msg[start + 5..start + 9].copy_from_slice(&count.to_le_bytes());
                });
        if let Err(e) = window.sent(sent, row - first, chunk) {
            break Err(e);
        }
        chunk += 1;
    };
    written.map_err(|e| match e {
        Error::CacheNotFound(_) => {
            Error::CacheNotFound(format!("cache '{cache_name}' does not exist"))
        }
        e => e,
    })
}

fn check_rows(column: &WriteColumn, rows: usize, name: &str) -> Result<()> {
    if column.rows() != rows {
        return Err(Error::InvalidArgument(format!(
            "column '{name}' has {} rows, the keys have {rows}",
            column.rows()
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    //! Put-all against a fake node that misbehaves as a failing one would (a node that stops
    //! answering, a chunk refused): what the error says was stored, and whether the connection
    //! may be used again.

    use std::io::{Read, Write};
    use std::net::{TcpListener, TcpStream};
    use std::time::Duration;

    use super::*;
    use crate::kinds::PrimKind;
    use crate::net::mux::Pipelined;
    use crate::net::pool::ConnectionPool;
    use crate::net::stream::ConnectionConfig;

    /// What the fake node does with the n-th request (from 1) after the handshake.
    #[derive(Clone, Copy)]
    enum Answer {
        Ok,
        Refuse,
        Silence,
    }

    fn read_frame(sock: &mut TcpStream) -> Option<Vec<u8>> {
        let mut len = [0u8; 4];
        sock.read_exact(&mut len).ok()?;
        let mut body = vec![0u8; i32::from_le_bytes(len) as usize];
        sock.read_exact(&mut body).ok()?;
        Some(body)
    }

    fn write_frame(sock: &mut TcpStream, body: &[u8]) -> bool {
        let mut msg = (body.len() as i32).to_le_bytes().to_vec();
        msg.extend_from_slice(body);
        sock.write_all(&msg).is_ok()
    }

    /// A fake Ignite 2 node serving one connection: it accepts the handshake, then reads every
    /// request until the client closes, answering each as `answer` says.
    fn fake_node(answer: fn(usize) -> Answer) -> String {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap().to_string();
        std::thread::spawn(move || {
            let (mut sock, _) = listener.accept().unwrap();
            if read_frame(&mut sock).is_none() || !write_frame(&mut sock, &[1]) {
                return;
            }
            let mut n = 0;
            while let Some(request) = read_frame(&mut sock) {
                n += 1;
                let mut reply = request[2..10].to_vec(); // the request id
                match answer(n) {
                    Answer::Ok => reply.extend_from_slice(&0i16.to_le_bytes()),
                    Answer::Refuse => {
                        let message = b"class org.apache.ignite.IgniteCheckedException: refused";
                        reply.extend_from_slice(&1i16.to_le_bytes()); // flags: error
                        reply.extend_from_slice(&1i32.to_le_bytes()); // status: failed
                        reply.push(9); // string
                        reply.extend_from_slice(&(message.len() as i32).to_le_bytes());
                        reply.extend_from_slice(message);
                    }
                    Answer::Silence => continue,
                }
                if !write_frame(&mut sock, &reply) {
                    return;
                }
            }
        });
        address
    }

    fn config(address: &str) -> ConnectionConfig {
        ConnectionConfig {
            addresses: vec![address.to_string()],
            read_timeout: Some(Duration::from_secs(2)),
            ..ConnectionConfig::default()
        }
    }

    /// 24 rows of 1 MiB values: four rows a request, six requests.
    fn write(pool: &ConnectionPool<Connection>) -> Result<usize> {
        let keys: Vec<u8> = (0..24i64).flat_map(|k| k.to_le_bytes()).collect();
        let values = vec![7u8; 24 << 20];
        pool.with_connection(|conn| {
            put_all(
                conn,
                "c",
                &WriteColumn::Scalar {
                    kind: PrimKind::I64,
                    data: &keys,
                },
                &WriteValues::Plain(WriteColumn::FixedArray {
                    kind: PrimKind::I8,
                    data: &values,
                    width: 1 << 20,
                }),
            )
        })
    }

    #[test]
    fn a_node_that_stops_answering_leaves_the_unanswered_rows_uncertain() {
        let pool = ConnectionPool::new(config(&fake_node(|n| {
            if n <= 2 {
                Answer::Ok
            } else {
                Answer::Silence
            }
        })));
        let error = write(&pool).unwrap_err();
        // Requests 3 to 6 were sent and never answered: the node may have stored them.
        assert!(matches!(error, Error::Timeout(_)), "{error}");
        assert!(
            error.to_string().contains(
                "writing to 'c' failed (8 of 24 rows were stored, and up to 16 more may have been)"
            ),
            "{error}"
        );
        assert_eq!(
            pool.idle_count(),
            0,
            "a connection with answers to come is not reused"
        );
    }

    #[test]
    fn a_refused_chunk_is_uncertain_and_the_answers_after_it_are_collected() {
        let pool = ConnectionPool::new(config(&fake_node(|n| {
            if n == 2 {
                Answer::Refuse
            } else {
                Answer::Ok
            }
        })));
        let error = write(&pool).unwrap_err();
        // Requests 1, 3, 4 and 5 were stored; 2 failed (an atomic cache may keep part of it);
        // 6 was never sent.
        assert!(matches!(error, Error::Server { status: 1, .. }), "{error}");
        assert!(
            error.to_string().contains(
                "writing to 'c' failed (16 of 24 rows were stored, and up to 4 more may have been): class"
            ),
            "{error}"
        );
        assert_eq!(
            pool.idle_count(),
            1,
            "every answer read: the connection is clean"
        );
    }

    #[test]
    fn a_connection_with_a_response_to_come_is_not_pooled() {
        let pool: ConnectionPool<Connection> =
            ConnectionPool::new(config(&fake_node(|_| Answer::Ok)));
        let mut conn = pool.take().unwrap();
        let id = conn.send(op::CACHE_PUT_ALL, &[0; 9]).unwrap();
        assert!(conn.awaits_responses());
        let mut buf = Vec::new();
        conn.receive(id, &mut buf).unwrap();
        assert!(!conn.awaits_responses());
        conn.send(op::CACHE_PUT_ALL, &[0; 9]).unwrap();
        pool.give_back(conn);
        assert_eq!(pool.idle_count(), 0);
    }
}
