//! The pipelined writers' window, for both generations (Ignite 2's put-all, Ignite 3's
//! streamer): a few requests in flight on one connection, answers collected oldest first, and on
//! a failure exact counts of the rows stored and of those that may have been.
//!
//! Why one: the counts are the part that is easy to get wrong. A request not sent whole stored
//! nothing (a server reads a request only once all of it is in). An answer is a row count stored.
//! After a transport error or a timeout nothing more is read from the connection (its position
//! in the stream is unknown, and each read would wait out the timeout again): every request
//! still unanswered may have been stored. A server's refusal stored nothing where a request is
//! all or nothing (an Ignite 3 batch is one transaction), and may have stored part of it where
//! it is not (Ignite 2's put-all on an atomic cache): the writer says which ([`Refused`]).

use std::collections::VecDeque;

use crate::error::{Error, Result};
use crate::net::mux::Pipelined;

/// Requests a writer sends before waiting for the oldest answer.
pub const IN_FLIGHT: usize = 4;

/// Bytes of rows a writer puts in one request: a few MB.
pub const REQUEST_BYTES: usize = 4 << 20;

/// What a server's refusal of one request means for its rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// The request is all or nothing: a refused one stored none of its rows.
    StoredNothing,
    /// The request may have been applied in part before the refusal.
    MayHaveStoredSome,
}

struct Request {
    id: i64,
    rows: usize,
    /// Requests of the same group are never in flight together (Ignite 3: a partition, so that
    /// a repeated key's last row wins).
    group: usize,
}

/// The requests in flight on `conn` and the rows they stored, for a write of `total` rows to
/// `target` (named in the error of a failure).
pub struct InFlightWindow<'c, C: Pipelined> {
    conn: &'c mut C,
    target: String,
    limit: usize,
    refused: Refused,
    in_flight: VecDeque<Request>,
    stored: usize,
    total: usize,
    /// Answers are read into it (their payload is not needed: an answer means stored).
    buf: Vec<u8>,
}

impl<'c, C: Pipelined> InFlightWindow<'c, C> {
    /// A window of at most `limit` requests in flight.
    pub fn new(
        conn: &'c mut C,
        target: String,
        limit: usize,
        total: usize,
        refused: Refused,
    ) -> Self {
        InFlightWindow {
            conn,
            target,
            limit,
            refused,
            in_flight: VecDeque::new(),
            stored: 0,
            total,
            buf: Vec::new(),
        }
    }

    /// The connection, to send the next request on.
    pub fn conn(&mut self) -> &mut C {
        self.conn
    }

    /// Waits for the oldest answers until another request of `group` may be sent: fewer than
    /// the limit in flight, none of them of the same group.
    pub fn make_room(&mut self, group: usize) -> Result<()> {
        while self.in_flight.len() >= self.limit || self.in_flight.iter().any(|r| r.group == group)
        {
            self.wait_oldest()?;
        }
        Ok(())
    }

    /// Records the result of sending a request of `rows` rows of `group`: its id, or the error
    /// of a request not sent whole (which stored nothing), which ends the write.
    pub fn sent(&mut self, sent: Result<i64>, rows: usize, group: usize) -> Result<()> {
        match sent {
            Ok(id) => {
                self.in_flight.push_back(Request { id, rows, group });
                Ok(())
            }
            Err(e) => Err(self.failed(e, 0)),
        }
    }

    /// Collects every answer still to come; returns the rows stored.
    pub fn finish(mut self) -> Result<usize> {
        while !self.in_flight.is_empty() {
            self.wait_oldest()?;
        }
        Ok(self.stored)
    }

    fn wait_oldest(&mut self) -> Result<()> {
        let request = self.in_flight.pop_front().expect("a request in flight");
        match self.conn.receive(request.id, &mut self.buf).map(|_| ()) {
            Ok(()) => {
                self.stored += request.rows;
                Ok(())
            }
            Err(e) => {
                let unsure = if self.conn.is_broken() || self.refused == Refused::MayHaveStoredSome
                {
                    request.rows
                } else {
                    0
                };
                Err(self.failed(e, unsure))
            }
        }
    }

