//! Compiles `proto/` with protox (a pure-Rust protobuf compiler, so no `protoc` is needed),
//! generates prost messages and tonic stubs, and keeps the encoded descriptor set so the broker
//! can read the custom options at run time and serve reflection.

use std::{env, fs, path::PathBuf};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let root = PathBuf::from("proto");
    let mut files = Vec::new();
    collect_protos(&root, &mut files)?;
    files.sort();
    println!("cargo:rerun-if-changed=proto");

    let mut compiler = protox::Compiler::new([&root])?;
    compiler
        .include_source_info(true)
        .include_imports(true)
        .open_files(&files)?;
    // Encode through the compiler, not `prost_types`: prost drops unknown fields, and the custom
    // options (`tongdao.v1.subject`, `data_class`, …) are unknown to `prost_types::FieldOptions`,
    // so `file_descriptor_set().encode_to_vec()` would silently lose every one of them.
    let out_dir = PathBuf::from(env::var("OUT_DIR")?);
    fs::write(
        out_dir.join("tongdao_descriptors.bin"),
        compiler.encode_file_descriptor_set(),
    )?;
    let descriptors = compiler.file_descriptor_set();

    tonic_prost_build::configure()
        .build_server(true)
        .build_client(true)
        .compile_fds(descriptors)?;
    Ok(())
}

fn collect_protos(dir: &PathBuf, files: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            collect_protos(&path, files)?;
        } else if path.extension().is_some_and(|ext| ext == "proto") {
            files.push(path);
        }
    }
    Ok(())
}
