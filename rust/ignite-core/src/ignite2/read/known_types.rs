//! The binary types a client has looked up (op 3002), kept for all its connections, and the
//! [`TypeResolver`] that a scan hands the decoder: types from this store, asked of the server
//! over the scan's own connection on a miss.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::error::{Error, Result};
use crate::ignite2::connection::Connection;
use crate::ignite2::format::metadata::{BinaryType, TypeResolver};
use crate::ignite2::protocol::op;
use crate::ignite2::wire::Writer;

/// The binary types this client has looked up, by id.
#[derive(Default)]
pub struct KnownTypes {
    /// Every change under the lock is one push, pop or insert: a lock poisoned by a panic elsewhere
    /// guards consistent data and is used as it is.
    types: Mutex<HashMap<i32, Arc<BinaryType>>>,
}

impl KnownTypes {
    pub fn get(&self, type_id: i32) -> Option<Arc<BinaryType>> {
        self.types
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&type_id)
            .cloned()
    }

    /// Returns the type, asking the server through `conn` on a miss.
    pub fn fetch(&self, type_id: i32, conn: &mut Connection) -> Result<Arc<BinaryType>> {
        if let Some(t) = self.get(type_id) {
            return Ok(t);
        }
        let t = Arc::new(request_binary_type(conn, type_id)?);
        self.types
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(type_id, t.clone());
        Ok(t)
    }

    /// Forgets a type so that the next fetch asks the server again (a schema we have not seen
    /// may have been registered since we cached it).
    pub fn invalidate(&self, type_id: i32) {
        self.types
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&type_id);
    }
}

pub fn request_binary_type(conn: &mut Connection, type_id: i32) -> Result<BinaryType> {
    let mut w = Writer::new();
    w.i32(type_id);
    let payload = conn.request(op::GET_BINARY_TYPE, &w.buf)?;
    BinaryType::parse(&payload)?.ok_or_else(|| {
        Error::Schema(format!(
            "the server has no binary type metadata for type id {type_id}"
        ))
    })
}

/// Resolves through the known types, and a connection for those not known yet.
pub struct ConnectionResolver<'a> {
    pub types: &'a KnownTypes,
    pub conn: &'a mut Connection,
}

impl TypeResolver for ConnectionResolver<'_> {
    fn binary_type(&mut self, type_id: i32) -> Result<Arc<BinaryType>> {
        self.types.fetch(type_id, self.conn)
    }

    fn refresh(&mut self, type_id: i32) -> Result<Arc<BinaryType>> {
        self.types.invalidate(type_id);
        self.types.fetch(type_id, self.conn)
    }
}
