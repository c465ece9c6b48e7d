//! The index file (`index.mstk`): little-endian sections, each 64-byte aligned and checked
//! by xxh3-64, a section table, and a trailer that checksums header and table. A damaged
//! or foreign file is reported as `IndexCorrupt` naming the part, never read as an index.

use crate::error::{CoreError, CoreResult};

pub const MAGIC: &[u8; 8] = b"MSTKIDX\0";
pub const TRAILER_MAGIC: &[u8; 8] = b"MSTKEND\0";
pub const MAJOR: u16 = 1;
pub const MINOR: u16 = 0;
const HEADER_BYTES: usize = 28;
const ENTRY_BYTES: usize = 56;
const ALIGN: usize = 64;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Dtype {
    U8 = 0,
    U16 = 1,
    U32 = 2,
    U64 = 3,
    I8 = 4,
    F32 = 5,
    Utf8 = 6,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Section {
    pub name: String,
    pub dtype: Dtype,
    pub items: u64,
    pub bytes: Vec<u8>,
}

impl Section {
    pub fn u64s(name: &str, v: &[u64]) -> Self {
        Section {
            name: name.into(),
            dtype: Dtype::U64,
            items: v.len() as u64,
            bytes: v.iter().flat_map(|x| x.to_le_bytes()).collect(),
        }
    }
    pub fn u32s(name: &str, v: &[u32]) -> Self {
        Section {
            name: name.into(),
            dtype: Dtype::U32,
            items: v.len() as u64,
            bytes: v.iter().flat_map(|x| x.to_le_bytes()).collect(),
        }
    }
    pub fn i8s(name: &str, v: &[i8]) -> Self {
        Section {
            name: name.into(),
            dtype: Dtype::I8,
            items: v.len() as u64,
            bytes: v.iter().map(|&x| x as u8).collect(),
        }
    }
    pub fn f32s(name: &str, v: &[f32]) -> Self {
        Section {
            name: name.into(),
            dtype: Dtype::F32,
            items: v.len() as u64,
            bytes: v.iter().flat_map(|x| x.to_le_bytes()).collect(),
        }
    }
    pub fn utf8(name: &str, s: &[u8]) -> Self {
        Section {
            name: name.into(),
            dtype: Dtype::Utf8,
            items: s.len() as u64,
            bytes: s.to_vec(),
        }
    }
    /// Strings as `<name>_off` (u64[n+1]) plus `<name>` (their concatenated bytes).
    pub fn strings<S: AsRef<str>>(name: &str, strings: &[S]) -> [Self; 2] {
        let mut off = Vec::with_capacity(strings.len() + 1);
        let mut data = Vec::new();
        off.push(0u64);
        for s in strings {
            data.extend_from_slice(s.as_ref().as_bytes());
            off.push(data.len() as u64);
        }
        [
            Section::u64s(&format!("{name}_off"), &off),
            Section::utf8(name, &data),
        ]
    }
}

fn xxh3(bytes: &[u8]) -> u64 {
    xxhash_rust::xxh3::xxh3_64(bytes)
}

fn corrupt(section: &str, message: impl Into<String>) -> CoreError {
    CoreError::IndexCorrupt {
        section: section.into(),
        message: message.into(),
    }
}

/// The file's bytes for `sections` of index `kind` (1 = bm25, 2 = dense).
pub fn encode(kind: u16, sections: &[Section]) -> CoreResult<Vec<u8>> {
    let mut out = vec![0u8; HEADER_BYTES];
    let mut table = Vec::with_capacity(sections.len() * ENTRY_BYTES);
    for s in sections {
        if s.name.len() > 16 {
            return Err(CoreError::parameter(format!(
                "section name {:?} longer than 16 bytes",
                s.name
            )));
        }
        let pad = (ALIGN - out.len() % ALIGN) % ALIGN;
        out.resize(out.len() + pad, 0);
        let offset = out.len() as u64;
        out.extend_from_slice(&s.bytes);
        let mut name = [0u8; 16];
        name[..s.name.len()].copy_from_slice(s.name.as_bytes());
        table.extend_from_slice(&name);
        table.push(s.dtype as u8);
        table.extend_from_slice(&[0u8; 7]);
        table.extend_from_slice(&offset.to_le_bytes());
        table.extend_from_slice(&(s.bytes.len() as u64).to_le_bytes());
        table.extend_from_slice(&s.items.to_le_bytes());
        table.extend_from_slice(&xxh3(&s.bytes).to_le_bytes());
    }
    let pad = (ALIGN - out.len() % ALIGN) % ALIGN;
    out.resize(out.len() + pad, 0);
    let table_offset = out.len() as u64;
    let mut header = Vec::with_capacity(HEADER_BYTES);
    header.extend_from_slice(MAGIC);
    header.extend_from_slice(&MAJOR.to_le_bytes());
    header.extend_from_slice(&MINOR.to_le_bytes());
    header.extend_from_slice(&kind.to_le_bytes());
    header.extend_from_slice(&0u16.to_le_bytes());
    header.extend_from_slice(&(sections.len() as u32).to_le_bytes());
    header.extend_from_slice(&table_offset.to_le_bytes());
    out[..HEADER_BYTES].copy_from_slice(&header);
    out.extend_from_slice(&table);
    let mut check = header;
    check.extend_from_slice(&table);
    out.extend_from_slice(&xxh3(&check).to_le_bytes());
    out.extend_from_slice(TRAILER_MAGIC);
    Ok(out)
}

fn u16_at(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes(b[at..at + 2].try_into().expect("2 bytes"))
}
fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().expect("4 bytes"))
}
fn u64_at(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(b[at..at + 8].try_into().expect("8 bytes"))
}

