//! Key-value operations on one cache (get, put, remove, their batched forms, a bookkeeping sweep)
//! and thin-client transactions. Keys are strings and values byte arrays: all that IGFS needs,
//! and what any other client reads as `String -> byte[]`. Creating caches is `cluster::caches`'
//! job.

use std::collections::HashMap;
use std::time::Duration;

use crate::error::{Error, Result};
use crate::ignite2::connection::Connection;
use crate::ignite2::format::values::value_end;
use crate::ignite2::protocol::{java_string_hash, op, request_flag, tx, type_code};
use crate::ignite2::read::requests::{next_page_body, ScanRequest};
use crate::ignite2::wire::{Reader, Writer};
use crate::net::mux::Pipelined;

/// A cache addressed by name; its id is the Java hash of the name.
#[derive(Debug, Clone)]
pub struct CacheRef {
    pub name: String,
    pub id: i32,
}

impl CacheRef {
    pub fn new(name: &str) -> CacheRef {
        CacheRef {
            name: name.to_string(),
            id: java_string_hash(name),
        }
    }

    /// `cache id | flags | [tx id]`, the start of every key-value request.
    fn header(&self, tx: Option<i32>) -> Writer {
        let mut w = Writer::new();
        w.i32(self.id);
        match tx {
            Some(tx_id) => w.u8(request_flag::TRANSACTIONAL).i32(tx_id),
            None => w.u8(0),
        };
        w
    }

    /// Value of `key`, or `None` when absent (op 1000).
    pub fn get(
        &self,
        conn: &mut Connection,
        tx: Option<i32>,
        key: &str,
    ) -> Result<Option<Vec<u8>>> {
        let id = self.send_get(conn, tx, key)?;
        self.receive_value(conn, id, key)
    }

    /// Sends a get without waiting, for pipelined reads; see [`CacheRef::receive_value`].
    pub fn send_get(&self, conn: &mut Connection, tx: Option<i32>, key: &str) -> Result<i64> {
        let mut w = self.header(tx);
        w.string_object(Some(key));
        conn.send(op::CACHE_GET, &w.buf)
    }

    /// The answer to a [`CacheRef::send_get`].
    pub fn receive_value(
        &self,
        conn: &mut Connection,
        request_id: i64,
        key: &str,
    ) -> Result<Option<Vec<u8>>> {
        Ok(self
            .receive_value_in_frame(conn, request_id, key)?
            .map(|(mut frame, range)| {
                frame.copy_within(range.clone(), 0);
                frame.truncate(range.len());
                frame
            }))
    }

    /// Like [`CacheRef::receive_value`], without moving the value: the whole response frame and
    /// where the value lies in it.
    pub fn receive_value_in_frame(
        &self,
        conn: &mut Connection,
        request_id: i64,
        key: &str,
    ) -> Result<Option<(Vec<u8>, std::ops::Range<usize>)>> {
        let mut buf = Vec::new();
        let start = conn
            .receive(request_id, &mut buf)
            .map_err(|e| self.explain(e))?;
        let mut r = Reader::at(&buf, start)?;
        Ok(byte_array_or_null(&mut r, key)?.map(|range| (buf, range)))
    }

    /// Values of several keys in one round trip (op 1003); absent keys are missing from the map.
    pub fn get_all(
        &self,
        conn: &mut Connection,
        tx: Option<i32>,
        keys: &[String],
    ) -> Result<HashMap<String, Vec<u8>>> {
        let mut w = self.header(tx);
        w.i32(keys.len() as i32);
        for key in keys {
            w.string_object(Some(key));
        }
        let payload = conn
            .request(op::CACHE_GET_ALL, &w.buf)
            .map_err(|e| self.explain(e))?;
        let mut r = Reader::new(&payload);
        let n = r.len(2)?;
        let mut out = HashMap::with_capacity(n);
        for _ in 0..n {
            let key = r
                .string_object()?
                .ok_or_else(|| Error::protocol("get-all answered a null key"))?;
            if let Some(range) = byte_array_or_null(&mut r, &key)? {
                out.insert(key, payload[range].to_vec());
            }
        }
        Ok(out)
    }

    /// Stores `value` under `key` (op 1001).
    pub fn put(
        &self,
        conn: &mut Connection,
        tx: Option<i32>,
        key: &str,
        value: &[u8],
    ) -> Result<()> {
        let id = self.send_put(conn, tx, key, value)?;
        self.receive_ack(conn, id)
    }

    /// Sends a put without waiting, for pipelined writes; see [`CacheRef::receive_ack`].
    pub fn send_put(
        &self,
        conn: &mut Connection,
        tx: Option<i32>,
        key: &str,
        value: &[u8],
    ) -> Result<i64> {
        let mut w = self.header(tx);
        w.string_object(Some(key))
            .u8(type_code::BYTE_ARR)
            .i32(value.len() as i32);
        let head = w.buf;
        // The value goes straight from the caller's slice into the message.
        conn.send_with(op::CACHE_PUT, head.len() + value.len(), |msg| {
            msg.extend_from_slice(&head);
            msg.extend_from_slice(value);
        })
    }

    /// Waits for the answer to a request that returns nothing.
    pub fn receive_ack(&self, conn: &mut Connection, request_id: i64) -> Result<()> {
        let mut buf = Vec::new();
        conn.receive(request_id, &mut buf)
            .map_err(|e| self.explain(e))?;
        Ok(())
    }

