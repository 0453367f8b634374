//! What the metadata cache holds: one entry per path (a file or a directory with its children),
//! plus bookkeeping records for blocks that are not reachable from any path yet or any more.
//!
//! Values are byte arrays in a small versioned little-endian format, so any client can copy
//! them, and a value we cannot parse is reported instead of guessed at.

use std::collections::BTreeMap;

use crate::error::{Error, FsErrorKind, Result};
use crate::ignite2::wire::{Reader, Writer};

const FORMAT_VERSION: u8 = 1;
const KIND_FILE: u8 = 1;
const KIND_DIRECTORY: u8 = 2;

pub type FileId = [u8; 16];

/// A writer's exclusive right to extend a file, until `until_ms` (Unix time) unless renewed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lease {
    pub owner: [u8; 16],
    pub until_ms: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileInfo {
    /// Names the file's blocks in the data cache; a new version of a file gets a new id.
    pub id: FileId,
    pub size: u64,
    pub block_size: u32,
    pub lease: Option<Lease>,
}

impl FileInfo {
    pub fn block_count(&self) -> u64 {
        block_count(self.size, self.block_size)
    }

    /// The lease, if someone other than `owner` holds it at `now_ms`.
    pub fn leased_by_other(&self, owner: &[u8; 16], now_ms: i64) -> Option<Lease> {
        self.lease
            .filter(|l| &l.owner != owner && l.until_ms > now_ms)
    }
}

