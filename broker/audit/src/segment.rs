//! Segments: the write-ahead files that hold the log's entries, and the file layer the
//! writer goes through (injectable, so tests can make writes and syncs fail).
//!
//! A segment holds [`SEGMENT_ENTRIES`] consecutive entries as frames:
//! `u32 length | u64 index | entry | u32 CRC-32 of the preceding fields`, all big-endian.

use std::{
    fs::{File, OpenOptions},
    io::{self, Read, Write},
    path::{Path, PathBuf},
};

use crate::error::AuditError;

/// Entries per segment: one full level-1 tile (256 × 256 entries), so a segment's tiles
/// and entry bundles never straddle two segments.
pub const SEGMENT_ENTRIES: u64 = 1 << 16;

/// Bytes a frame adds to its entry.
pub(crate) const FRAME_OVERHEAD: usize = 16;

pub(crate) const MAX_ENTRY: u32 = u16::MAX as u32;

/// The path of segment `number` in log directory `dir`.
pub(crate) fn segment_path(dir: &Path, number: u64) -> PathBuf {
    dir.join("log").join(format!("{number:012}.seg"))
}

/// Segment numbers present, in order.
pub(crate) fn list_segments(dir: &Path) -> Result<Vec<u64>, AuditError> {
    let log = dir.join("log");
    let read = match std::fs::read_dir(&log) {
        Ok(read) => read,
        Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(error) => return Err(AuditError::io("cannot list", &log)(error)),
    };
    let mut numbers = Vec::new();
    for item in read {
        let item = item.map_err(AuditError::io("cannot list", &log))?;
        let name = item.file_name();
        let Some(stem) = name.to_str().and_then(|n| n.strip_suffix(".seg")) else {
            continue;
        };
        if stem.len() == 12
            && let Ok(number) = stem.parse::<u64>()
        {
            numbers.push(number);
        }
    }
    numbers.sort_unstable();
    Ok(numbers)
}

/// Appends one frame for entry `index` to `buf`.
pub(crate) fn encode_frame(buf: &mut Vec<u8>, index: u64, entry: &[u8]) {
    let start = buf.len();
    buf.extend_from_slice(&(entry.len() as u32).to_be_bytes());
    buf.extend_from_slice(&index.to_be_bytes());
    buf.extend_from_slice(entry);
    let crc = crc32fast::hash(&buf[start..]);
    buf.extend_from_slice(&crc.to_be_bytes());
}

/// Why a frame could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FrameFault {
    /// The file ends inside the frame.
    Truncated,
    /// Length zero or above 65,535.
    BadLength,
    /// CRC mismatch.
    Checksum,
    /// The frame names another index.
    Misplaced(u64),
}

/// Reads frames of one segment in order, through a large buffer so an entry is checked and
/// hashed where it was read (no copy per entry): `verify`'s speed depends on it.
pub(crate) struct FrameReader {
    file: File,
    buf: Vec<u8>,
    /// Unconsumed bytes are `buf[start..end]`.
    start: usize,
    end: usize,
    eof: bool,
    /// Index expected for the next frame.
    pub(crate) next_index: u64,
    /// Byte offset of the next frame.
    pub(crate) offset: u64,
}

const READ_CHUNK: usize = 4 << 20;

impl FrameReader {
    pub(crate) fn open(path: &Path, first_index: u64) -> io::Result<FrameReader> {
        Ok(FrameReader {
            file: File::open(path)?,
            buf: vec![0; READ_CHUNK],
            start: 0,
            end: 0,
            eof: false,
            next_index: first_index,
            offset: 0,
        })
    }

    /// Makes at least `need` unconsumed bytes available unless the file ends first;
    /// returns how many are.
    fn fill(&mut self, need: usize) -> io::Result<usize> {
        while self.end - self.start < need && !self.eof {
            if self.start > 0 {
                self.buf.copy_within(self.start..self.end, 0);
                self.end -= self.start;
                self.start = 0;
            }
            match self.file.read(&mut self.buf[self.end..]) {
                Ok(0) => self.eof = true,
                Ok(n) => self.end += n,
                Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                Err(error) => return Err(error),
            }
        }
        Ok(self.end - self.start)
    }

