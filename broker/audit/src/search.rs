//! `search`: a linear scan of the segments with a filter. No index yet: at the measured
//! parse rate a scan covers about a million records a second, enough for incident work;
//! an index can be added beside the segments later without changing the log format.

use std::path::{Path, PathBuf};

use crate::{
    error::AuditError,
    record::{AuditRecord, SubjectPseudonym, Timestamp},
    segment::{FrameReader, SEGMENT_ENTRIES, list_segments, segment_path},
};

/// What to look for; every field set must match (an empty query matches everything).
#[derive(Debug, Clone, Default)]
pub struct Query {
    /// Exchange id (compared case-insensitively); a recipe run's id also matches its legs' records.
    pub exchange_id: Option<String>,
    /// W3C trace id (compared case-insensitively).
    pub trace_id: Option<String>,
    /// Calling agency's code.
    pub agency: Option<String>,
    /// Method path; matches the whole path or a suffix of it that starts after a `/` or
    /// `.` (`GetTranscript`, `HouseholdRegistry/GetTranscript`,
    /// `tongdao.household.v1.HouseholdRegistry/GetTranscript`).
    pub service: Option<String>,
    /// Purpose code.
    pub purpose: Option<String>,
    /// The subject, pseudonymised with the deployment's key.
    pub subject: Option<SubjectPseudonym>,
    /// Outcome: a code name (`OK`, `PERMISSION_DENIED`), a code number, or a reason
    /// (`CONSENT_REQUIRED`); case-insensitive. Intents (no outcome yet) never match.
    pub outcome: Option<String>,
    /// Records at or after this time.
    pub since: Option<Timestamp>,
    /// Records before this time.
    pub until: Option<Timestamp>,
}

impl Query {
    /// Whether `record` satisfies every condition set.
    pub fn matches(&self, record: &AuditRecord) -> bool {
        let at = record.at();
        if self.since.is_some_and(|since| at < since) || self.until.is_some_and(|until| at >= until)
        {
            return false;
        }
        let needs_exchange = self.exchange_id.is_some()
            || self.trace_id.is_some()
            || self.agency.is_some()
            || self.service.is_some()
            || self.purpose.is_some();
        let exchange = record.exchange();
        if needs_exchange && exchange.is_none() {
            return false;
        }
        if let Some(exchange) = exchange {
            let same = |want: &Option<String>, have: Option<&str>| {
                want.as_ref()
                    .is_none_or(|want| have.is_some_and(|have| have.eq_ignore_ascii_case(want)))
            };
            // A recipe run's id also finds its legs' records.
            let exchange_matches = same(&self.exchange_id, Some(&exchange.exchange_id))
                || same(&self.exchange_id, exchange.parent_exchange_id());
            if !exchange_matches
                || !same(&self.trace_id, exchange.trace_id.as_deref())
                || !same(&self.agency, exchange.client.agency())
                || !same(&self.purpose, exchange.purpose.as_deref())
            {
                return false;
            }
            if let Some(service) = &self.service {
                let path = exchange.service.as_str();
                let suffix = path.len() > service.len()
                    && path.ends_with(service.as_str())
                    && matches!(path.as_bytes()[path.len() - service.len() - 1], b'/' | b'.');
                if path != service && !suffix {
                    return false;
                }
            }
        }
        if let Some(subject) = &self.subject {
            let have = match record {
                AuditRecord::ConsentChange(change) => Some(&change.subject),
                _ => exchange.and_then(|e| e.subject.as_ref()),
            };
            if have != Some(subject) {
                return false;
            }
        }
        if let Some(want) = &self.outcome {
            let Some(outcome) = record.outcome() else {
                return false;
            };
            let by_name = outcome.code_name().eq_ignore_ascii_case(want);
            let by_number = want.parse::<u32>().ok() == Some(outcome.code);
            let by_reason = outcome
                .reason
                .as_deref()
                .is_some_and(|reason| reason.eq_ignore_ascii_case(want));
            if !(by_name || by_number || by_reason) {
                return false;
            }
        }
        true
    }
}

/// A record found by [`search`].
#[derive(Debug, Clone)]
pub struct Found {
    /// Its index in the log (for `proof`).
    pub index: u64,
    /// The record.
    pub record: AuditRecord,
}

/// Scans the log in `dir` for records matching `query`, oldest first. Reads only; safe while
/// a broker appends (a frame being written ends the scan).
pub fn search(dir: &Path, query: &Query) -> Result<Search, AuditError> {
    Ok(Search {
        dir: dir.to_owned(),
        query: query.clone(),
        segments: list_segments(dir)?.into_iter(),
        reader: None,
        entry: Vec::new(),
        done: false,
    })
}

/// Iterator over the records [`search`] finds; an item is an error when a sealed segment
/// cannot be read or an entry is not a record.
pub struct Search {
    dir: PathBuf,
    query: Query,
    segments: std::vec::IntoIter<u64>,
    reader: Option<(PathBuf, FrameReader)>,
    entry: Vec<u8>,
    done: bool,
}

impl std::fmt::Debug for Search {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Search")
            .field("dir", &self.dir)
            .field("query", &self.query)
            .finish_non_exhaustive()
    }
}

impl Iterator for Search {
    type Item = Result<Found, AuditError>;

    fn next(&mut self) -> Option<Self::Item> {
        while !self.done {
            let Some((path, reader)) = self.reader.as_mut() else {
                let Some(number) = self.segments.next() else {
                    self.done = true;
                    break;
                };
                let path = segment_path(&self.dir, number);
                match FrameReader::open(&path, number * SEGMENT_ENTRIES) {
                    Ok(reader) => self.reader = Some((path, reader)),
                    Err(error) => {
                        self.done = true;
                        return Some(Err(AuditError::io("cannot read", &path)(error)));
                    }
                }
                continue;
            };
            let index = reader.next_index;
            match reader.next_into(&mut self.entry) {
                Ok(Ok(true)) => {}
                Ok(Ok(false)) => {
                    self.reader = None;
                    continue;
                }
                Ok(Err(fault)) => {
                    self.done = true;
                    // The last segment may end in a frame being written: not an error.
                    if self.segments.len() == 0 {
                        break;
                    }
                    return Some(Err(AuditError::Corrupt {
                        index: Some(index),
                        detail: format!("{fault:?} in {}", path.display()),
                    }));
                }
                Err(error) => {
                    self.done = true;
                    return Some(Err(AuditError::io("cannot read", path.as_path())(error)));
                }
            }
            let record = match AuditRecord::decode(&self.entry) {
                Ok(record) => record,
                Err(error) => {
                    return Some(Err(AuditError::Corrupt {
                        index: Some(index),
                        detail: format!("not an audit record: {error}"),
                    }));
                }
            };
            if self.query.matches(&record) {
                return Some(Ok(Found { index, record }));
            }
        }
        None
    }
}
