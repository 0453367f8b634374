//! The Ignite 3 wire layer against a real Ignite 3 node, plus a fake server for malformed bytes.
//!
//! `IGNITE3_ADDR` (`host:port` of a node's client connector, e.g. `127.0.0.1:10800`, as
//! `python -m ignite_fast.server start --ignite 3` prints it) must name a running node: the tests
//! fail, never skip, when it is unset or the node does not answer.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::thread;
use std::time::Duration;

use ignite_core::ignite3::codes::{column_type, error_code};
use ignite_core::ignite3::msgpack::MsgWriter;
use ignite_core::ignite3::test_support::{
    frame, magic_frame, opening_answers, read_frame, NODE_NAME,
};
use ignite_core::ignite3::{
    cluster, execute, execute_update, transaction, Connection, Page, SqlArg, SqlOptions,
};
use ignite_core::{ConnectionConfig, Error};

fn config(address: &str) -> ConnectionConfig {
    ConnectionConfig {
        addresses: vec![address.to_string()],
        connect_timeout: Duration::from_secs(5),
        read_timeout: Some(Duration::from_secs(60)),
        ..ConnectionConfig::default()
    }
}

fn node_address() -> String {
    std::env::var("IGNITE3_ADDR").expect(
        "IGNITE3_ADDR must be host:port of a running Ignite 3 node (python -m ignite_fast.server start --ignite 3)",
    )
}

fn connect() -> Connection {
    let address = node_address();
    Connection::open(&config(&address))
        .unwrap_or_else(|e| panic!("no Ignite 3 node answers at IGNITE3_ADDR={address}: {e}"))
}

fn update(conn: &mut Connection, sql: &str, args: &[SqlArg]) -> i64 {
    execute_update(conn, sql, args, &SqlOptions::default()).unwrap_or_else(|e| panic!("{sql}: {e}"))
}

/// A test-only reader of a tuple's first element as an integer (1, 2, 4 or 8 bytes LE).
fn first_int(tuple: &[u8], columns: usize) -> Option<i64> {
    let entry = 1usize << (tuple[0] & 3);
    let value_base = 1 + entry * columns;
    let mut end_bytes = [0u8; 8];
    end_bytes[..entry].copy_from_slice(&tuple[1..1 + entry]);
    let end = value_base + u64::from_le_bytes(end_bytes) as usize;
    let v = &tuple[value_base..end];
    Some(match v.len() {
        0 => return None,
        1 => v[0] as i8 as i64,
        2 => i16::from_le_bytes(v.try_into().unwrap()) as i64,
        4 => i32::from_le_bytes(v.try_into().unwrap()) as i64,
        8 => i64::from_le_bytes(v.try_into().unwrap()),
        n => panic!("an integer of {n} bytes"),
    })
}

/// Creates table `name` (ID BIGINT key, NAME VARCHAR, X DOUBLE) holding ids 1..=rows.
fn table_with_rows(conn: &mut Connection, name: &str, rows: i64) {
    update(conn, &format!("DROP TABLE IF EXISTS {name}"), &[]);
    update(
        conn,
        &format!("CREATE TABLE {name} (ID BIGINT PRIMARY KEY, NAME VARCHAR, X DOUBLE)"),
        &[],
    );
    let inserted = update(
        conn,
        &format!(
            "INSERT INTO {name} SELECT x, 'row ' || CAST(x AS VARCHAR), x * 0.5 FROM TABLE(SYSTEM_RANGE(1, ?))"
        ),
        &[SqlArg::Long(rows)],
    );
    assert_eq!(inserted, rows);
}

/// Reads every page of `query`, returning (pages, ids of the first column).
fn read_ids(
    conn: &mut Connection,
    query: &str,
    args: &[SqlArg],
    page_size: i32,
) -> (usize, Vec<i64>) {
    let options = SqlOptions {
        page_size,
        ..SqlOptions::default()
    };
    let mut cursor =
        execute(conn, query, args, &options).unwrap_or_else(|e| panic!("{query}: {e}"));
    assert!(cursor.has_row_set());
    let columns = cursor.columns().len();
    let mut page = Page::default();
    let mut pages = 0;
    let mut ids = Vec::new();
    while cursor.next_page_into(conn, &mut page).unwrap() {
        pages += 1;
        assert!(page.len() <= page_size as usize);
        ids.extend(
            page.rows()
                .map(|row| first_int(row, columns).expect("a non-null id")),
        );
    }
    assert!(!cursor.has_more());
    cursor.close(conn).unwrap();
    (pages, ids)
}

#[test]
fn ignite3_handshake_names_the_node() {
    let conn = connect();
    let info = conn.server_info();
    assert!(!info.node_name.is_empty());
    assert!(info.version.starts_with("3."), "version {}", info.version);
    assert!(!info.cluster_ids.is_empty());
    assert!(conn.observable_timestamp() > 0);
}

