//! Partial results of a shard (`capsim run --shard I/N`): a versioned, self-describing file,
//! `partial.capsim`, that `capsim merge` combines into exactly the one-run result.
//!
//! Layout: the magic line `CAPSIM-PARTIAL\n`; the format version (u32, little-endian); the
//! length (u32) and JSON text of [`PartialMeta`] — readable with `head -c 2000`; the length
//! (u64) and bytes of the aggregate (postcard); and the SHA-256 of everything before it, so a
//! truncated or corrupted file is refused rather than merged.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::stats::Aggregate;
use crate::{Error, Result};

/// First bytes of every partial file.
pub const MAGIC: &[u8] = b"CAPSIM-PARTIAL\n";
/// Version of the layout; files of another version are refused.
pub const FORMAT_VERSION: u32 = 2;
/// The file name inside a shard's output directory.
pub const FILE_NAME: &str = "partial.capsim";
/// Largest partial file read (refused before reading).
pub const MAX_BYTES: u64 = 4 << 30;
const MAX_META: usize = 1 << 20;

/// What a partial result describes.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PartialMeta {
    /// Layout version.
    pub format: u32,
    /// capsim version that wrote it (merging needs the same version: results may differ).
    pub capsim_version: String,
    /// The scenario file as given on the command line.
    pub scenario: String,
    /// The scenario file's absolute path when it was run.
    pub scenario_absolute: String,
    /// `--with` fragments as given.
    pub with: Vec<String>,
    /// `--with` fragments, absolute.
    pub with_absolute: Vec<String>,
    /// SHA-256 of the resolved scenario.
    pub scenario_sha256: String,
    /// Seed.
    pub seed: u64,
    /// Draws over all shards.
    pub draws_total: u64,
    /// This shard's index I (0-based).
    pub shard: u64,
    /// Number of shards N.
    pub shards: u64,
    /// First draw of this shard.
    pub draw_start: u64,
    /// One past the last draw.
    pub draw_end: u64,
    /// Wall time of the shard's computation, seconds.
    pub wall_seconds: f64,
}

/// The draws of shard `i` of `n` over `total` draws: contiguous blocks, `[i·D/N, (i+1)·D/N)`.
pub fn shard_range(i: u64, n: u64, total: u64) -> std::ops::Range<u64> {
    let at = |k: u64| ((u128::from(k) * u128::from(total)) / u128::from(n)) as u64;
    at(i)..at(i + 1)
}

/// Parses `I/N` (0 ≤ I < N).
pub fn parse_shard(s: &str) -> std::result::Result<(u64, u64), String> {
    let (i, n) = s.split_once('/').ok_or_else(|| format!("`{s}` is not a shard: expected I/N, e.g. 0/4"))?;
    let i: u64 = i.trim().parse().map_err(|_| format!("`{s}`: the shard index `{i}` is not a whole number"))?;
    let n: u64 = n.trim().parse().map_err(|_| format!("`{s}`: the shard count `{n}` is not a whole number"))?;
    if n == 0 {
        return Err(format!("`{s}`: the shard count must be at least 1"));
    }
    if i >= n {
        return Err(format!("`{s}`: shards are numbered 0 … {}; {i} is out of range", n - 1));
    }
    Ok((i, n))
}

/// The bytes of a partial file.
pub fn encode(meta: &PartialMeta, agg: &Aggregate) -> Result<Vec<u8>> {
    let meta_json =
        serde_json::to_vec_pretty(meta).map_err(|e| Error::Internal(format!("cannot encode metadata: {e}")))?;
    let payload = postcard::to_stdvec(agg).map_err(|e| Error::Internal(format!("cannot encode results: {e}")))?;
    let mut out = Vec::with_capacity(MAGIC.len() + meta_json.len() + payload.len() + 64);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
    out.extend_from_slice(&(meta_json.len() as u32).to_le_bytes());
    out.extend_from_slice(&meta_json);
    out.extend_from_slice(&(payload.len() as u64).to_le_bytes());
    out.extend_from_slice(&payload);
    let digest = Sha256::digest(&out);
    out.extend_from_slice(&digest);
    Ok(out)
}