pub fn block_count(size: u64, block_size: u32) -> u64 {
    size.div_ceil(block_size as u64)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    File,
    Directory,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Node {
    File(FileInfo),
    /// Child name -> kind, sorted, so a listing needs no scan.
    Directory(BTreeMap<String, Kind>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub node: Node,
    /// Last modification, milliseconds since the Unix epoch.
    pub modified_ms: i64,
}

impl Entry {
    pub fn new_directory(now_ms: i64) -> Entry {
        Entry {
            node: Node::Directory(BTreeMap::new()),
            modified_ms: now_ms,
        }
    }

    pub fn kind(&self) -> Kind {
        match self.node {
            Node::File(_) => Kind::File,
            Node::Directory(_) => Kind::Directory,
        }
    }

    pub fn file(&self) -> Option<&FileInfo> {
        match &self.node {
            Node::File(f) => Some(f),
            Node::Directory(_) => None,
        }
    }

    pub fn children(&self) -> Option<&BTreeMap<String, Kind>> {
        match &self.node {
            Node::Directory(c) => Some(c),
            Node::File(_) => None,
        }
    }

    pub fn children_mut(&mut self) -> Option<&mut BTreeMap<String, Kind>> {
        match &mut self.node {
            Node::Directory(c) => Some(c),
            Node::File(_) => None,
        }
    }

    pub fn size(&self) -> u64 {
        self.file().map_or(0, |f| f.size)
    }

    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::new();
        w.u8(FORMAT_VERSION);
        match &self.node {
            Node::File(f) => {
                w.u8(KIND_FILE)
                    .i64(self.modified_ms)
                    .bytes(&f.id)
                    .i64(f.size as i64)
                    .i32(f.block_size as i32);
                match f.lease {
                    Some(l) => w.u8(1).bytes(&l.owner).i64(l.until_ms),
                    None => w.u8(0),
                };
            }
            Node::Directory(children) => {
                w.u8(KIND_DIRECTORY)
                    .i64(self.modified_ms)
                    .i32(children.len() as i32);
                for (name, kind) in children {
                    w.i32(name.len() as i32)
                        .bytes(name.as_bytes())
                        .u8(kind_code(*kind));
                }
            }
        }
        w.buf
    }

    pub fn decode(path: &str, bytes: &[u8]) -> Result<Entry> {
        decode_entry(bytes).map_err(|e| corrupt(path, e))
    }
}

fn kind_code(kind: Kind) -> u8 {
    match kind {
        Kind::File => KIND_FILE,
        Kind::Directory => KIND_DIRECTORY,
    }
}

fn corrupt(what: &str, e: Error) -> Error {
    Error::fs(FsErrorKind::Corrupt, format!("the IGFS record for '{what}' is not readable ({e}); was it written by another program?"))
}

fn check_version(r: &mut Reader<'_>) -> Result<()> {
    let version = r.u8()?;
    if version != FORMAT_VERSION {
        return Err(Error::protocol(format!(
            "format version {version}, this library reads {FORMAT_VERSION}"
        )));
    }
    Ok(())
}

/// Reads a bookkeeping record (its format version, then `parse`); one we cannot read is reported
/// under its key.
fn decode_record<T>(
    key: &str,
    bytes: &[u8],
    parse: impl FnOnce(&mut Reader<'_>) -> Result<T>,
) -> Result<T> {
    let mut r = Reader::new(bytes);
    check_version(&mut r)
        .and_then(|()| parse(&mut r))
        .map_err(|e| corrupt(key, e))
}

/// 16 bytes: a file id or a lease owner.
fn file_id(r: &mut Reader<'_>) -> Result<FileId> {
    r.take(16)?
        .try_into()
        .map_err(|_| Error::protocol("a 16-byte id is short"))
}

fn decode_entry(bytes: &[u8]) -> Result<Entry> {
    let mut r = Reader::new(bytes);
    check_version(&mut r)?;
    let kind = r.u8()?;
    let modified_ms = r.i64()?;
    let node = match kind {
        KIND_FILE => {
            let id = file_id(&mut r)?;
            let size = r.i64()?;
            let block_size = r.i32()?;
            if size < 0 || block_size <= 0 {
                return Err(Error::protocol(format!(
                    "size {size}, block size {block_size}"
                )));
            }
            let lease = match r.u8()? {
                0 => None,
                _ => Some(Lease {
                    owner: file_id(&mut r)?,
                    until_ms: r.i64()?,
                }),
            };
            Node::File(FileInfo {
                id,
                size: size as u64,
                block_size: block_size as u32,
                lease,
            })
        }
        KIND_DIRECTORY => {
            let n = r.len(5)?;
            let mut children = BTreeMap::new();
            for _ in 0..n {
                let len = r.len(1)?;
                let name = std::str::from_utf8(r.take(len)?)
                    .map_err(|_| Error::protocol("a child name is not UTF-8"))?;
                let kind = match r.u8()? {
                    KIND_FILE => Kind::File,
                    KIND_DIRECTORY => Kind::Directory,
                    k => return Err(Error::protocol(format!("child kind {k}"))),
                };
                children.insert(name.to_string(), kind);
            }
            Node::Directory(children)
        }
        k => return Err(Error::protocol(format!("entry kind {k}"))),
    };
    Ok(Entry { node, modified_ms })
}

/// Blocks of a file version that a writer has started and not yet published (or is appending
/// to). `bound` is above every block index the writer may have stored; `gc` uses it to find
/// the blocks of writers that died.
///
/// The record is also the writer's sign of life: the writer refreshes `updated_ms` as it works
/// (see `writer::HEARTBEAT`), and checks, whenever it stores the record again or publishes, that
/// the record is still the one it stored last. `gc` takes a writer for dead by marking its record
/// `reaped_from` in a transaction before deleting anything, so a writer either shows its sign of
/// life first (and keeps its blocks) or learns that it was taken for dead (and publishes nothing).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingRecord {
    pub bound: u64,
    pub updated_ms: i64,
    /// Set by `gc` once it took the writer for dead: the blocks from this index up to `bound` are
    /// being deleted (those below it belong to the published version).
    pub reaped_from: Option<u64>,
}
/// A file version that is no longer reachable and whose `blocks` are being deleted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrashRecord {
    pub blocks: u64,
}