#[test]
fn ignite3_select_reads_every_row_over_many_pages() {
    let mut conn = connect();
    table_with_rows(&mut conn, "WIRE_PAGES", 2500);
    let (pages, mut ids) = read_ids(&mut conn, "SELECT ID, NAME, X FROM WIRE_PAGES", &[], 100);
    assert_eq!(pages, 25);
    ids.sort();
    assert_eq!(ids, (1..=2500).collect::<Vec<_>>());

    let options = SqlOptions {
        page_size: 7,
        ..SqlOptions::default()
    };
    let cursor = execute(&mut conn, "SELECT * FROM WIRE_PAGES", &[], &options).unwrap();
    let names: Vec<_> = cursor
        .columns()
        .iter()
        .map(|c| (c.name.as_str(), c.type_id))
        .collect();
    assert_eq!(
        names,
        [
            ("ID", column_type::INT64),
            ("NAME", column_type::STRING),
            ("X", column_type::DOUBLE)
        ]
    );
    assert!(!cursor.columns()[0].nullable && cursor.columns()[1].nullable);
    // Closing with pages left (and one requested ahead) frees the cursor; the connection goes on.
    cursor.close(&mut conn).unwrap();
    let (_, ids) = read_ids(
        &mut conn,
        "SELECT ID FROM WIRE_PAGES WHERE ID <= ?",
        &[SqlArg::Long(3)],
        1024,
    );
    assert_eq!(ids.len(), 3);
}

#[test]
fn ignite3_partition_filter_reads_each_row_once() {
    let mut conn = connect();
    table_with_rows(&mut conn, "WIRE_PARTS", 1000);
    let table = cluster::table(&mut conn, "wire_parts")
        .unwrap()
        .expect("the table exists");
    assert_eq!(table.name, "WIRE_PARTS");
    assert_eq!(cluster::table(&mut conn, "NO_SUCH_TABLE").unwrap(), None);

    let map = cluster::partition_primaries(&mut conn, table.id, Duration::from_secs(30)).unwrap();
    assert!(map.partition_count() > 1);
    // One node: it is every partition's primary.
    for primary in &map.primaries {
        assert_eq!(primary.as_deref(), Some(conn.node_name()));
    }
    let replicas = cluster::primary_replicas(&mut conn, table.id).unwrap();
    assert_eq!(replicas.len(), map.partition_count());
    assert!(replicas
        .iter()
        .enumerate()
        .all(|(i, (p, node))| *p == i as i32 && node.name == conn.node_name()));
    let nodes = cluster::cluster_nodes(&mut conn).unwrap();
    assert!(nodes
        .iter()
        .any(|n| n.name == conn.node_name() && n.port > 0));

    let mut all = Vec::new();
    for partition in 0..map.partition_count() {
        let (_, ids) = read_ids(
            &mut conn,
            "SELECT ID FROM WIRE_PARTS WHERE __part = ?",
            &[SqlArg::Long(partition as i64)],
            64,
        );
        all.extend(ids);
    }
    all.sort();
    assert_eq!(all, (1..=1000).collect::<Vec<_>>());
}

#[test]
fn ignite3_arguments_of_every_kind_reach_the_server() {
    let mut conn = connect();
    let args = [
        SqlArg::Long(-5_000_000_000),
        SqlArg::Double(0.1),
        SqlArg::Bool(true),
        SqlArg::String("héllo".into()),
        SqlArg::Bytes(vec![0x80, 1, 2]),
        SqlArg::String(String::new()),
        SqlArg::Null,
    ];
    let sql = "SELECT ? + 1, ? * 2, NOT ?, ? || '!', OCTET_LENGTH(?), CHAR_LENGTH(?), CAST(? AS INTEGER) IS NULL";
    let mut cursor = execute(&mut conn, sql, &args, &SqlOptions::default()).unwrap();
    let types: Vec<_> = cursor.columns().iter().map(|c| c.type_id).collect();
    assert_eq!(types[0], column_type::INT64);
    assert_eq!(types[1], column_type::DOUBLE);
    let page = cursor.next_page(&mut conn).unwrap().expect("one row");
    assert_eq!(page.len(), 1);
    let row = page.row(0);
    assert_eq!(first_int(row, types.len()), Some(-4_999_999_999));
    // The rest, element by element (1-byte or 2-byte offsets).
    let entry = 1usize << (row[0] & 3);
    let base = 1 + entry * types.len();
    let end = |i: usize| {
        let mut b = [0u8; 8];
        b[..entry].copy_from_slice(&row[1 + i * entry..1 + (i + 1) * entry]);
        base + u64::from_le_bytes(b) as usize
    };
    let element = |i: usize| &row[if i == 0 { base } else { end(i - 1) }..end(i)];
    assert_eq!(element(1), 0.2f64.to_le_bytes());
    assert_eq!(element(2), [0]);
    assert_eq!(element(3), "héllo!".as_bytes());
    assert_eq!(element(4), [3]);
    assert_eq!(element(5), [0]);
    assert_eq!(element(6), [1]);
    assert!(cursor.next_page(&mut conn).unwrap().is_none());
}