/// Decodes a partial file's bytes (`name` for messages). Never panics on any input.
pub fn decode(name: &str, bytes: &[u8]) -> Result<(PartialMeta, Aggregate)> {
    let bad = |why: &str| Error::Input(format!("{name}: not a usable capsim partial result ({why})"));
    let rest = bytes.strip_prefix(MAGIC).ok_or_else(|| bad("it does not start with CAPSIM-PARTIAL"))?;
    if rest.len() < 8 + 32 {
        return Err(bad("truncated"));
    }
    let (body, digest) = bytes.split_at(bytes.len() - 32);
    let version = u32::from_le_bytes(rest[0..4].try_into().map_err(|_| bad("truncated"))?);
    if version != FORMAT_VERSION {
        return Err(Error::Input(format!(
            "{name}: partial-result format version {version}, but this capsim reads version {FORMAT_VERSION}; \
             merge with the capsim version that ran the shards"
        )));
    }
    if Sha256::digest(body).as_slice() != digest {
        return Err(bad("its checksum does not match: the file is truncated or corrupted"));
    }
    let meta_len = u32::from_le_bytes(rest[4..8].try_into().map_err(|_| bad("truncated"))?) as usize;
    if meta_len > MAX_META || 8 + meta_len + 8 > rest.len() - 32 {
        return Err(bad("bad metadata length"));
    }
    let meta: PartialMeta =
        serde_json::from_slice(&rest[8..8 + meta_len]).map_err(|e| bad(&format!("bad metadata: {e}")))?;
    let at = 8 + meta_len;
    let payload_len = u64::from_le_bytes(rest[at..at + 8].try_into().map_err(|_| bad("truncated"))?);
    let payload = &rest[at + 8..rest.len() - 32];
    if payload_len != payload.len() as u64 {
        return Err(bad("bad payload length"));
    }
    let agg: Aggregate = postcard::from_bytes(payload).map_err(|e| bad(&format!("bad results: {e}")))?;
    if meta.draw_end < meta.draw_start || agg.draws != meta.draw_end - meta.draw_start {
        return Err(bad("its draw count does not match its draw range"));
    }
    if meta.shards == 0 || meta.shard >= meta.shards || meta.draw_end > meta.draws_total {
        return Err(bad("inconsistent shard numbers"));
    }
    if meta.draws_total == 0 || meta.draws_total > crate::scenario::MAX_DRAWS || meta.shards > meta.draws_total {
        return Err(bad("its draw count is not one capsim runs"));
    }
    check_counts(&agg).map_err(|why| bad(&why))?;
    Ok((meta, agg))
}

/// Checks, with overflow-checked arithmetic, what merging and the tables rely on: every
/// histogram's counts add up to its sketch's count, every sum is one its count and range
/// allow, and no draw count exceeds the draws. A crafted (correctly checksummed) file could
/// otherwise overflow a sum during the merge, or make a table print numbers no draw produced.
fn check_counts(agg: &Aggregate) -> std::result::Result<(), String> {
    let draws = agg.draws;
    let sketches = [
        ("population", &agg.population),
        ("groups", &agg.groups),
        ("demand", &agg.demand),
        ("capacity", &agg.capacity),
        ("gap", &agg.gap),
        ("births", &agg.births),
        ("deaths", &agg.deaths),
        ("migration", &agg.migration),
    ];
    for (what, series) in sketches {
        for (i, s) in series.iter().enumerate() {
            let fail = || format!("{what} series {i} is inconsistent");
            if s.count != draws {
                return Err(fail());
            }
            let mut total = s.zeros;
            for (_, c) in s.pos.entries().chain(s.neg.entries()) {
                total = total.checked_add(c).ok_or_else(fail)?;
            }
            if total != s.count {
                return Err(fail());
            }
            if s.count > 0 {
                if !(s.min.is_finite() && s.max.is_finite() && s.min <= s.max) {
                    return Err(fail());
                }
                // |sum| ≤ count · max|value| in fixed point (2²⁰), plus rounding.
                let bound = s.count as f64 * s.min.abs().max(s.max.abs()) * (1u64 << 20) as f64 + s.count as f64;
                if (s.sum as f64).abs() > bound * (1.0 + 1e-9) {
                    return Err(fail());
                }
            } else if s.sum != 0 {
                return Err(fail());
            }
        }
    }
    if agg.shortfall.iter().chain(&agg.first).any(|&c| c > draws) {
        return Err("a shortfall count exceeds the draws".into());
    }
    Ok(())
}

/// Reads a partial file, or `DIR/partial.capsim` when given a directory.
pub fn read(path: &Path) -> Result<(PathBuf, PartialMeta, Aggregate)> {
    let file = if path.is_dir() { path.join(FILE_NAME) } else { path.to_path_buf() };
    let name = file.display().to_string();
    let meta = std::fs::metadata(&file).map_err(|e| Error::Input(format!("cannot read {name}: {e}")))?;
    if meta.len() > MAX_BYTES {
        return Err(Error::Input(format!(
            "{name} is {} bytes, larger than any partial result capsim writes",
            meta.len()
        )));
    }
    let bytes = std::fs::read(&file).map_err(|e| Error::Input(format!("cannot read {name}: {e}")))?;
    let (m, a) = decode(&name, &bytes)?;
    Ok((file, m, a))
}