    /// The error of a write that failed part-way. The answers still in flight are collected
    /// while the connection works (then they count, and the connection is clean for reuse);
    /// once it is broken, the rows still unanswered count as `unsure`.
    fn failed(&mut self, error: Error, mut unsure: usize) -> Error {
        while let Some(request) = self.in_flight.pop_front() {
            if self.conn.is_broken() {
                unsure += request.rows;
                continue;
            }
            match self.conn.receive(request.id, &mut self.buf).map(|_| ()) {
                Ok(()) => self.stored += request.rows,
                Err(_) if self.conn.is_broken() => unsure += request.rows,
                Err(_) if self.refused == Refused::MayHaveStoredSome => unsure += request.rows,
                Err(_) => {}
            }
        }
        error.of_partial_write(&self.target, self.stored, self.total, unsure)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Answers scripted per request id: `Ok`, a server's refusal, or a broken connection.
    #[derive(Default)]
    struct Scripted {
        answers: Vec<(i64, Option<bool>)>,
        broken: bool,
        asked: Vec<i64>,
    }

    impl Pipelined for Scripted {
        fn receive(&mut self, id: i64, _: &mut Vec<u8>) -> Result<usize> {
            self.asked.push(id);
            assert!(!self.broken, "read from a broken connection");
            match self.answers.iter().find(|(i, _)| *i == id).unwrap().1 {
                Some(true) => Ok(0),
                Some(false) => Err(Error::Server {
                    status: 1,
                    message: "refused".into(),
                }),
                None => {
                    self.broken = true;
                    Err(Error::Timeout("no answer".into()))
                }
            }
        }
        fn is_broken(&self) -> bool {
            self.broken
        }
    }

    fn write(answers: &[Option<bool>], refused: Refused) -> (Result<usize>, Vec<i64>) {
        let mut conn = Scripted {
            answers: (1..).zip(answers.iter().copied()).collect(),
            ..Scripted::default()
        };
        let mut window = InFlightWindow::new(&mut conn, "T".into(), 2, 10 * answers.len(), refused);
        let mut result = Ok(());
        for id in 1..=answers.len() as i64 {
            result = window
                .make_room(id as usize)
                .and_then(|()| window.sent(Ok(id), 10, id as usize));
            if result.is_err() {
                break;
            }
        }
        let outcome = result.and_then(|()| window.finish());
        (outcome, conn.asked)
    }

    #[test]
    fn every_answer_counts_and_at_most_the_limit_is_in_flight() {
        let (stored, asked) = write(&[Some(true); 5], Refused::StoredNothing);
        assert_eq!(stored.unwrap(), 50);
        assert_eq!(asked, vec![1, 2, 3, 4, 5]);
    }

    #[test]
    fn a_refusal_stores_nothing_or_maybe_some_as_the_writer_says() {
        let (error, _) = write(
            &[Some(true), Some(false), Some(true), Some(true)],
            Refused::StoredNothing,
        );
        let text = error.unwrap_err().to_string();
        // 1 stored; 2 refused; 3 in flight then collected; 4 never sent.
        assert!(
            text.contains("writing to T failed (20 of 40 rows were stored)"),
            "{text}"
        );
        let (error, _) = write(
            &[Some(true), Some(false), Some(true), Some(true)],
            Refused::MayHaveStoredSome,
        );
        let text = error.unwrap_err().to_string();
        assert!(
            text.contains("(20 of 40 rows were stored, and up to 10 more may have been)"),
            "{text}"
        );
    }

    #[test]
    fn after_a_broken_connection_nothing_is_read_and_the_unanswered_are_unsure() {
        let (error, asked) = write(&[Some(true), None, Some(true)], Refused::StoredNothing);
        let error = error.unwrap_err();
        assert!(matches!(error, Error::Timeout(_)), "{error}");
        assert!(
            error
                .to_string()
                .contains("(10 of 30 rows were stored, and up to 20 more may have been)"),
            "{error}"
        );
        assert_eq!(asked, vec![1, 2], "no read after the connection broke");
    }

    #[test]
    fn a_request_not_sent_whole_stored_nothing() {
        let mut conn = Scripted {
            answers: vec![(1, Some(true))],
            ..Scripted::default()
        };
        let mut window = InFlightWindow::new(&mut conn, "T".into(), 4, 30, Refused::StoredNothing);
        window.sent(Ok(1), 10, 0).unwrap();
        let error = window
            .sent(Err(Error::Connection("reset".into())), 10, 1)
            .unwrap_err();
        assert!(
            error
                .to_string()
                .contains("(10 of 30 rows were stored): reset"),
            "{error}"
        );
    }
}