/// A file id that a rename is giving another path, stored before the rename's transaction
/// commits and removed after it.
///
/// Ignite 2.17 can apply a thin-client transaction in part when its client's connection closes
/// while the server commits it: the server's cleanup of the lost connection rolls the
/// transaction back while the commit is under way. A rename whose process dies at that moment
/// can leave its file under both names, or (in principle) under neither. While this mark exists,
/// the id's blocks are deleted only once no path refers to the id any more, and `gc` gives a
/// version that lost every name without being trashed its new name back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MovingRecord {
    pub since_ms: i64,
    /// Where the rename was putting the file, and its entry.
    pub to: String,
    pub entry: Entry,
}

/// A file id that `gc` found blocks of and nothing referring to (no path, no pending, trash or
/// moving record), stored while `gc` checks that again; a rename that moves the id removes it,
/// and `gc` deletes the blocks only if its own record is still there (see `Igfs::gc`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrphanRecord {
    /// The run of `gc` that stored it.
    pub gc: [u8; 16],
    pub since_ms: i64,
}

pub const PENDING_PREFIX: &str = "~pending/";
pub const TRASH_PREFIX: &str = "~trash/";
pub const MOVING_PREFIX: &str = "~moving/";
pub const ORPHAN_PREFIX: &str = "~orphan/";

impl PendingRecord {
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::new();
        w.u8(FORMAT_VERSION)
            .i64(self.bound as i64)
            .i64(self.updated_ms);
        // An optional tail, so records of writers that are alive read the same as before.
        if let Some(from) = self.reaped_from {
            w.u8(1).i64(from as i64);
        }
        w.buf
    }

    pub fn decode(key: &str, bytes: &[u8]) -> Result<PendingRecord> {
        decode_record(key, bytes, |r| {
            let bound = r.i64()?.max(0) as u64;
            let updated_ms = r.i64()?;
            let reaped_from = if r.pos() < bytes.len() && r.u8()? != 0 {
                Some(r.i64()?.max(0) as u64)
            } else {
                None
            };
            Ok(PendingRecord {
                bound,
                updated_ms,
                reaped_from,
            })
        })
    }
}

impl TrashRecord {
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::new();
        w.u8(FORMAT_VERSION).i64(self.blocks as i64);
        w.buf
    }

    pub fn decode(key: &str, bytes: &[u8]) -> Result<TrashRecord> {
        decode_record(key, bytes, |r| {
            Ok(TrashRecord {
                blocks: r.i64()?.max(0) as u64,
            })
        })
    }
}

impl MovingRecord {
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::new();
        w.u8(FORMAT_VERSION)
            .i64(self.since_ms)
            .i32(self.to.len() as i32)
            .bytes(self.to.as_bytes())
            .bytes(&self.entry.encode());
        w.buf
    }

    pub fn decode(key: &str, bytes: &[u8]) -> Result<MovingRecord> {
        decode_record(key, bytes, |r| {
            let since_ms = r.i64()?;
            let len = r.len(1)?;
            let to = std::str::from_utf8(r.take(len)?)
                .map_err(|_| Error::protocol("a path that is not UTF-8"))?
                .to_string();
            let entry = Entry::decode(&to, &bytes[r.pos()..])?;
            Ok(MovingRecord {
                since_ms,
                to,
                entry,
            })
        })
    }
}

impl OrphanRecord {
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::new();
        w.u8(FORMAT_VERSION).bytes(&self.gc).i64(self.since_ms);
        w.buf
    }

    pub fn decode(key: &str, bytes: &[u8]) -> Result<OrphanRecord> {
        decode_record(key, bytes, |r| {
            Ok(OrphanRecord {
                gc: file_id(r)?,
                since_ms: r.i64()?,
            })
        })
    }
}

pub fn id_hex(id: &FileId) -> String {
    id.iter().map(|b| format!("{b:02x}")).collect()
}

