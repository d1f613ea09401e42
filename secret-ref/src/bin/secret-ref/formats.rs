//! The file formats `check` reads (JSON, TOML, YAML; kong.conf is read by the library's own
//! loader), each reduced to the references it holds: their field path, line and text.
//!
//! Literal values are dropped while the file is read, so no copy of a password outlives the
//! parser, and a parse error is reported from its position and the parser's description
//! only: parsers like `toml` and `serde-saphyr` quote the offending line, which may hold one.

use std::fmt;
use std::marker::PhantomData;

use serde::de::{
    self, Deserialize, DeserializeOwned, Deserializer, IgnoredAny, MapAccess, SeqAccess,
};

use super::meant_as_reference;

/// A string of the file that is, or looks like, a reference.
pub(crate) struct Found {
    /// Where in the document: `database.password`, `replicas[1].password`, `$` for the root.
    pub(crate) path: String,
    /// The line (from 1), when the format tells it.
    pub(crate) line: Option<usize>,
    /// The reference's text, as written; shown only through the scrubber.
    pub(crate) reference: String,
    /// Known wrong before any vault is asked (a reference YAML reads as a mapping).
    pub(crate) problem: Option<&'static str>,
}

/// A file that does not parse in its format: the parser's description and where, never the
/// text around it.
pub(crate) struct ParseError {
    pub(crate) message: String,
    pub(crate) line: Option<usize>,
    pub(crate) column: Option<usize>,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.line, self.column) {
            (Some(line), Some(column)) => write!(f, "line {line}, column {column}: ")?,
            (Some(line), None) => write!(f, "line {line}: ")?,
            _ => {}
        }
        f.write_str(&self.message)
    }
}

/// JSON: serde_json's messages are its fixed error codes (`expected value`, `EOF while
/// parsing a string`) followed by the position, which is taken apart here; they go through
/// [`unquote_source`] all the same.
pub(crate) fn json(text: &str) -> Result<Vec<Found>, ParseError> {
    let Tree(node, _): Tree<NoLines> = serde_json::from_str(text).map_err(|e| {
        let full = e.to_string();
        let suffix = format!(" at line {} column {}", e.line(), e.column());
        let message = unquote_source(full.strip_suffix(&suffix).unwrap_or(&full), text);
        ParseError {
            message,
            line: (e.line() > 0).then_some(e.line()),
            // serde_json counts the column of an empty line as 0.
            column: (e.line() > 0).then_some(e.column().max(1)),
        }
    })?;
    let mut found = Vec::new();
    node.collect(&mut String::new(), None, &mut found);
    Ok(found)
}

/// YAML: every document of the stream (`---`), with the line of each value. The error is
/// rendered without its source snippet, and its position comes from the error's location.
pub(crate) fn yaml(text: &str) -> Result<Vec<Found>, ParseError> {
    let options = serde_saphyr::options! { with_snippet: false };
    let documents: Vec<Spanned<Tree<YamlLines>>> =
        serde_saphyr::from_multiple_with_options(text, options).map_err(|e| {
            let e = e.without_snippet();
            let location = e.location().filter(|l| l.line() > 0);
            ParseError {
                message: unquote_source(&yaml_message(e), text),
                line: location.map(|l| l.line() as usize),
                column: location.map(|l| l.column() as usize),
            }
        })?;
    let mut found = Vec::new();
    for document in documents {
        let (line, node) = YamlLines::open(document);
        node.collect(&mut String::new(), line, &mut found);
    }
    Ok(found)
}

type Spanned<T> = serde_saphyr::Spanned<T>;

/// serde-saphyr's message for users (no hints about its API), without a snippet of the
/// source and without the position it appends (` at line 3, column 7`), which this tool
/// prints in its own words.
fn yaml_message(e: &serde_saphyr::Error) -> String {
    let text = e.render_with_options(serde_saphyr::render_options! {
        formatter: &serde_saphyr::UserMessageFormatter,
        snippets: serde_saphyr::SnippetMode::Off,
    });
    let text = text.lines().next().unwrap_or_default();
    match text.rfind(" at line ") {
        Some(at) => text[..at].to_owned(),
        None => text.to_owned(),
    }
}

