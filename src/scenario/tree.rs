//! The spanned document tree: TOML parsed with the location of every key and value, the
//! `extends` chain and `--with` fragments merged into one tree, and the source files kept so
//! that any diagnostic can name file, line and column.
//!
//! Overlays are one mechanism: a file (through `extends`) or a fragment (through `--with`) is
//! merged over the tree below it. Tables merge key by key; anything else replaces what it
//! overrides. A table written as a distribution, a step schedule or a `{ value = … }` replaces
//! the whole variable it overrides, so that overriding a normal with a uniform never leaves a
//! mix of both. A rate's `factors` table is not one variable but a table of them (each factor
//! has its own path), so it merges by factor name like any other table: a fragment that names
//! one factor overrides that factor and keeps the others.

use std::path::{Path, PathBuf};

use super::diag::{Diagnostic, Diagnostics};

/// The largest scenario or fragment file capsim reads (refused before reading beyond it).
pub const MAX_FILE_BYTES: u64 = 8 * 1024 * 1024;
/// How deep `extends` chains may go.
const MAX_EXTENDS_DEPTH: usize = 16;

/// Where a key or value sits: which file, and the byte range within it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Loc {
    /// Index into [`SourceFiles`]; `u32::MAX` for values made by capsim itself.
    pub file: u32,
    /// Byte range in that file.
    pub start: u32,
    /// End of the byte range.
    pub end: u32,
}

impl Loc {
    /// A location for values that no file wrote (defaults, command-line values).
    pub const NONE: Loc = Loc { file: u32::MAX, start: 0, end: 0 };
}

/// A value of the document tree.
#[derive(Clone, Debug)]
pub enum Value {
    /// A table (key order as written).
    Table(Table),
    /// An array.
    Array(Vec<Node>),
    /// A string.
    Str(String),
    /// An integer.
    Int(i64),
    /// A float (NaN and infinities are kept here and rejected by validation).
    Float(f64),
    /// A boolean.
    Bool(bool),
    /// A date or time, kept as written (capsim uses none).
    Datetime(String),
}

/// A value with its location.
#[derive(Clone, Debug)]
pub struct Node {
    /// The value.
    pub value: Value,
    /// Where it was written.
    pub loc: Loc,
}

/// A table's entry: the key, where the key was written, and the value.
#[derive(Clone, Debug)]
pub struct Entry {
    /// The key as written.
    pub key: String,
    /// Where the key was written.
    pub key_loc: Loc,
    /// The value.
    pub node: Node,
}

/// A table: entries in the order written.
#[derive(Clone, Debug, Default)]
pub struct Table {
    /// The entries.
    pub entries: Vec<Entry>,
}

impl Table {
    /// The entry for `key`, if any.
    pub fn get(&self, key: &str) -> Option<&Node> {
        self.entries.iter().find(|e| e.key == key).map(|e| &e.node)
    }

    /// The entry for `key`, mutable.
    pub fn get_mut(&mut self, key: &str) -> Option<&mut Node> {
        self.entries.iter_mut().find(|e| e.key == key).map(|e| &mut e.node)
    }

    /// Sets `key` to `node`, replacing any value it had (keeping its position).
    pub fn insert(&mut self, key: &str, node: Node) {
        if let Some(e) = self.entries.iter_mut().find(|e| e.key == key) {
            e.node = node;
        } else {
            self.entries.push(Entry { key: key.to_string(), key_loc: node.loc, node });
        }
    }

    /// Removes `key`, returning its value.
    pub fn remove(&mut self, key: &str) -> Option<Node> {
        let i = self.entries.iter().position(|e| e.key == key)?;
        Some(self.entries.remove(i).node)
    }

    /// The keys, in order.
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.entries.iter().map(|e| e.key.as_str())
    }
}

impl Node {
    /// A node made by capsim (no file location).
    pub fn synthetic(value: Value) -> Node {
        Node { value, loc: Loc::NONE }
    }

    /// The table inside, if this is a table.
    pub fn as_table(&self) -> Option<&Table> {
        match &self.value {
            Value::Table(t) => Some(t),
            _ => None,
        }
    }