/// Reads only the metadata of a partial file (or `DIR/partial.capsim`), without its results:
/// enough to check that parts belong together before reading them one at a time. The file's
/// checksum is verified when [`read`] reads it whole.
pub fn read_meta(path: &Path) -> Result<(PathBuf, PartialMeta, u64)> {
    use std::io::Read;
    let file = if path.is_dir() { path.join(FILE_NAME) } else { path.to_path_buf() };
    let name = file.display().to_string();
    let f = std::fs::File::open(&file).map_err(|e| Error::Input(format!("cannot read {name}: {e}")))?;
    let size = f.metadata().map_err(|e| Error::Input(format!("cannot read {name}: {e}")))?.len();
    if size > MAX_BYTES {
        return Err(Error::Input(format!("{name} is {size} bytes, larger than any partial result capsim writes")));
    }
    let mut head = Vec::new();
    f.take((MAGIC.len() + 8 + MAX_META) as u64)
        .read_to_end(&mut head)
        .map_err(|e| Error::Input(format!("cannot read {name}: {e}")))?;
    let meta = decode_meta(&name, &head)?;
    Ok((file, meta, size))
}

/// The metadata from the first bytes of a partial file (at least its magic line, version,
/// length and metadata; more is ignored), checked for consistency. `name` names the file in
/// messages.
pub fn decode_meta(name: &str, head: &[u8]) -> Result<PartialMeta> {
    let bad = |why: &str| Error::Input(format!("{name}: not a usable capsim partial result ({why})"));
    let rest = head.strip_prefix(MAGIC).ok_or_else(|| bad("it does not start with CAPSIM-PARTIAL"))?;
    if rest.len() < 8 {
        return Err(bad("truncated"));
    }
    let version = u32::from_le_bytes(rest[0..4].try_into().map_err(|_| bad("truncated"))?);
    if version != FORMAT_VERSION {
        return Err(Error::Input(format!(
            "{name}: partial-result format version {version}, but this capsim reads version {FORMAT_VERSION}; \
             merge with the capsim version that ran the shards"
        )));
    }
    let meta_len = u32::from_le_bytes(rest[4..8].try_into().map_err(|_| bad("truncated"))?) as usize;
    if meta_len > MAX_META || 8 + meta_len > rest.len() {
        return Err(bad("bad metadata length"));
    }
    let meta: PartialMeta =
        serde_json::from_slice(&rest[8..8 + meta_len]).map_err(|e| bad(&format!("bad metadata: {e}")))?;
    if meta.shards == 0
        || meta.shard >= meta.shards
        || meta.draw_end > meta.draws_total
        || meta.draw_end < meta.draw_start
    {
        return Err(bad("inconsistent shard numbers"));
    }
    Ok(meta)
}