    /// Removes `key`; returns whether it was there (op 1016).
    pub fn remove(&self, conn: &mut Connection, tx: Option<i32>, key: &str) -> Result<bool> {
        let mut w = self.header(tx);
        w.string_object(Some(key));
        let payload = conn
            .request(op::CACHE_REMOVE_KEY, &w.buf)
            .map_err(|e| self.explain(e))?;
        Reader::new(&payload).bool()
    }

    /// Removes several keys in one request (op 1018); absent keys are ignored.
    pub fn remove_all(
        &self,
        conn: &mut Connection,
        tx: Option<i32>,
        keys: &[String],
    ) -> Result<()> {
        for chunk in keys.chunks(1024) {
            let mut w = self.header(tx);
            w.i32(chunk.len() as i32);
            for key in chunk {
                w.string_object(Some(key));
            }
            conn.request(op::CACHE_REMOVE_KEYS, &w.buf)
                .map_err(|e| self.explain(e))?;
        }
        Ok(())
    }

    /// Calls `visit` with every `(key, value)` of the cache whose key is a string and whose value is
    /// a byte array; other entries are skipped. The server sends `page_entries` entries at a
    /// time. For bookkeeping sweeps, not for bulk reads.
    pub fn for_each(
        &self,
        conn: &mut Connection,
        page_entries: i32,
        mut visit: impl FnMut(&str, &[u8]),
    ) -> Result<()> {
        let scan = ScanRequest {
            cache_id: self.id,
            page_size: page_entries.max(1),
            partition: -1,
            local: false,
        };
        let first = conn
            .request(op::QUERY_SCAN, &scan.body())
            .map_err(|e| self.explain(e))?;
        let mut r = Reader::new(&first);
        let cursor_id = r.i64()?;
        let mut more = visit_page(&mut r, &mut visit)?;
        while more {
            let page = conn.request(op::QUERY_SCAN_CURSOR_GET_PAGE, &next_page_body(cursor_id))?;
            more = visit_page(&mut Reader::new(&page), &mut visit)?;
        }
        Ok(())
    }

    fn explain(&self, e: Error) -> Error {
        match e {
            Error::CacheNotFound(_) => {
                Error::CacheNotFound(format!("cache '{}' does not exist", self.name))
            }
            other => other,
        }
    }
}

/// One scan page: `int count | (key, value)* | bool more`; returns `more`.
fn visit_page(r: &mut Reader<'_>, visit: &mut impl FnMut(&str, &[u8])) -> Result<bool> {
    let n = r.len(2)?;
    for _ in 0..n {
        let key_start = r.pos();
        let key_end = value_end(r.buffer(), key_start, 0)?;
        let value_end = value_end(r.buffer(), key_end, 0)?;
        let buf = r.buffer();
        // `value_end` read a type code at both positions, so both lie inside `buf`.
        if buf[key_start] == type_code::STRING && buf[key_end] == type_code::BYTE_ARR {
            let key = std::str::from_utf8(&buf[key_start + 5..key_end])
                .map_err(|_| Error::protocol("a key is not UTF-8"))?;
            visit(key, &buf[key_end + 5..value_end]);
        }
        r.skip(value_end - key_start)?;
    }
    r.bool()
}

/// A byte-array value (type 12) or null; anything else means the cache holds data we did not write.
fn byte_array_or_null(r: &mut Reader<'_>, key: &str) -> Result<Option<std::ops::Range<usize>>> {
    match r.u8()? {
        type_code::NULL => Ok(None),
        type_code::BYTE_ARR => {
            let n = r.len(1)?;
            let start = r.pos();
            r.skip(n)?;
            Ok(Some(start..start + n))
        }
        code => Err(Error::Schema(format!(
            "the value under '{key}' has type code {code}, not a byte array: the cache holds data this client did not write"
        ))),
    }
}

/// A pessimistic, repeatable-read transaction on one connection: every key it reads is locked
/// until commit or rollback. The server rolls back a transaction whose connection closes.
pub struct Transaction {
    pub id: i32,
    open: bool,
}

impl Transaction {
    pub fn start(conn: &mut Connection, timeout: Duration, label: &str) -> Result<Transaction> {
        let mut w = Writer::new();
        w.u8(tx::CONCURRENCY_PESSIMISTIC)
            .u8(tx::ISOLATION_REPEATABLE_READ)
            .i64(timeout.as_millis() as i64)
            .string_object(Some(label));
        let payload = conn.request(op::TX_START, &w.buf)?;
        let id = Reader::new(&payload).i32()?;
        Ok(Transaction { id, open: true })
    }

    pub fn commit(mut self, conn: &mut Connection) -> Result<()> {
        self.open = false;
        self.end(conn, true)
    }

    pub fn rollback(mut self, conn: &mut Connection) -> Result<()> {
        self.open = false;
        self.end(conn, false)
    }

    fn end(&self, conn: &mut Connection, commit: bool) -> Result<()> {
        let mut w = Writer::new();
        w.i32(self.id).bool(commit);
        conn.request(op::TX_END, &w.buf).map(|_| ())
    }

    /// Whether commit or rollback has not been called yet.
    pub fn is_open(&self) -> bool {
        self.open
    }
}