    /// A short name of the value's type, for messages.
    pub fn type_name(&self) -> &'static str {
        match &self.value {
            Value::Table(_) => "a table",
            Value::Array(_) => "an array",
            Value::Str(_) => "a string",
            Value::Int(_) => "an integer",
            Value::Float(_) => "a float",
            Value::Bool(_) => "a boolean",
            Value::Datetime(_) => "a date",
        }
    }

    /// The value as written, shortened for messages.
    pub fn describe(&self) -> String {
        let s = match &self.value {
            Value::Table(t) => {
                let keys: Vec<&str> = t.keys().collect();
                format!("a table with keys [{}]", keys.join(", "))
            }
            Value::Array(a) => format!("an array of {} items", a.len()),
            Value::Str(s) => format!("\"{s}\""),
            Value::Int(i) => i.to_string(),
            Value::Float(f) => format_float(*f),
            Value::Bool(b) => b.to_string(),
            Value::Datetime(d) => d.clone(),
        };
        if s.chars().count() > 80 {
            let cut: String = s.chars().take(77).collect();
            format!("{cut}...")
        } else {
            s
        }
    }
}

fn format_float(f: f64) -> String {
    if f.is_nan() {
        "nan".into()
    } else if f.is_infinite() {
        if f > 0.0 { "inf".into() } else { "-inf".into() }
    } else {
        // Debug keeps a float looking like one ("3.0", not "3"), so "expected a whole number"
        // makes sense next to it.
        format!("{f:?}")
    }
}

/// One file read into the tree.
#[derive(Clone, Debug)]
pub struct SourceFile {
    /// The path as given (relative paths stay relative, for stable messages).
    pub path: PathBuf,
    /// The file's text.
    pub text: String,
    line_starts: Vec<usize>,
}

impl SourceFile {
    /// Wraps a file's text.
    pub fn new(path: PathBuf, text: String) -> SourceFile {
        let mut line_starts = vec![0];
        line_starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
        SourceFile { path, text, line_starts }
    }

    /// 1-based line and column (in characters) of a byte offset.
    pub fn line_col(&self, offset: usize) -> (usize, usize) {
        let offset = offset.min(self.text.len());
        let line = match self.line_starts.binary_search(&offset) {
            Ok(i) => i,
            Err(i) => i - 1,
        };
        let start = self.line_starts[line];
        let col = self.text.get(start..offset).map_or(offset - start, |s| s.chars().count()) + 1;
        (line + 1, col)
    }
}

/// Every file read for one scenario.
#[derive(Clone, Debug, Default)]
pub struct SourceFiles {
    /// The files, indexed by [`Loc::file`].
    pub files: Vec<SourceFile>,
}

impl SourceFiles {
    /// File path, line and column of a location, if it has one.
    pub fn position(&self, loc: Loc) -> Option<(&Path, usize, usize)> {
        let f = self.files.get(loc.file as usize)?;
        let (line, col) = f.line_col(loc.start as usize);
        Some((f.path.as_path(), line, col))
    }

    /// The directory of the file a location is in (for paths written relative to that file).
    pub fn dir_of(&self, loc: Loc) -> PathBuf {
        self.files.get(loc.file as usize).and_then(|f| f.path.parent().map(Path::to_path_buf)).unwrap_or_default()
    }

    fn add(&mut self, path: PathBuf, text: String) -> u32 {
        self.files.push(SourceFile::new(path, text));
        (self.files.len() - 1) as u32
    }
}

/// Reads a text file, refusing oversized ones before reading them into memory.
pub fn read_text_limited(path: &Path, limit: u64) -> Result<String, String> {
    let bytes = read_limited(path, limit, "")?;
    String::from_utf8(bytes).map_err(|e| format!("cannot read {} as UTF-8 text: {e}", path.display()))
}

/// Reads a binary file (a font), refusing oversized ones before reading them into memory, and
/// special files (`/dev/zero`) that report no size but never end.
pub fn read_bytes_limited(path: &Path, limit: u64) -> Result<Vec<u8>, String> {
    read_limited(path, limit, " here")
}