#[test]
fn ignite3_transactions_commit_and_roll_back() {
    let mut conn = connect();
    table_with_rows(&mut conn, "WIRE_TX", 0);
    let insert = |conn: &mut Connection, tx: i64, id: i64| {
        let options = SqlOptions {
            transaction: Some(tx),
            ..SqlOptions::default()
        };
        execute_update(
            conn,
            "INSERT INTO WIRE_TX (ID) VALUES (?)",
            &[SqlArg::Long(id)],
            &options,
        )
        .unwrap()
    };
    let tx = transaction::begin_read_write(&mut conn).unwrap();
    assert_eq!(insert(&mut conn, tx, 1), 1);
    transaction::rollback(&mut conn, tx).unwrap();
    let tx = transaction::begin_read_write(&mut conn).unwrap();
    assert_eq!(insert(&mut conn, tx, 2), 1);
    // inside the transaction its own write is seen; outside, not before the commit
    let in_tx = SqlOptions {
        transaction: Some(tx),
        ..SqlOptions::default()
    };
    let mut cursor = execute(&mut conn, "SELECT ID FROM WIRE_TX", &[], &in_tx).unwrap();
    let mut page = Page::default();
    let mut seen = 0;
    while cursor.next_page_into(&mut conn, &mut page).unwrap() {
        seen += page.len();
    }
    assert_eq!(seen, 1);
    transaction::commit(&mut conn, tx).unwrap();
    let (_, ids) = read_ids(&mut conn, "SELECT ID FROM WIRE_TX", &[], 10);
    assert_eq!(ids, [2]);
    // a committed transaction's id is gone
    assert!(transaction::commit(&mut conn, tx).is_err());
}

#[test]
fn ignite3_bad_sql_is_a_server_error_with_its_code() {
    let mut conn = connect();
    let err = execute(&mut conn, "SELEKT nonsense", &[], &SqlOptions::default())
        .err()
        .expect("a parse error");
    match err {
        Error::Server { status, message } => {
            assert_eq!(status, error_code::STMT_PARSE, "{message}");
            assert!(
                message.contains("SELEKT") || message.to_lowercase().contains("pars"),
                "{message}"
            );
        }
        other => panic!("expected a server error, got {other:?}"),
    }
    let err = execute(
        &mut conn,
        "SELECT * FROM NO_SUCH_TABLE_X",
        &[],
        &SqlOptions::default(),
    )
    .err()
    .expect("a validation error");
    assert!(
        matches!(err, Error::Server { status, .. } if status == error_code::STMT_VALIDATION),
        "{err:?}"
    );
    // The connection survives server errors.
    let (_, ids) = read_ids(&mut conn, "SELECT 42", &[], 10);
    assert_eq!(ids, [42]);
}

// ---- a fake server for malformed bytes ----

/// Serves one connection: reads the client's magic and handshake, then writes `reply`, and
/// (if `then` is given) after reading one more frame (the heartbeat of opening) writes `then`.
/// Returns the address.
fn fake_server(reply: Vec<u8>, then: Option<Vec<u8>>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap().to_string();
    thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        let mut magic = [0u8; 4];
        if s.read_exact(&mut magic).is_err() || read_frame(&mut s).is_none() {
            return;
        }
        let _ = s.write_all(&reply);
        if let Some(then) = then {
            if read_frame(&mut s).is_some() {
                let _ = s.write_all(&then);
            }
        }
        // Hold the socket open briefly so the client sees data, not a reset.
        thread::sleep(Duration::from_millis(500));
    });
    address
}

fn error_record(w: &mut MsgWriter, code: i32, message: &str) {
    w.uuid(&[7; 16])
        .int(code as i64)
        .str("org.apache.ignite.SomeException")
        .str(message);
    w.nil().nil();
}

fn fake_config(address: &str) -> ConnectionConfig {
    ConnectionConfig {
        read_timeout: Some(Duration::from_secs(5)),
        ..config(address)
    }
}