pub fn parse_id_hex(hex: &str) -> Option<FileId> {
    if hex.len() != 32 {
        return None;
    }
    let mut id = [0u8; 16];
    for (i, byte) in id.iter_mut().enumerate() {
        *byte = u8::from_str_radix(hex.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(id)
}

/// The data-cache key of block `index` of file `id`.
pub fn block_key(id_hex: &str, index: u64) -> String {
    format!("{id_hex}/{index}")
}

/// The file id and index a data-cache key names, if it is a block key.
pub fn parse_block_key(key: &str) -> Option<(FileId, u64)> {
    let (hex, index) = key.split_once('/')?;
    Some((parse_id_hex(hex)?, index.parse().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_round_trip() {
        let file = Entry {
            node: Node::File(FileInfo {
                id: [7; 16],
                size: 3 << 20,
                block_size: 1 << 20,
                lease: Some(Lease {
                    owner: [1; 16],
                    until_ms: 99,
                }),
            }),
            modified_ms: 1234,
        };
        assert_eq!(Entry::decode("/f", &file.encode()).unwrap(), file);
        let mut dir = Entry::new_directory(5);
        dir.children_mut()
            .unwrap()
            .insert("kätzchen".into(), Kind::File);
        dir.children_mut()
            .unwrap()
            .insert("sub".into(), Kind::Directory);
        assert_eq!(Entry::decode("/d", &dir.encode()).unwrap(), dir);
        let mark = MovingRecord {
            since_ms: 77,
            to: "/d/kätzchen".into(),
            entry: file,
        };
        assert_eq!(
            MovingRecord::decode("~moving/x", &mark.encode()).unwrap(),
            mark
        );
        // Cut anywhere, it is refused.
        let bytes = mark.encode();
        for end in 0..bytes.len() {
            assert!(
                MovingRecord::decode("~moving/x", &bytes[..end]).is_err(),
                "{end}"
            );
        }
    }

    #[test]
    fn foreign_bytes_are_reported() {
        let err = Entry::decode("/x", b"hello").unwrap_err();
        assert!(
            matches!(
                err,
                Error::Fs {
                    kind: FsErrorKind::Corrupt,
                    ..
                }
            ),
            "{err}"
        );
        assert!(Entry::decode("/x", &[1, 2, 0, 0, 0, 0, 0, 0, 0, 0, 255, 255, 255, 127]).is_err());
    }

    #[test]
    fn pending_records_round_trip_and_read_the_old_layout() {
        let alive = PendingRecord {
            bound: 64,
            updated_ms: 1_700_000_000_000,
            reaped_from: None,
        };
        let reaped = PendingRecord {
            reaped_from: Some(3),
            ..alive.clone()
        };
        for record in [&alive, &reaped] {
            assert_eq!(
                &PendingRecord::decode("k", &record.encode()).unwrap(),
                record
            );
        }
        // Records of writers of earlier versions end after the time.
        assert_eq!(alive.encode().len(), 17);
        assert!(PendingRecord::decode("k", &reaped.encode()[..20]).is_err());
    }

    #[test]
    fn orphan_records_round_trip_and_block_keys_parse() {
        let orphan = OrphanRecord {
            gc: [9; 16],
            since_ms: 42,
        };
        assert_eq!(OrphanRecord::decode("k", &orphan.encode()).unwrap(), orphan);
        assert!(OrphanRecord::decode("k", &orphan.encode()[..20]).is_err());
        let id = [0xcd; 16];
        assert_eq!(
            parse_block_key(&block_key(&id_hex(&id), 17)),
            Some((id, 17))
        );
        for foreign in ["", "/", "x/1", &format!("{}/-1", id_hex(&id)), &id_hex(&id)] {
            assert_eq!(parse_block_key(foreign), None, "{foreign}");
        }
    }

    #[test]
    fn ids_and_block_counts() {
        let id = [0xab; 16];
        assert_eq!(parse_id_hex(&id_hex(&id)), Some(id));
        assert_eq!(parse_id_hex("zz"), None);
        assert_eq!(block_count(0, 10), 0);
        assert_eq!(block_count(10, 10), 1);
        assert_eq!(block_count(11, 10), 2);
    }
}
