use super::*;

/// All leaves in memory: the reference implementation of [`Nodes`].
struct Leaves(Vec<Hash>);

impl Nodes for Leaves {
    fn node(&self, level: u8, index: u64) -> Result<Hash, AuditError> {
        let lo = (index << level) as usize;
        let hi = ((index + 1) << level) as usize;
        Ok(subtree_hash(&self.0[lo..hi]))
    }
}

fn leaves(n: u64) -> Leaves {
    Leaves((0..n).map(|i| leaf_hash(&i.to_be_bytes())).collect())
}

/// An independent RFC 6962 implementation (the Go sumdb port) as the oracle.
struct Stored(Vec<tlog_tiles::Hash>);

impl tlog_tiles::HashReader for Stored {
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<tlog_tiles::Hash>, tlog_tiles::Error> {
        Ok(indexes.iter().map(|&i| self.0[i as usize]).collect())
    }
}

fn oracle(n: u64) -> Stored {
    let mut stored = Stored(Vec::new());
    for i in 0..n {
        let more = tlog_tiles::stored_hashes(i, &i.to_be_bytes(), &stored).expect("stored hashes");
        stored.0.extend(more);
    }
    stored
}

#[test]
fn empty_tree_root_is_sha256_of_nothing() {
    assert_eq!(
        empty_root().to_hex(),
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    );
    assert_eq!(Frontier::default().root(), empty_root());
}

#[test]
fn roots_and_proofs_match_the_oracle() {
    let n = 70;
    let all = leaves(n);
    let stored = oracle(n);
    let mut frontier = Frontier::default();
    for size in 1..=n {
        frontier.push(all.0[(size - 1) as usize]);
        let ours = root(&all, size).expect("root");
        let theirs = tlog_tiles::tree_hash(size, &stored).expect("oracle root");
        assert_eq!(ours.0, theirs.0, "root at {size}");
        assert_eq!(frontier.root(), ours, "frontier root at {size}");
        for index in 0..size {
            let proof = inclusion_proof(&all, index, size).expect("inclusion");
            let leaf = all.0[index as usize];
            verify_inclusion(&proof, index, size, &leaf, &ours).expect("our check");
            let theirs_proof: Vec<tlog_tiles::Hash> =
                proof.iter().map(|h| tlog_tiles::Hash(h.0)).collect();
            tlog_tiles::check_record(&theirs_proof, size, theirs, index, tlog_tiles::Hash(leaf.0))
                .expect("oracle accepts our inclusion proof");
        }
        for old in 1..=size {
            let old_root = root(&all, old).expect("old root");
            let proof = consistency_proof(&all, old, size).expect("consistency");
            verify_consistency(&proof, old, size, &old_root, &ours).expect("our check");
            let theirs_proof: Vec<tlog_tiles::Hash> =
                proof.iter().map(|h| tlog_tiles::Hash(h.0)).collect();
            tlog_tiles::check_tree(
                &theirs_proof,
                size,
                theirs,
                old,
                tlog_tiles::Hash(old_root.0),
            )
            .expect("oracle accepts our consistency proof");
        }
    }
}

#[test]
fn wrong_proofs_are_rejected() {
    let all = leaves(13);
    let size = 13;
    let root13 = root(&all, size).expect("root");
    let proof = inclusion_proof(&all, 5, size).expect("proof");
    let leaf = all.0[5];
    assert_eq!(
        verify_inclusion(&proof, 6, size, &leaf, &root13),
        Err(ProofError::RootMismatch)
    );
    assert_eq!(
        verify_inclusion(&proof[1..], 5, size, &leaf, &root13),
        Err(ProofError::WrongLength)
    );
    let mut bent = proof;
    bent[0].0[0] ^= 1;
    assert!(verify_inclusion(&bent, 5, size, &leaf, &root13).is_err());

    let root7 = root(&all, 7).expect("root");
    let proof = consistency_proof(&all, 7, size).expect("proof");
    assert!(verify_consistency(&proof, 7, size, &root7, &root13).is_ok());
    assert!(verify_consistency(&proof, 6, size, &root7, &root13).is_err());
    assert!(verify_consistency(&proof, 7, size, &root13, &root13).is_err());
}

#[test]
fn hex_round_trips() {
    let h = leaf_hash(b"x");
    assert_eq!(unhex32(&h.to_hex()), Some(h.0));
    assert_eq!(unhex32(&h.to_hex().to_uppercase()), Some(h.0));
    assert_eq!(unhex32("zz"), None);
    assert_eq!(Hash::from_base64(&h.to_base64()), Some(h));
}
