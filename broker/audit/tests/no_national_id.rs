//! No file the audit log writes contains a national-ID-shaped string (`[A-Z][1289]\d{8}`),
//! though every record names a subject by national ID.

mod common;

use std::path::Path;

use common::*;
use tongdao_audit::Options;

fn looks_like_national_id(window: &[u8]) -> bool {
    window[0].is_ascii_uppercase()
        && matches!(window[1], b'1' | b'2' | b'8' | b'9')
        && window[2..10].iter().all(u8::is_ascii_digit)
}

fn scan(path: &Path, hits: &mut Vec<String>) {
    for item in std::fs::read_dir(path).expect("dir") {
        let path = item.expect("entry").path();
        if path.is_dir() {
            scan(&path, hits);
            continue;
        }
        let bytes = std::fs::read(&path).expect("file");
        for (at, window) in bytes.windows(10).enumerate() {
            if looks_like_national_id(window) {
                hits.push(format!(
                    "{} at {at}: {}",
                    path.display(),
                    String::from_utf8_lossy(window)
                ));
            }
        }
    }
}

#[tokio::test]
async fn no_national_id_in_any_file() {
    let dir = tempfile::tempdir().expect("temp dir");
    let log = open(dir.path(), &signer(), Options::default());
    append_all(&log, 0..2000).await;
    log.close();
    assert!(
        looks_like_national_id(national_id(5).as_bytes()),
        "the probe works"
    );
    let mut hits = Vec::new();
    scan(dir.path(), &mut hits);
    assert!(hits.is_empty(), "national IDs in clear: {hits:#?}");
}