/// A parser's message with every quoted fragment that is text of the file left out: the
/// parsers quote names and grammar (`expected '-' indicator`), but the odd message quotes
/// the input (`duplicate mapping key `x``), and the input may be a password. The position
/// says where to look instead.
fn unquote_source(message: &str, source: &str) -> String {
    let mut out = String::with_capacity(message.len());
    let mut rest = message;
    while let Some(open) = rest.find(['`', '\'', '"', '[']) {
        let delimiter = rest[open..].chars().next().unwrap_or('`');
        let close = if delimiter == '[' { ']' } else { delimiter };
        let after = &rest[open + 1..];
        // A quote that is never closed runs to the end of the message.
        let (inner, closed) = match after.find(close) {
            Some(len) => (&after[..len], true),
            None => (after, false),
        };
        out.push_str(&rest[..=open]);
        if inner.chars().count() > 1 && source.contains(inner) {
            out.push_str("...");
        } else {
            out.push_str(inner);
        }
        if !closed {
            return out;
        }
        out.push(close);
        rest = &after[inner.len() + 1..];
    }
    out.push_str(rest);
    out
}

/// TOML: the parser's own tree, whose spans give every value's line. The error's message is
/// the grammar's (`invalid basic string`, `duplicate key`); its `Display` would quote the line.
pub(crate) fn toml(text: &str) -> Result<Vec<Found>, ParseError> {
    let lines = LineIndex::new(text);
    let table = toml::de::DeTable::parse(text).map_err(|e| {
        let place = e.span().map(|span| lines.position(text, span.start));
        ParseError {
            message: unquote_source(e.message(), text),
            line: place.map(|(line, _)| line),
            column: place.map(|(_, column)| column),
        }
    })?;
    let mut found = Vec::new();
    let mut at = Vec::new();
    toml_table(table.get_ref(), &mut String::new(), &mut at);
    // The parser's tables are sorted by key; the report follows the file.
    at.sort_by_key(|(start, _)| *start);
    for (start, mut f) in at {
        f.line = Some(lines.position(text, start).0);
        found.push(f);
    }
    Ok(found)
}

fn toml_table(table: &toml::de::DeTable<'_>, path: &mut String, at: &mut Vec<(usize, Found)>) {
    for (key, value) in table {
        let len = path.len();
        if !path.is_empty() {
            path.push('.');
        }
        path.push_str(key.get_ref());
        toml_value(value, path, at);
        path.truncate(len);
    }
}

fn toml_value(
    value: &toml::Spanned<toml::de::DeValue<'_>>,
    path: &mut String,
    at: &mut Vec<(usize, Found)>,
) {
    use toml::de::DeValue;
    match value.get_ref() {
        DeValue::String(s) if meant_as_reference(s) => at.push((
            value.span().start,
            Found {
                path: path.clone(),
                line: None,
                reference: s.to_string(),
                problem: None,
            },
        )),
        DeValue::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                let len = path.len();
                path.push_str(&format!("[{i}]"));
                toml_value(item, path, at);
                path.truncate(len);
            }
        }
        DeValue::Table(table) => toml_table(table, path, at),
        _ => {}
    }
}

/// Byte offsets of line starts, for turning a span into a line and a column (both from 1;
/// the column in characters).
struct LineIndex(Vec<usize>);

impl LineIndex {
    fn new(text: &str) -> Self {
        let starts = std::iter::once(0)
            .chain(text.match_indices('\n').map(|(i, _)| i + 1))
            .collect();
        LineIndex(starts)
    }

    fn position(&self, text: &str, offset: usize) -> (usize, usize) {
        let offset = offset.min(text.len());
        let line = self.0.partition_point(|&start| start <= offset);
        let start = self.0[line - 1];
        let column = text
            .get(start..offset)
            .map_or(1, |before| before.chars().count() + 1);
        (line, column)
    }
}

/// How a format tells where a value is: a child is read as [`Lines::Child`] and opened into
/// its line (when known) and its node. YAML wraps each child in serde-saphyr's `Spanned`;
/// JSON tells no lines.
trait Lines: Sized {
    type Child: DeserializeOwned;
    /// YAML reads `password: {vault://env/x}` as a mapping of `vault://env/x` to null.
    const FLOW_MAPPING_REFERENCES: bool;
    fn open(child: Self::Child) -> (Option<usize>, Node);
}

struct NoLines;

impl Lines for NoLines {
    type Child = Tree<NoLines>;
    const FLOW_MAPPING_REFERENCES: bool = false;
    fn open(child: Self::Child) -> (Option<usize>, Node) {
        (None, child.0)
    }
}