/// Parses and checks a file: header, table and trailer always; each section's checksum
/// when `verify`. Returns the kind and the sections in file order.
pub fn decode(bytes: &[u8], verify: bool) -> CoreResult<(u16, Vec<Section>)> {
    if bytes.len() < HEADER_BYTES + 16 || &bytes[..8] != MAGIC {
        return Err(corrupt(
            "header",
            "not an mstk index file (bad magic or too short)",
        ));
    }
    let major = u16_at(bytes, 8);
    if major > MAJOR {
        return Err(CoreError::IndexVersion {
            found: major,
            supported: MAJOR,
        });
    }
    let kind = u16_at(bytes, 12);
    let n_sections = u32_at(bytes, 16) as usize;
    let table_offset = u64_at(bytes, 20) as usize;
    let table_end = n_sections
        .checked_mul(ENTRY_BYTES)
        .and_then(|t| t.checked_add(table_offset));
    let Some(table_end) = table_end.filter(|&e| e + 16 == bytes.len()) else {
        return Err(corrupt(
            "table",
            "section table does not end where the trailer starts (truncated file?)",
        ));
    };
    if &bytes[table_end + 8..] != TRAILER_MAGIC {
        return Err(corrupt("trailer", "missing end marker"));
    }
    let mut check = bytes[..HEADER_BYTES].to_vec();
    check.extend_from_slice(&bytes[table_offset..table_end]);
    if xxh3(&check) != u64_at(bytes, table_end) {
        return Err(corrupt(
            "trailer",
            "header or section table checksum mismatch",
        ));
    }
    let mut sections = Vec::with_capacity(n_sections);
    for i in 0..n_sections {
        let e = table_offset + i * ENTRY_BYTES;
        let raw_name = &bytes[e..e + 16];
        let name_len = raw_name.iter().position(|&b| b == 0).unwrap_or(16);
        let name = std::str::from_utf8(&raw_name[..name_len])
            .map_err(|_| corrupt("table", "section name is not UTF-8"))?
            .to_string();
        let dtype = match bytes[e + 16] {
            0 => Dtype::U8,
            1 => Dtype::U16,
            2 => Dtype::U32,
            3 => Dtype::U64,
            4 => Dtype::I8,
            5 => Dtype::F32,
            6 => Dtype::Utf8,
            other => return Err(corrupt(&name, format!("unknown dtype {other}"))),
        };
        let offset = u64_at(bytes, e + 24) as usize;
        let len = u64_at(bytes, e + 32) as usize;
        let items = u64_at(bytes, e + 40);
        let sum = u64_at(bytes, e + 48);
        let end = offset.checked_add(len).filter(|&end| end <= table_offset);
        let Some(end) = end else {
            return Err(corrupt(&name, "section lies outside the file"));
        };
        let data = &bytes[offset..end];
        if verify && xxh3(data) != sum {
            return Err(corrupt(&name, "checksum mismatch"));
        }
        sections.push(Section {
            name,
            dtype,
            items,
            bytes: data.to_vec(),
        });
    }
    Ok((kind, sections))
}

