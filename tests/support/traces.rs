//! The ARC paper's block traces in `traces/` (see `traces/README.md`), read
//! as a sequence of requested keys for hit-ratio tests, benches and
//! examples. Each user includes this file with `#[path]` or `mod support`.

use std::{fs::File, io::Read, path::PathBuf};

/// The keys requested by trace `name` (`"OLTP"`, `"P3"`, `"P6"`), in order:
/// `traces/{name}.lis.zst` under the crate root, decompressed, with every
/// run `start count _ _` expanded to `start, start + 1, .., start + count - 1`.
///
/// # Panics
/// If the file is missing, is not a zstd frame, or has a line that is not
/// at least two unsigned integers.
pub(crate) fn requests(name: &str) -> Vec<u64> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("traces")
        .join(format!("{name}.lis.zst"));
    let mut file = File::open(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut text = String::new();
    ruzstd::decoding::StreamingDecoder::new(&mut file)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .read_to_string(&mut text)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut keys = Vec::new();
    for (number, line) in text.lines().enumerate() {
        let mut fields = line.split_ascii_whitespace().map(str::parse::<u64>);
        let (Some(Ok(start)), Some(Ok(count))) = (fields.next(), fields.next()) else {
            panic!("{}:{}: bad run {line:?}", path.display(), number + 1);
        };
        keys.extend(start..start + count);
    }
    keys
}