#[test]
fn ignite3_fake_server_malformed_handshakes_are_typed_errors() {
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("wrong magic", b"IGN2\x00\x00\x00\x01\xc0".to_vec()),
        ("negative length", b"IGNI\xff\xff\xff\xff".to_vec()),
        (
            "huge length, then close",
            b"IGNI\x7f\xff\xff\xf0\x01\x02".to_vec(),
        ),
        ("garbage body", magic_frame(&[0xc1, 0xc1, 0xc1])),
        ("truncated body", magic_frame(&[3, 0, 0, 0xc0, 0xd3, 1])),
        (
            "string length past the end",
            magic_frame(&[
                3, 0, 0, 0xc0, 0, 0xd8, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xdb,
                0xff, 0xff, 0xff, 0xff,
            ]),
        ),
        ("nothing at all", Vec::new()),
    ];
    for (what, reply) in cases {
        let address = fake_server(reply, None);
        match Connection::open(&fake_config(&address)) {
            Err(Error::Protocol(_) | Error::Connection(_)) => {}
            Err(other) => panic!("{what}: unexpected error kind {other:?}"),
            Ok(_) => panic!("{what}: the handshake was accepted"),
        }
    }
}

#[test]
fn ignite3_fake_server_refusals_map_to_error_kinds() {
    let mut b = Vec::new();
    let mut w = MsgWriter::new(&mut b);
    w.int(3).int(0).int(0);
    error_record(&mut w, error_code::INVALID_CREDENTIALS, "bad password");
    let address = fake_server(magic_frame(&b), None);
    let mut cfg = fake_config(&address);
    cfg.username = Some("ignite".into());
    cfg.password = Some("wrong".into());
    let err = Connection::open(&cfg).err().expect("refused");
    assert!(
        matches!(&err, Error::Authentication(m) if m.contains("bad password")),
        "{err:?}"
    );

    let mut b = Vec::new();
    let mut w = MsgWriter::new(&mut b);
    w.int(3).int(0).int(0);
    error_record(&mut w, 3 << 16 | 3, "Unsupported version: 3.0.0");
    let address = fake_server(magic_frame(&b), None);
    let err = Connection::open(&fake_config(&address))
        .err()
        .expect("refused");
    assert!(
        matches!(&err, Error::Connection(m) if m.contains("Unsupported version")),
        "{err:?}"
    );
}

#[test]
fn ignite3_fake_server_malformed_responses_are_typed_errors() {
    let header = |flags: i64| {
        let mut b = Vec::new();
        // request 2: the first after the heartbeat of opening
        MsgWriter::new(&mut b).int(2).int(flags).int(99);
        b
    };
    let mut sql_error = header(4);
    error_record(
        &mut MsgWriter::new(&mut sql_error),
        error_code::STMT_PARSE,
        "no",
    );
    let mut rows_past_end = header(0);
    // resource nil, row set, no more pages, not applied, -1 affected, 1 column, then 1000000 rows
    MsgWriter::new(&mut rows_past_end)
        .nil()
        .bool(true)
        .bool(false)
        .bool(false)
        .int(-1)
        .int(1)
        .int(6)
        .str("ID")
        .bool(false)
        .int(5)
        .int(0)
        .int(19)
        .bool(false)
        .int(1_000_000)
        .bin(&[0, 1, 1]);
    let mut unknown_id = Vec::new();
    MsgWriter::new(&mut unknown_id).int(77).int(0).int(1);
    type Expected = fn(&Error) -> bool;
    let cases: Vec<(&str, Vec<u8>, Expected)> = vec![
        (
            "server error",
            sql_error,
            |e| matches!(e, Error::Server { status, .. } if *status == error_code::STMT_PARSE),
        ),
        ("row count past the end", rows_past_end, |e| {
            matches!(e, Error::Protocol(_))
        }),
        ("answer to a request never sent", unknown_id, |e| {
            matches!(e, Error::Protocol(_))
        }),
        ("garbage header", vec![0xc1, 0xc1], |e| {
            matches!(e, Error::Protocol(_))
        }),
        ("empty frame", Vec::new(), |e| {
            matches!(e, Error::Protocol(_))
        }),
    ];
    for (what, body, expected) in cases {
        let address = fake_server(opening_answers(), Some(frame(&body)));
        let mut conn = Connection::open(&fake_config(&address)).expect("the fake handshake");
        assert_eq!(conn.node_name(), NODE_NAME);
        assert_eq!(conn.server_info().version, "3.1.0");
        let err = execute(&mut conn, "SELECT 1", &[], &SqlOptions::default())
            .err()
            .unwrap_or_else(|| panic!("{what}: accepted"));
        assert!(expected(&err), "{what}: {err:?}");
    }
    // A server that never answers: the read timeout, not a hang.
    let address = fake_server(opening_answers(), None);
    let mut cfg = fake_config(&address);
    cfg.read_timeout = Some(Duration::from_millis(300));
    let mut conn = Connection::open(&cfg).expect("the fake handshake");
    let err = execute(&mut conn, "SELECT 1", &[], &SqlOptions::default())
        .err()
        .unwrap();
    assert!(
        matches!(err, Error::Timeout(_) | Error::Connection(_)),
        "{err:?}"
    );
}