struct YamlLines;

impl Lines for YamlLines {
    type Child = Spanned<Tree<YamlLines>>;
    const FLOW_MAPPING_REFERENCES: bool = true;
    fn open(child: Self::Child) -> (Option<usize>, Node) {
        let line = child.referenced.line();
        ((line > 0).then_some(line as usize), child.value.0)
    }
}

/// A document reduced to its references: every other scalar is dropped as it is read.
enum Node {
    Reference(String),
    /// `{vault://env/x}` unquoted in YAML: a mapping with that one key and no value.
    FlowMapping(String),
    Null,
    Seq(Vec<(Option<usize>, Node)>),
    Map(Vec<(String, Option<usize>, Node)>),
    Other,
}

impl Node {
    fn collect(self, path: &mut String, line: Option<usize>, found: &mut Vec<Found>) {
        let here = |path: &String| {
            if path.is_empty() {
                "$".to_owned()
            } else {
                path.clone()
            }
        };
        match self {
            Node::Reference(reference) => found.push(Found {
                path: here(path),
                line,
                reference,
                problem: None,
            }),
            Node::FlowMapping(reference) => found.push(Found {
                path: here(path),
                line,
                reference,
                problem: Some(
                    "YAML reads an unquoted {...} as a mapping, not as this reference: put \
                     it in quotes, as in password: \"{vault://env/pg-password}\"",
                ),
            }),
            Node::Seq(items) => {
                for (i, (line, item)) in items.into_iter().enumerate() {
                    let len = path.len();
                    path.push_str(&format!("[{i}]"));
                    item.collect(path, line, found);
                    path.truncate(len);
                }
            }
            Node::Map(entries) => {
                for (key, line, value) in entries {
                    let len = path.len();
                    if !path.is_empty() {
                        path.push('.');
                    }
                    path.push_str(&key);
                    value.collect(path, line, found);
                    path.truncate(len);
                }
            }
            Node::Null | Node::Other => {}
        }
    }
}

/// A [`Node`] read from a format whose lines `L` tells.
struct Tree<L>(Node, PhantomData<L>);

impl<'de, L: Lines> Deserialize<'de> for Tree<L> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let node = deserializer.deserialize_any(NodeVisitor::<L>(PhantomData))?;
        Ok(Tree(node, PhantomData))
    }
}

struct NodeVisitor<L>(PhantomData<L>);

impl<'de, L: Lines> de::Visitor<'de> for NodeVisitor<L> {
    type Value = Node;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any value")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(if meant_as_reference(v) {
            Node::Reference(v.to_owned())
        } else {
            Node::Other
        })
    }

    fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
        Ok(Node::Other)
    }

    fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> {
        Ok(Node::Other)
    }

    fn visit_i128<E>(self, _: i128) -> Result<Self::Value, E> {
        Ok(Node::Other)
    }

    fn visit_u64<E>(self, _: u64) -> Result<Self::Value, E> {
        Ok(Node::Other)
    }

    fn visit_u128<E>(self, _: u128) -> Result<Self::Value, E> {
        Ok(Node::Other)
    }

    fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
        Ok(Node::Other)
    }

    fn visit_bytes<E>(self, _: &[u8]) -> Result<Self::Value, E> {
        Ok(Node::Other)
    }

    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(Node::Null)
    }

    fn visit_none<E>(self) -> Result<Self::Value, E> {
        Ok(Node::Null)
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        Tree::<L>::deserialize(d).map(|t| t.0)
    }

    fn visit_newtype_struct<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        Tree::<L>::deserialize(d).map(|t| t.0)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut items = Vec::new();
        while let Some(child) = seq.next_element::<L::Child>()? {
            items.push(L::open(child));
        }
        Ok(Node::Seq(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut entries = Vec::new();
        while let Some(key) = map.next_key::<Key>()? {
            let (line, value) = L::open(map.next_value::<L::Child>()?);
            entries.push((key.0, line, value));
        }
        if L::FLOW_MAPPING_REFERENCES
            && let [(key, _, Node::Null)] = entries.as_slice()
            && key
                .get(..6)
                .is_some_and(|v| v.eq_ignore_ascii_case("vault:"))
        {
            return Ok(Node::FlowMapping(format!("{{{key}}}")));
        }
        Ok(Node::Map(entries))
    }

    fn visit_enum<A: de::EnumAccess<'de>>(self, data: A) -> Result<Self::Value, A::Error> {
        // A tagged YAML value (`!Tag value`): the tag is not part of the path.
        use de::VariantAccess;
        let (IgnoredAny, variant) = data.variant::<IgnoredAny>()?;
        variant.newtype_variant::<Tree<L>>().map(|t| t.0)
    }
}