    /// The next entry; `Ok(None)` at a clean end of file. On a fault the reader stays at
    /// the start of the bad frame.
    pub(crate) fn next_frame(&mut self) -> io::Result<Result<Option<&[u8]>, FrameFault>> {
        let available = self.fill(12)?;
        if available == 0 {
            return Ok(Ok(None));
        }
        if available < 12 {
            return Ok(Err(FrameFault::Truncated));
        }
        let header = &self.buf[self.start..self.start + 12];
        let len = u32::from_be_bytes([header[0], header[1], header[2], header[3]]);
        let index = u64::from_be_bytes(header[4..12].try_into().unwrap_or_default());
        if len == 0 || len > MAX_ENTRY {
            return Ok(Err(FrameFault::BadLength));
        }
        let frame_len = len as usize + FRAME_OVERHEAD;
        if self.fill(frame_len)? < frame_len {
            return Ok(Err(FrameFault::Truncated));
        }
        let frame = &self.buf[self.start..self.start + frame_len];
        let (covered, crc) = frame.split_at(frame_len - 4);
        let stored = u32::from_be_bytes(crc.try_into().unwrap_or_default());
        if crc32fast::hash(covered) != stored {
            return Ok(Err(FrameFault::Checksum));
        }
        if index != self.next_index {
            return Ok(Err(FrameFault::Misplaced(index)));
        }
        self.next_index += 1;
        self.offset += frame_len as u64;
        self.start += frame_len;
        Ok(Ok(Some(&covered[12..])))
    }

    /// [`FrameReader::next_frame`], copying the entry into `entry`.
    pub(crate) fn next_into(
        &mut self,
        entry: &mut Vec<u8>,
    ) -> io::Result<Result<bool, FrameFault>> {
        Ok(self.next_frame()?.map(|frame| match frame {
            Some(bytes) => {
                entry.clear();
                entry.extend_from_slice(bytes);
                true
            }
            None => false,
        }))
    }
}

/// How the writer reaches its segment files. The default is the real file system; tests
/// substitute one that fails on command to exercise the unavailable state.
pub trait FileLayer: Send + Sync + std::fmt::Debug {
    /// Opens (creating if needed) a segment for appending at its end.
    fn open_segment(&self, path: &Path) -> io::Result<Box<dyn SegmentFile>>;
    /// Makes a directory's entries (a newly created segment) durable.
    fn sync_dir(&self, path: &Path) -> io::Result<()>;
}

/// An open segment, appended to by the single writer.
pub trait SegmentFile: Send + std::fmt::Debug {
    /// Appends all of `bytes` at the end of the file.
    fn append(&mut self, bytes: &[u8]) -> io::Result<()>;
    /// Makes everything appended so far durable (`fdatasync`).
    fn sync_data(&mut self) -> io::Result<()>;
    /// Cuts the file back to `len` bytes (to drop a failed, unacknowledged write).
    fn truncate(&mut self, len: u64) -> io::Result<()>;
}

/// The real file system.
#[derive(Debug, Default, Clone, Copy)]
pub struct StdFileLayer;

#[derive(Debug)]
struct StdSegment(File);

impl FileLayer for StdFileLayer {
    fn open_segment(&self, path: &Path) -> io::Result<Box<dyn SegmentFile>> {
        let file = OpenOptions::new().create(true).append(true).open(path)?;
        Ok(Box::new(StdSegment(file)))
    }

    fn sync_dir(&self, path: &Path) -> io::Result<()> {
        File::open(path)?.sync_all()
    }
}

impl SegmentFile for StdSegment {
    fn append(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.0.write_all(bytes)
    }

    fn sync_data(&mut self) -> io::Result<()> {
        self.0.sync_data()
    }

    fn truncate(&mut self, len: u64) -> io::Result<()> {
        self.0.set_len(len)
    }
}