/// The reading both share: a directory or a file over `limit` is refused before reading, and
/// `take` guards against files that grow while being read (or never end). `here` qualifies the
/// limit in the message.
fn read_limited(path: &Path, limit: u64, here: &str) -> Result<Vec<u8>, String> {
    use std::io::Read;
    let file = std::fs::File::open(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let meta = file.metadata().map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    if meta.is_dir() {
        return Err(format!("{} is a directory, not a file", path.display()));
    }
    if meta.len() > limit {
        return Err(format!(
            "{} is {} bytes; capsim reads files of at most {} bytes{here} (is this the right file?)",
            path.display(),
            meta.len(),
            limit
        ));
    }
    let mut bytes = Vec::new();
    file.take(limit + 1).read_to_end(&mut bytes).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    if bytes.len() as u64 > limit {
        return Err(format!("{} is larger than {} bytes", path.display(), limit));
    }
    Ok(bytes)
}

/// Parses TOML text into a spanned tree. Parse errors become located diagnostics.
pub fn parse_toml(text: &str, file: u32, diags: &mut Diagnostics, files: &SourceFiles) -> Option<Table> {
    match toml::de::DeTable::parse(text) {
        Ok(doc) => {
            let span = doc.span();
            let loc = Loc { file, start: span.start as u32, end: span.end as u32 };
            Some(convert_table(doc.get_ref(), file, loc))
        }
        Err(e) => {
            let span = e.span().unwrap_or(0..0);
            let loc = Loc { file, start: span.start as u32, end: span.end as u32 };
            let mut msg = e.message().trim().to_string();
            // toml says only "duplicate key"; the span holds the key, so name it.
            let key = text.get(span.clone()).map(str::trim).unwrap_or("");
            if msg == "duplicate key" && !key.is_empty() && key.chars().count() <= 64 && !key.contains('\n') {
                msg = format!("duplicate key `{key}` (a key may be written only once in a table)");
            }
            diags.push(Diagnostic::error(loc, "", format!("this is not valid TOML: {msg}")).locate(files));
            None
        }
    }
}

fn convert_table(t: &toml::de::DeTable<'_>, file: u32, _loc: Loc) -> Table {
    let mut table = Table::default();
    for (k, v) in t.iter() {
        let ks = k.span();
        let key_loc = Loc { file, start: ks.start as u32, end: ks.end as u32 };
        let node = convert_value(v, file);
        table.entries.push(Entry { key: k.get_ref().to_string(), key_loc, node });
    }
    table
}

fn convert_value(v: &toml::Spanned<toml::de::DeValue<'_>>, file: u32) -> Node {
    use toml::de::DeValue;
    let span = v.span();
    let loc = Loc { file, start: span.start as u32, end: span.end as u32 };
    let value = match v.get_ref() {
        DeValue::String(s) => Value::Str(s.to_string()),
        DeValue::Integer(i) => match i64::from_str_radix(i.as_str(), i.radix()) {
            Ok(n) => Value::Int(n),
            // Out of i64 range: keep as a float so validation reports it as out of range.
            Err(_) => Value::Float(i.as_str().parse::<f64>().unwrap_or(f64::INFINITY)),
        },
        DeValue::Float(f) => Value::Float(f.as_str().parse::<f64>().unwrap_or(f64::NAN)),
        DeValue::Boolean(b) => Value::Bool(*b),
        DeValue::Datetime(d) => Value::Datetime(d.to_string()),
        DeValue::Array(a) => Value::Array(a.iter().map(|x| convert_value(x, file)).collect()),
        DeValue::Table(t) => Value::Table(convert_table(t, file, loc)),
    };
    Node { value, loc }
}

/// Keys whose presence makes a table one whole value (a variable), replaced as a unit by an
/// overlay rather than merged key by key. (`factors` is absent on purpose: see the module docs.)
pub const WHOLE_VALUE_KEYS: &[&str] = &["value", "normal", "uniform", "triangular", "lognormal", "from"];

/// Keys a table written as one variable may hold besides its value keys.
const VARIABLE_EXTRA_KEYS: &[&str] = &["key", "clip", "source", "confidence"];

/// Whether a node is one variable: not a table, or a table holding a value key and otherwise
/// only a variable's own keys. (A resource of kind `fixed_min` has a `value` key too, among
/// many others: it is a table of fields, merged key by key.)
fn is_whole_value(node: &Node) -> bool {
    match &node.value {
        Value::Table(t) => {
            t.keys().any(|k| WHOLE_VALUE_KEYS.contains(&k))
                && t.keys().all(|k| WHOLE_VALUE_KEYS.contains(&k) || VARIABLE_EXTRA_KEYS.contains(&k))
        }
        _ => true,
    }
}

/// Merges `overlay` over `base` (see the module docs).
pub fn merge(base: &mut Table, overlay: Table) {
    for entry in overlay.entries {
        match base.entries.iter_mut().find(|e| e.key == entry.key) {
            Some(existing) => {
                let both_tables =
                    matches!(existing.node.value, Value::Table(_)) && matches!(entry.node.value, Value::Table(_));
                // An overlay of only fields the base table of fields already has (`value` of a
                // `fixed_min` resource, alone, looks like a variable) updates those fields.
                let fields = match (&existing.node.value, &entry.node.value) {
                    (Value::Table(b), Value::Table(o)) => {
                        !is_whole_value(&existing.node) && o.keys().all(|k| b.keys().any(|bk| bk == k))
                    }
                    _ => false,
                };
                if both_tables && (fields || (!is_whole_value(&entry.node) && !is_whole_value(&existing.node))) {
                    if let (Value::Table(bt), Value::Table(ot)) = (&mut existing.node.value, entry.node.value) {
                        merge(bt, ot);
                    }
                } else {
                    existing.node = entry.node;
                    existing.key_loc = entry.key_loc;
                }
            }
            None => base.entries.push(entry),
        }
    }
}

/// A scenario's document: the merged tree and every file read to make it.
#[derive(Clone, Debug, Default)]
pub struct Document {
    /// The merged tree.
    pub root: Table,
    /// The files read, for locating diagnostics.
    pub files: SourceFiles,
    /// The scenario file and the overlays applied, in order (for run.json).
    pub chain: Vec<PathBuf>,
}

/// Loads a scenario file (following `extends`) and merges `--with` fragments over it.
/// Problems are pushed to `diags`; `None` when nothing usable could be read.
pub fn load_document(path: &Path, with: &[PathBuf], diags: &mut Diagnostics) -> Option<Document> {
    let mut doc = Document::default();
    let mut root = load_with_extends(path, None, &mut doc, diags, 0, &mut Vec::new())?;
    for fragment in with {
        if let Some(t) = load_with_extends(fragment, None, &mut doc, diags, 0, &mut Vec::new()) {
            merge(&mut root, t);
        }
    }
    doc.root = root;
    Some(doc)
}

/// Reads `path` and, recursively, the files it extends. `named_at` is the `extends` value that
/// named this file (if any): problems reading the file are reported there, so the message
/// points at the line to fix rather than at a file that does not exist.
fn load_with_extends(
    path: &Path,
    named_at: Option<Loc>,
    doc: &mut Document,
    diags: &mut Diagnostics,
    depth: usize,
    stack: &mut Vec<PathBuf>,
) -> Option<Table> {
    let report = |doc: &Document, diags: &mut Diagnostics, msg: String| match named_at {
        Some(loc) => diags.push(Diagnostic::error(loc, "extends", msg).locate(&doc.files)),
        None => diags.push(Diagnostic::file_error(path, msg)),
    };
    let canonical = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    if stack.contains(&canonical) {
        report(doc, diags, format!("`extends` makes a cycle: {} extends itself through the chain", path.display()));
        return None;
    }
    if depth > MAX_EXTENDS_DEPTH {
        report(doc, diags, format!("`extends` chain deeper than {MAX_EXTENDS_DEPTH} files"));
        return None;
    }
    let text = match read_text_limited(path, MAX_FILE_BYTES) {
        Ok(t) => t,
        Err(msg) => {
            report(doc, diags, msg);
            return None;
        }
    };
    let file = doc.files.add(path.to_path_buf(), text);
    let text = doc.files.files[file as usize].text.clone();
    let mut table = parse_toml(&text, file, diags, &doc.files)?;
    let extends = table.remove("extends");
    let mut result = match extends {
        Some(node) => match &node.value {
            Value::Str(rel) => {
                let base_path = doc.files.dir_of(node.loc).join(rel);
                stack.push(canonical.clone());
                let base = load_with_extends(&base_path, Some(node.loc), doc, diags, depth + 1, stack);
                stack.pop();
                let mut base = base?;
                merge(&mut base, table);
                base
            }
            _ => {
                diags.push(
                    Diagnostic::error(
                        node.loc,
                        "extends",
                        format!("found {}, expected a file name such as \"base.toml\"", node.describe()),
                    )
                    .locate(&doc.files),
                );
                table
            }
        },
        None => table,
    };
    // The chain lists base files first, then the files that override them.
    doc.chain.push(path.to_path_buf());
    result.entries.retain(|e| e.key != "extends");
    Some(result)
}

/// Parses a single scenario text (no `extends`, no file system): used by the fuzzer and tests.
pub fn parse_document_text(name: &str, text: &str, diags: &mut Diagnostics) -> Option<Document> {
    let mut doc = Document::default();
    let file = doc.files.add(PathBuf::from(name), text.to_string());
    let root = parse_toml(text, file, diags, &doc.files)?;
    doc.root = root;
    doc.chain.push(PathBuf::from(name));
    Some(doc)
}

/// Adds a text fragment (e.g. a sweep point's override) over a document.
pub fn overlay_text(doc: &mut Document, name: &str, text: &str, diags: &mut Diagnostics) -> bool {
    let file = doc.files.add(PathBuf::from(name), text.to_string());
    match parse_toml(text, file, diags, &doc.files) {
        Some(t) => {
            merge(&mut doc.root, t);
            true
        }
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Table {
        let mut d = Diagnostics::default();
        parse_document_text("t.toml", text, &mut d).expect("parses").root
    }

    #[test]
    fn line_and_column_are_one_based_in_characters() {
        let f = SourceFile::new("x".into(), "a = 1\n松江 = 2\nb = 3".into());
        assert_eq!(f.line_col(0), (1, 1));
        assert_eq!(f.line_col(6), (2, 1));
        // After the two CJK characters (3 bytes each) and a space.
        assert_eq!(f.line_col(6 + 6 + 1), (2, 4));
        assert_eq!(f.line_col(f.text.len()), (3, 6));
    }

    #[test]
    fn merge_overrides_exactly_what_it_names() {
        let mut base = parse("[a]\nx = 1\ny = { normal = { mean = 1, sd = 2 } }\n[b]\nz = 3");
        let over = parse("[a]\ny = { uniform = [0, 1] }\nw = 5");
        merge(&mut base, over);
        let a = base.get("a").unwrap().as_table().unwrap();
        assert!(matches!(a.get("x").unwrap().value, Value::Int(1)));
        let y = a.get("y").unwrap().as_table().unwrap();
        assert!(y.get("normal").is_none(), "a distribution is replaced whole");
        assert!(y.get("uniform").is_some());
        assert!(matches!(a.get("w").unwrap().value, Value::Int(5)));
        assert!(base.get("b").is_some());
    }

    #[test]
    fn factors_merge_by_name() {
        // Regression: a fragment naming one factor of a rate used to replace the whole rate,
        // silently dropping the other factors.
        let mut base = parse("[r]\nrate = { factors = { a = 0.5, b = { uniform = [0.1, 0.2] } } }");
        let over = parse("[r.rate.factors]\na = 0.4");
        merge(&mut base, over);
        let f = base.get("r").unwrap().as_table().unwrap().get("rate").unwrap().as_table().unwrap();
        let f = f.get("factors").unwrap().as_table().unwrap();
        assert!(matches!(f.get("a").unwrap().value, Value::Float(x) if x == 0.4));
        assert!(f.get("b").unwrap().as_table().unwrap().get("uniform").is_some(), "b is kept");
        // A number still replaces a product of factors whole.
        let mut base = parse("rate = { factors = { a = 0.5 } }");
        merge(&mut base, parse("rate = 0.9"));
        assert!(matches!(base.get("rate").unwrap().value, Value::Float(x) if x == 0.9));
    }

    #[test]
    fn duplicate_keys_are_named() {
        let mut d = Diagnostics::default();
        assert!(parse_document_text("t.toml", "[s]\nseed = 1\nseed = 2\n", &mut d).is_none());
        assert_eq!(d.items[0].line, Some(3));
        assert!(d.items[0].message.contains("duplicate key `seed`"), "{}", d.items[0].message);
    }

    #[test]
    fn a_missing_extends_file_is_reported_where_it_is_named() {
        let dir = std::env::temp_dir().join(format!("capsim-tree-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("over.toml");
        std::fs::write(&file, "# over\nextends = \"missing.toml\"\n").unwrap();
        let mut d = Diagnostics::default();
        assert!(load_document(&file, &[], &mut d).is_none());
        let e = &d.items[0];
        assert_eq!((e.path.as_str(), e.line, e.column), ("extends", Some(2), Some(11)));
        assert!(e.message.contains("missing.toml"), "{}", e.message);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_table_of_fields_with_a_value_key_merges_key_by_key() {
        let mut base = parse("[r]\nkind = \"fixed_min\"\nvalue = 1\nname = \"x\"");
        merge(&mut base, parse("[r]\nsource = \"s\""));
        let r = base.get("r").unwrap().as_table().unwrap();
        assert!(r.get("name").is_some() && r.get("value").is_some() && r.get("source").is_some());
        // So does an overlay of the `value` alone (which by its shape could be a variable).
        let mut base = parse("[r]\nkind = \"fixed_min\"\nvalue = 1\nname = \"x\"");
        merge(&mut base, parse("[r]\nvalue = { uniform = [1, 3] }"));
        let r = base.get("r").unwrap().as_table().unwrap();
        assert!(r.get("name").is_some() && r.get("kind").is_some());
        assert!(r.get("value").unwrap().as_table().unwrap().get("uniform").is_some());
        // A variable written as a table is still replaced whole.
        let mut base = parse("x = { value = 1, source = \"a\" }");
        merge(&mut base, parse("x = { normal = { mean = 1, sd = 1 } }"));
        assert!(base.get("x").unwrap().as_table().unwrap().get("value").is_none());
    }

    #[test]
    fn parse_errors_are_located() {
        let mut d = Diagnostics::default();
        assert!(parse_document_text("t.toml", "a = 1\nb = = 2\n", &mut d).is_none());
        let e = &d.items[0];
        assert_eq!(e.line, Some(2));
    }
}