pub fn find<'a>(sections: &'a [Section], name: &str) -> CoreResult<&'a Section> {
    sections
        .iter()
        .find(|s| s.name == name)
        .ok_or_else(|| corrupt(name, "section missing"))
}

pub fn read_u64s(s: &Section) -> CoreResult<Vec<u64>> {
    if s.dtype != Dtype::U64 || s.bytes.len() % 8 != 0 || s.bytes.len() as u64 / 8 != s.items {
        return Err(corrupt(&s.name, "expected u64 items"));
    }
    Ok(s.bytes
        .chunks_exact(8)
        .map(|c| u64::from_le_bytes(c.try_into().expect("8")))
        .collect())
}

pub fn read_u32s(s: &Section) -> CoreResult<Vec<u32>> {
    if s.dtype != Dtype::U32 || s.bytes.len() % 4 != 0 || s.bytes.len() as u64 / 4 != s.items {
        return Err(corrupt(&s.name, "expected u32 items"));
    }
    Ok(s.bytes
        .chunks_exact(4)
        .map(|c| u32::from_le_bytes(c.try_into().expect("4")))
        .collect())
}

pub fn read_i8s(s: &Section) -> CoreResult<Vec<i8>> {
    if s.dtype != Dtype::I8 || s.bytes.len() as u64 != s.items {
        return Err(corrupt(&s.name, "expected i8 items"));
    }
    Ok(s.bytes.iter().map(|&b| b as i8).collect())
}

pub fn read_f32s(s: &Section) -> CoreResult<Vec<f32>> {
    if s.dtype != Dtype::F32 || s.bytes.len() % 4 != 0 || s.bytes.len() as u64 / 4 != s.items {
        return Err(corrupt(&s.name, "expected f32 items"));
    }
    Ok(s.bytes
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes(c.try_into().expect("4")))
        .collect())
}

pub fn read_strings(sections: &[Section], name: &str) -> CoreResult<Vec<String>> {
    let off = read_u64s(find(sections, &format!("{name}_off"))?)?;
    let data = find(sections, name)?;
    let mut out = Vec::with_capacity(off.len().saturating_sub(1));
    for w in off.windows(2) {
        let (a, b) = (w[0] as usize, w[1] as usize);
        if a > b || b > data.bytes.len() {
            return Err(corrupt(name, "string offsets out of range"));
        }
        out.push(
            String::from_utf8(data.bytes[a..b].to_vec()).map_err(|_| corrupt(name, "not UTF-8"))?,
        );
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_damage() {
        let sections = vec![
            Section::u32s("postings", &[1, 2, 3]),
            Section::f32s("weights", &[0.5, 1.5, 2.5]),
        ];
        let bytes = encode(1, &sections).unwrap();
        let (kind, back) = decode(&bytes, true).unwrap();
        assert_eq!((kind, back), (1, sections));
        // Flip one byte anywhere: some check names the damaged part.
        for at in 0..bytes.len() {
            let mut bad = bytes.clone();
            bad[at] ^= 0x40;
            if let Ok((_, s)) = decode(&bad, true) {
                // Only padding bytes may change without notice.
                assert_eq!(s, decode(&bytes, true).unwrap().1, "byte {at}");
            }
        }
        assert!(matches!(
            decode(&bytes[..bytes.len() - 1], true),
            Err(CoreError::IndexCorrupt { .. })
        ));
        let mut future = bytes.clone();
        future[8] = 2;
        assert!(matches!(
            decode(&future, true),
            Err(CoreError::IndexVersion { found: 2, .. })
        ));
        assert_eq!(xxh3(b"mstk"), 0x2e94dfbd2d6f9131);
    }
}