/// Checks that parts belong together and cover every draw exactly once; returns them sorted.
pub fn check_parts(parts: &mut [(PathBuf, PartialMeta, u64)]) -> Result<()> {
    let Some((first_path, first, _)) = parts.first() else {
        return Err(Error::Input("no partial results to merge".into()));
    };
    let (first_path, first) = (first_path.display().to_string(), first.clone());
    for (path, m, _) in parts.iter() {
        let p = path.display();
        let differ = |what: &str, a: &str, b: &str| {
            Error::Input(format!(
                "{p} was run with {what} {b}, but {first_path} with {a}; parts of different runs cannot be merged"
            ))
        };
        if m.capsim_version != first.capsim_version {
            return Err(differ("capsim version", &first.capsim_version, &m.capsim_version));
        }
        if m.scenario_sha256 != first.scenario_sha256 {
            return Err(differ("a different scenario (sha256)", &first.scenario_sha256, &m.scenario_sha256));
        }
        if m.seed != first.seed {
            return Err(differ("seed", &first.seed.to_string(), &m.seed.to_string()));
        }
        if m.draws_total != first.draws_total {
            return Err(differ("--draws", &first.draws_total.to_string(), &m.draws_total.to_string()));
        }
        if m.shards != first.shards {
            return Err(differ("a shard count of", &first.shards.to_string(), &m.shards.to_string()));
        }
    }
    parts.sort_by_key(|p| (p.1.draw_start, p.1.shard));
    let mut next = 0u64;
    for (path, m, _) in parts.iter() {
        if m.draw_start < next {
            return Err(Error::Input(format!(
                "{} (shard {}/{}) overlaps another part: draws {}..{} were already merged",
                path.display(),
                m.shard,
                m.shards,
                m.draw_start,
                next
            )));
        }
        if m.draw_start > next {
            return Err(Error::Input(format!(
                "draws {next}..{} are missing: a shard of {} was not given (have you merged every shard?)",
                m.draw_start, m.shards
            )));
        }
        next = m.draw_end;
    }
    if next != first.draws_total {
        return Err(Error::Input(format!(
            "draws {next}..{} are missing: a shard of {} was not given (have you merged every shard?)",
            first.draws_total, first.shards
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shard_ranges_cover_every_draw_once() {
        for total in [0u64, 1, 7, 1000, 1_000_003] {
            for n in [1u64, 2, 3, 4, 7, 16] {
                let mut next = 0;
                for i in 0..n {
                    let r = shard_range(i, n, total);
                    assert_eq!(r.start, next);
                    next = r.end;
                }
                assert_eq!(next, total);
            }
        }
    }

    #[test]
    fn shard_specs() {
        assert_eq!(parse_shard("0/4"), Ok((0, 4)));
        assert!(parse_shard("4/4").is_err());
        assert!(parse_shard("1/0").is_err());
        assert!(parse_shard("a/4").is_err());
        assert!(parse_shard("3").is_err());
        assert!(parse_shard("-1/4").is_err());
    }

    fn empty_part() -> (PartialMeta, Aggregate) {
        let meta = PartialMeta {
            format: FORMAT_VERSION,
            capsim_version: "0".into(),
            scenario: "s.toml".into(),
            scenario_absolute: "/s.toml".into(),
            with: vec![],
            with_absolute: vec![],
            scenario_sha256: "x".into(),
            seed: 1,
            draws_total: 1,
            shard: 0,
            shards: 1,
            draw_start: 0,
            draw_end: 0,
            wall_seconds: 0.0,
        };
        let agg = crate::stats::Aggregate {
            draws: 0,
            population: vec![],
            groups: vec![],
            demand: vec![],
            capacity: vec![],
            gap: vec![],
            shortfall: vec![],
            first: vec![],
            births: vec![],
            deaths: vec![],
            migration: vec![],
        };
        (meta, agg)
    }

    #[test]
    fn corrupted_files_are_refused_not_panicked_on() {
        let (meta, agg) = empty_part();
        let bytes = encode(&meta, &agg).unwrap();
        assert!(decode("p", &bytes).is_ok());
        for cut in [0, 5, MAGIC.len() + 3, bytes.len() / 2, bytes.len() - 1] {
            assert!(decode("p", &bytes[..cut]).is_err());
        }
        let mut flipped = bytes.clone();
        flipped[MAGIC.len() + 12] ^= 1;
        assert!(decode("p", &flipped).is_err());
    }

    fn one_draw(sketch: crate::stats::Sketch) -> (PartialMeta, Aggregate) {
        let (mut meta, mut agg) = empty_part();
        meta.draw_end = 1;
        agg.draws = 1;
        agg.population = vec![sketch];
        (meta, agg)
    }

    #[test]
    fn well_formed_but_impossible_parts_are_refused() {
        use crate::stats::Sketch;
        let mut good = Sketch::new(crate::stats::sketch::COARSE_BITS);
        good.add(5.0);
        let (meta, agg) = one_draw(good.clone());
        assert!(decode("p", &encode(&meta, &agg).unwrap()).is_ok());

        // Regression (found writing the partial fuzz target): a part claiming zero draws in all
        // was merged into tables of NaN quantiles.
        let (mut meta, agg) = empty_part();
        meta.draws_total = 0;
        let e = decode("p", &encode(&meta, &agg).unwrap()).unwrap_err().to_string();
        assert!(e.contains("draw count"), "{e}");

        // A sum no draw of its range can give (merging two such parts overflowed the i128 sum).
        let mut huge = good.clone();
        huge.sum = i128::MAX / 2;
        let (meta, agg) = one_draw(huge);
        assert!(decode("p", &encode(&meta, &agg).unwrap()).unwrap_err().to_string().contains("inconsistent"));

        // Counts that do not add up; a shortfall count above the draws.
        let mut short = good.clone();
        short.count = 2;
        let (mut meta, mut agg) = one_draw(short);
        meta.draw_end = 2;
        meta.draws_total = 2;
        agg.draws = 2;
        assert!(decode("p", &encode(&meta, &agg).unwrap()).is_err());
        let (meta, mut agg) = one_draw(good);
        agg.shortfall = vec![2];
        assert!(decode("p", &encode(&meta, &agg).unwrap()).unwrap_err().to_string().contains("exceeds the draws"));
    }
}