/// A mapping key as path text: YAML keys may be numbers, booleans or null, and a key that is
/// itself a collection is named by its kind. A key is never a secret's place, so it is kept.
struct Key(String);

impl<'de> Deserialize<'de> for Key {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(KeyVisitor)
    }
}

struct KeyVisitor;

impl<'de> de::Visitor<'de> for KeyVisitor {
    type Value = Key;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a mapping key")
    }

    fn visit_str<E>(self, v: &str) -> Result<Key, E> {
        Ok(Key(v.to_owned()))
    }

    fn visit_bool<E>(self, v: bool) -> Result<Key, E> {
        Ok(Key(v.to_string()))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Key, E> {
        Ok(Key(v.to_string()))
    }

    fn visit_i128<E>(self, v: i128) -> Result<Key, E> {
        Ok(Key(v.to_string()))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Key, E> {
        Ok(Key(v.to_string()))
    }

    fn visit_u128<E>(self, v: u128) -> Result<Key, E> {
        Ok(Key(v.to_string()))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Key, E> {
        Ok(Key(v.to_string()))
    }

    fn visit_unit<E>(self) -> Result<Key, E> {
        Ok(Key("null".into()))
    }

    fn visit_none<E>(self) -> Result<Key, E> {
        Ok(Key("null".into()))
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Key, D::Error> {
        Key::deserialize(d)
    }

    fn visit_newtype_struct<D: Deserializer<'de>>(self, d: D) -> Result<Key, D::Error> {
        Key::deserialize(d)
    }

    fn visit_bytes<E>(self, _: &[u8]) -> Result<Key, E> {
        Ok(Key("[bytes]".into()))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Key, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Key("[sequence]".into()))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Key, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(Key("[mapping]".into()))
    }

    fn visit_enum<A: de::EnumAccess<'de>>(self, data: A) -> Result<Key, A::Error> {
        use de::VariantAccess;
        let (IgnoredAny, variant) = data.variant::<IgnoredAny>()?;
        variant.newtype_variant::<Key>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoted_text_of_the_file_is_left_out_of_a_message() {
        let source = "c4n4ry-key: 1\nc4n4ry-key: 2\n";
        assert_eq!(
            unquote_source("duplicate mapping key `c4n4ry-key` is not allowed", source),
            "duplicate mapping key `...` is not allowed"
        );
        // Grammar is kept: one character, or text that is not in the file.
        assert_eq!(
            unquote_source("expected '-' indicator, or `a map`", source),
            "expected '-' indicator, or `a map`"
        );
        // A quote never closed runs to the end.
        assert_eq!(
            unquote_source("found \"c4n4ry-key: 2", source),
            "found \"..."
        );
        assert_eq!(unquote_source("found [c4n4ry", source), "found [...");
    }

    #[test]
    fn spans_become_lines_and_columns_in_characters() {
        let text = "a = 1\nbé = \"x\"\n\nlast";
        let lines = LineIndex::new(text);
        assert_eq!(lines.position(text, 0), (1, 1));
        assert_eq!(lines.position(text, 6), (2, 1));
        // `é` is two bytes, one column.
        assert_eq!(lines.position(text, text.find('=').unwrap()), (1, 3));
        assert_eq!(lines.position(text, text.find('"').unwrap()), (2, 6));
        assert_eq!(lines.position(text, text.find("last").unwrap()), (4, 1));
        // Past the end: the last line, not a panic.
        assert_eq!(lines.position(text, 10_000), (4, 5));
    }

    #[test]
    fn toml_references_come_in_the_files_order_with_their_lines() {
        let Ok(found) = toml("z = \"{vault://env/z}\"\na = [\"{vault://env/a}\"]\n") else {
            panic!("valid TOML");
        };
        let got: Vec<(&str, Option<usize>)> =
            found.iter().map(|f| (f.path.as_str(), f.line)).collect();
        assert_eq!(got, [("z", Some(1)), ("a[0]", Some(2))]);
    }
}
