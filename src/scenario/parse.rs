//! The scenario parser.
//!
//! Two stages. First `toml_edit` (its public span API) reads the text into a small tree
//! ([`Node`]) in which every key and value keeps its byte span; that stage reports
//! syntax errors.
//! Then [`Reader`] walks the tree against the format: every table has a fixed list of
//! known keys (unknown keys are errors, as serde's `deny_unknown_fields` would make
//! them, but here the error can name the field path and the line), every value is
//! checked for type and range, and cross references (channel labels in steps) are
//! resolved. A hand-written walk rather than derived structs because derived
//! deserialisation loses spans inside tagged enums and cannot name the field path in its
//! errors, and clear one-line errors are the point of this module.
//!
//! Nothing here indexes, unwraps or does unchecked arithmetic on user data.

use super::{
    Action, ActionSpec, ChannelSpec, GuardSpec, IceSpec, NetworkSpec, Payload, Reliability,
    Scenario, ScenarioError, Step, ACTIONS, FORMAT_VERSION, MAX_MS, MAX_PAYLOAD_SIZE,
    MAX_SEND_COUNT,
};
use crate::model::ProfileName;
use crate::trace::{Millis, PeerId, Via};
use std::collections::{HashMap, HashSet};
use std::ops::Range;

type Result<T> = std::result::Result<T, ScenarioError>;

// ---------------------------------------------------------------------------------------
// Stage 1: TOML text to a spanned tree.
// ---------------------------------------------------------------------------------------

/// Byte range in the source, when the `toml` crate reports one.
type Span = Option<Range<usize>>;

/// A value with its span.
#[derive(Debug)]
struct Sp<T> {
    span: Span,
    value: T,
}

/// A TOML value, like `toml::Value` but with spans on every key and value.
#[derive(Debug)]
enum Node {
    Str(String),
    Int(i64),
    Float(f64),
    Bool(bool),
    Datetime(String),
    Array(Vec<Sp<Node>>),
    /// Entries in document order.
    Table(Vec<(Sp<String>, Sp<Node>)>),
}

impl Node {
    /// "a string", "an integer", ... for "expected X, found Y" messages.
    fn kind(&self) -> &'static str {
        match self {
            Node::Str(_) => "a string",
            Node::Int(_) => "an integer",
            Node::Float(_) => "a float",
            Node::Bool(_) => "a boolean",
            Node::Datetime(_) => "a date-time",
            Node::Array(_) => "an array",
            Node::Table(_) => "a table",
        }
    }
}

/// The tree of a document `toml_edit` parsed (its public, span-keeping API:
/// `ImDocument` keeps the byte span of every key and value).
fn document_node(doc: &toml_edit::ImDocument<&str>) -> Node {
    table_node(doc.as_table()).value
}

fn item_node(item: &toml_edit::Item) -> Sp<Node> {
    match item {
        toml_edit::Item::Value(value) => value_node(value),
        toml_edit::Item::Table(table) => table_node(table),
        toml_edit::Item::ArrayOfTables(tables) => Sp {
            span: tables.span(),
            value: Node::Array(tables.iter().map(table_node).collect()),
        },
        toml_edit::Item::None => Sp {
            span: None,
            value: Node::Table(Vec::new()),
        },
    }
}

fn table_node(table: &toml_edit::Table) -> Sp<Node> {
    let entries = table
        .iter()
        .map(|(key, item)| {
            let span = table.key(key).and_then(toml_edit::Key::span);
            let key = Sp {
                span,
                value: key.to_owned(),
            };
            (key, item_node(item))
        })
        .collect();
    Sp {
        span: table.span(),
        value: Node::Table(entries),
    }
}

fn value_node(value: &toml_edit::Value) -> Sp<Node> {
    use toml_edit::Value as V;
    let node = match value {
        V::String(s) => Node::Str(s.value().clone()),
        V::Integer(i) => Node::Int(*i.value()),
        V::Float(f) => Node::Float(*f.value()),
        V::Boolean(b) => Node::Bool(*b.value()),
        V::Datetime(d) => Node::Datetime(d.value().to_string()),
        V::Array(items) => Node::Array(items.iter().map(value_node).collect()),
        V::InlineTable(table) => Node::Table(
            table
                .iter()
                .map(|(key, v)| {
                    let span = table.key(key).and_then(toml_edit::Key::span);
                    let key = Sp {
                        span,
                        value: key.to_owned(),
                    };
                    (key, value_node(v))
                })
                .collect(),
        ),
    };
    Sp {
        span: value.span(),
        value: node,
    }
}

// ---------------------------------------------------------------------------------------
// Entry points.
// ---------------------------------------------------------------------------------------

/// 1-based line of a byte offset (offsets past the end count as the last line).
fn line_at(bytes: &[u8], offset: usize) -> usize {
    let upto = bytes.get(..offset).unwrap_or(bytes);
    upto.iter().filter(|b| **b == b'\n').count() + 1
}

pub(crate) fn parse_bytes(source: &str, bytes: &[u8]) -> Result<Scenario> {
    match std::str::from_utf8(bytes) {
        Ok(text) => parse_str(source, text),
        Err(err) => {
            let at = err.valid_up_to();
            let byte = bytes
                .get(at)
                .map(|b| format!(" (byte 0x{b:02x})"))
                .unwrap_or_default();
            Err(ScenarioError::new(
                source,
                Some(line_at(bytes, at)),
                "",
                format!(
                    "not a text file: invalid UTF-8 at byte offset {at}{byte}; \
                     a scenario is a UTF-8 TOML file"
                ),
            ))
        }
    }
}

pub(crate) fn parse_str(source: &str, text: &str) -> Result<Scenario> {
    let text_no_bom = text.strip_prefix('\u{feff}').unwrap_or(text);
    if text_no_bom.trim().is_empty() {
        return Err(ScenarioError::new(
            source,
            None,
            "",
            "empty file: a scenario needs at least `version = 1`, `name = \"...\"` and \
             [[step]] tables",
        ));
    }
    if let Some(at) = text.find('\0') {
        return Err(ScenarioError::new(
            source,
            Some(line_at(text.as_bytes(), at)),
            "",
            format!("not a text file: NUL byte at byte offset {at}; a scenario is a TOML file"),
        ));
    }
    let root: Node = match toml_edit::ImDocument::parse(text) {
        Ok(doc) => document_node(&doc),
        Err(err) => {
            let line = err.span().map(|span| line_at(text.as_bytes(), span.start));
            let message = err
                .message()
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .collect::<Vec<_>>()
                .join("; ");
            return Err(ScenarioError::new(
                source,
                line,
                "",
                format!("not valid TOML: {message}"),
            ));
        }
    };
    let reader = Reader { source, text };
    reader.scenario(root)
}

// ---------------------------------------------------------------------------------------
// Stage 2: the tree to a Scenario.
// ---------------------------------------------------------------------------------------

const TOP_KEYS: &[&str] = &[
    "version",
    "name",
    "description",
    "profile",
    "seed",
    "duration_ms",
    "network",
    "ice",
    "guard",
    "channel",
    "step",
];
const NETWORK_KEYS: &[&str] = &["latency_ms", "loss", "relay_ms"];
const ICE_KEYS: &[&str] = &[
    "disconnected_timeout_ms",
    "failed_timeout_ms",
    "keepalive_interval_ms",
];
const GUARD_KEYS: &[&str] = &[
    "max_queue_messages",
    "max_queue_bytes",
    "ttl_ms",
    "hold_while_disconnected",
    "queue_while_connecting",
];
const CHANNEL_KEYS: &[&str] = &[
    "label",
    "negotiated",
    "id",
    "ordered",
    "max_retransmits",
    "max_packet_life_time_ms",
    "create_at_start",
];
/// Every key any step may have, in [`ACTIONS`] order; which ones an action takes is
/// [`action_keys`].
fn step_keys() -> Vec<&'static str> {
    let mut keys = vec!["at_ms", "action"];
    for key in ACTIONS.iter().flat_map(|a| a.keys.iter()) {
        if !keys.contains(key) {
            keys.push(key);
        }
    }
    keys
}

/// The keys a step with this action may have.
fn action_keys(action: &str) -> Vec<&'static str> {
    let own = ActionSpec::named(action).map_or(&[][..], |a| a.keys);
    ["at_ms", "action"]
        .into_iter()
        .chain(own.iter().copied())
        .collect()
}

/// Levenshtein distance, for "did you mean" hints (inputs are short: keys and names).
fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = Vec::with_capacity(b.len() + 1);
        cur.push(i + 1);
        for (j, cb) in b.iter().enumerate() {
            let substitute =
                prev.get(j).copied().unwrap_or(usize::MAX - 1) + usize::from(ca != *cb);
            let delete = prev.get(j + 1).copied().unwrap_or(usize::MAX - 1) + 1;
            let insert = cur.last().copied().unwrap_or(usize::MAX - 1) + 1;
            cur.push(substitute.min(delete).min(insert));
        }
        prev = cur;
    }
    prev.last().copied().unwrap_or(0)
}

/// The candidate closest to `word` if it is close enough to be a likely typo.
pub(crate) fn closest<'c>(
    word: &str,
    candidates: impl IntoIterator<Item = &'c str>,
) -> Option<&'c str> {
    let len = word.chars().count();
    if len == 0 || len > 64 {
        return None;
    }
    // A typo (edit distance at most 2) or a shortened name ("latency" for "latency_ms").
    candidates
        .into_iter()
        .filter_map(|c| {
            if c.len() > 4 * 64 {
                return None;
            }
            let d = distance(word, c);
            let shortened = len >= 3 && c.starts_with(word);
            (d <= 2 && d < len || shortened).then_some((d, c))
        })
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// " did you mean \"x\"?" or nothing.
fn did_you_mean<'c>(word: &str, candidates: impl IntoIterator<Item = &'c str>) -> String {
    closest(word, candidates)
        .map(|c| format!("did you mean {:?}? ", short(c)))
        .unwrap_or_default()
}

/// User text shown in a message, cut to 48 characters so that a pathological input
/// cannot make a pathological message (print it with `{:?}`).
fn short(text: &str) -> std::borrow::Cow<'_, str> {
    const MAX: usize = 48;
    match text.char_indices().nth(MAX) {
        Some((cut, _)) => format!("{}...", text.get(..cut).unwrap_or("")).into(),
        None => text.into(),
    }
}

/// A key as written in a field path: bare when TOML allows it, quoted otherwise.
fn path_key(key: &str) -> String {
    let bare = !key.is_empty()
        && key.len() <= 48
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if bare {
        key.to_owned()
    } else {
        format!("{:?}", short(key))
    }
}

fn join(parent: &str, key: &str) -> String {
    if parent.is_empty() {
        path_key(key)
    } else {
        format!("{parent}.{}", path_key(key))
    }
}

/// The declared channels, in file order, with an index by label (files may be large;
/// nothing here is quadratic in their size).
struct Declared {
    specs: Vec<ChannelSpec>,
    /// Label to (position in `specs`, span of the label).
    by_label: HashMap<String, (usize, Span)>,
}

impl Declared {
    fn find(&self, label: &str) -> Option<&ChannelSpec> {
        self.by_label
            .get(label)
            .and_then(|(i, _)| self.specs.get(*i))
    }
}

/// Reads the spanned tree; knows the source for error messages.
struct Reader<'s> {
    source: &'s str,
    text: &'s str,
}

/// A table being read, with its field path and the span errors about it point at.
struct Table<'t> {
    path: String,
    span: Span,
    entries: &'t [(Sp<String>, Sp<Node>)],
}

/// A value found under a key.
struct Field<'t> {
    path: String,
    span: Span,
    node: &'t Node,
}

impl<'t> Table<'t> {
    fn get(&self, key: &str) -> Option<Field<'t>> {
        self.entries
            .iter()
            .find(|(k, _)| k.value == key)
            .map(|(k, v)| Field {
                path: join(&self.path, key),
                span: v.span.clone().or_else(|| k.span.clone()),
                node: &v.value,
            })
    }

    /// The path of a key of this table, for errors about keys that are missing.
    fn key_path(&self, key: &str) -> String {
        join(&self.path, key)
    }
}

impl<'s> Reader<'s> {
    fn err(
        &self,
        span: &Span,
        field: impl Into<String>,
        message: impl Into<String>,
    ) -> ScenarioError {
        let line = span
            .as_ref()
            .map(|span| line_at(self.text.as_bytes(), span.start));
        ScenarioError::new(self.source, line, field, message)
    }

    fn table<'t>(&self, path: String, node: &'t Sp<Node>) -> Result<Table<'t>> {
        match &node.value {
            Node::Table(entries) => Ok(Table {
                path,
                span: node.span.clone(),
                entries,
            }),
            other => Err(self.err(
                &node.span,
                path,
                format!("expected a table, found {}", other.kind()),
            )),
        }
    }

    /// Rejects the first key (in file order) that is not in `known`.
    fn known_keys(&self, table: &Table<'_>, known: &[&str], what: &str) -> Result<()> {
        for (key, _) in table.entries {
            if !known.contains(&key.value.as_str()) {
                return Err(self.err(
                    &key.span,
                    table.key_path(&key.value),
                    format!(
                        "unknown key {:?} in {what} ({}expected one of {})",
                        short(&key.value),
                        did_you_mean(&key.value, known.iter().copied()),
                        known.join(", ")
                    ),
                ));
            }
        }
        Ok(())
    }

    fn missing(&self, table: &Table<'_>, key: &str, hint: &str) -> ScenarioError {
        self.err(
            &table.span,
            table.key_path(key),
            format!("missing required key ({hint})"),
        )
    }

    fn wrong_type(&self, field: &Field<'_>, expected: &str) -> ScenarioError {
        let found = match field.node {
            Node::Str(s) if s.chars().count() <= 40 => format!("the string {s:?}"),
            Node::Int(i) => format!("the integer {i}"),
            Node::Float(x) => format!("the float {x}"),
            Node::Bool(b) => format!("the boolean {b}"),
            Node::Datetime(d) => format!("the date-time {d}"),
            other => other.kind().to_owned(),
        };
        self.err(
            &field.span,
            field.path.clone(),
            format!("expected {expected}, found {found}"),
        )
    }

    fn string<'t>(&self, field: &Field<'t>) -> Result<&'t str> {
        match field.node {
            Node::Str(s) => Ok(s),
            _ => Err(self.wrong_type(field, "a string")),
        }
    }

    fn boolean(&self, field: &Field<'_>) -> Result<bool> {
        match field.node {
            Node::Bool(b) => Ok(*b),
            _ => Err(self.wrong_type(field, "true or false")),
        }
    }

    /// A non-negative integer no larger than `max`; `unit` describes it in messages.
    fn integer(&self, field: &Field<'_>, max: u64, unit: &str) -> Result<u64> {
        match field.node {
            Node::Int(i) if *i < 0 => Err(self.err(
                &field.span,
                field.path.clone(),
                format!("must not be negative, found {i} (expected {unit})"),
            )),
            Node::Int(i) => {
                let v = u64::try_from(*i).unwrap_or(u64::MAX);
                if v > max {
                    Err(self.err(
                        &field.span,
                        field.path.clone(),
                        format!("{v} is too large (at most {max})"),
                    ))
                } else {
                    Ok(v)
                }
            }
            _ => Err(self.wrong_type(field, unit)),
        }
    }

    fn millis(&self, field: &Field<'_>) -> Result<Millis> {
        self.integer(field, MAX_MS, "milliseconds, 0 to 86400000")
    }

    fn usize(&self, field: &Field<'_>, max: usize, unit: &str) -> Result<usize> {
        let max64 = u64::try_from(max).unwrap_or(u64::MAX);
        let v = self.integer(field, max64, unit)?;
        usize::try_from(v)
            .map_err(|_| self.err(&field.span, field.path.clone(), format!("{v} is too large")))
    }

    /// A probability in 0..=1 (integers 0 and 1 are accepted too).
    fn probability(&self, field: &Field<'_>) -> Result<f64> {
        let value = match field.node {
            Node::Float(x) => *x,
            Node::Int(i @ (0 | 1)) => *i as f64,
            Node::Int(i) => {
                return Err(self.err(
                    &field.span,
                    field.path.clone(),
                    format!("must be between 0 and 1, found {i}"),
                ))
            }
            _ => return Err(self.wrong_type(field, "a probability between 0.0 and 1.0")),
        };
        if (0.0..=1.0).contains(&value) {
            Ok(value)
        } else {
            Err(self.err(
                &field.span,
                field.path.clone(),
                format!("must be between 0 and 1, found {value}"),
            ))
        }
    }

    fn peer(&self, field: &Field<'_>) -> Result<PeerId> {
        let text = self.string(field)?;
        PeerId::BOTH
            .into_iter()
            .find(|p| p.as_str() == text)
            .ok_or_else(|| {
                self.err(
                    &field.span,
                    field.path.clone(),
                    format!(
                        "unknown peer {:?} (expected \"a\", the offerer, or \"b\", the answerer)",
                        short(text)
                    ),
                )
            })
    }

    fn via(&self, field: &Field<'_>) -> Result<Via> {
        let text = self.string(field)?;
        [Via::Raw, Via::Guarded]
            .into_iter()
            .find(|v| v.as_str() == text)
            .ok_or_else(|| {
                self.err(
                    &field.span,
                    field.path.clone(),
                    format!(
                        "unknown via {:?} (expected \"raw\" or \"guarded\")",
                        short(text)
                    ),
                )
            })
    }

    fn opt<'t, T>(
        &self,
        table: &Table<'t>,
        key: &str,
        read: impl FnOnce(&Field<'t>) -> Result<T>,
    ) -> Result<Option<T>> {
        table.get(key).map(|field| read(&field)).transpose()
    }

    fn scenario(&self, root: Node) -> Result<Scenario> {
        let root = Sp {
            span: Some(0..0),
            value: root,
        };
        let top = self.table(String::new(), &root)?;

        // The version first: a file for another version may use keys this one lacks.
        let version = top.get("version").ok_or_else(|| {
            self.missing(
                &top,
                "version",
                "this format needs `version = 1` at the top",
            )
        })?;
        match version.node {
            Node::Int(FORMAT_VERSION) => {}
            Node::Int(other) => {
                return Err(self.err(
                    &version.span,
                    version.path,
                    format!(
                        "unsupported version {other} (this dcsim reads version {FORMAT_VERSION})"
                    ),
                ))
            }
            _ => return Err(self.wrong_type(&version, "the integer 1")),
        }
        self.known_keys(&top, TOP_KEYS, "the scenario")?;

        let name_field = top
            .get("name")
            .ok_or_else(|| self.missing(&top, "name", "e.g. name = \"my-scenario\""))?;
        let name = self.string(&name_field)?;
        if name.trim().is_empty() {
            return Err(self.err(&name_field.span, name_field.path, "must not be empty"));
        }
        let description = self
            .opt(&top, "description", |f| self.string(f))?
            .unwrap_or_default();
        let profile = self.opt(&top, "profile", |f| {
            let text = self.string(f)?;
            ProfileName::parse(text).ok_or_else(|| {
                self.err(
                    &f.span,
                    f.path.clone(),
                    format!(
                        "unknown profile {:?} (expected \"webrtc-rs\" or \"w3c\")",
                        short(text)
                    ),
                )
            })
        })?;
        let seed = self.opt(&top, "seed", |f| {
            self.integer(f, u64::MAX, "a non-negative integer")
        })?;
        let duration_field = top.get("duration_ms");
        let duration_ms = match &duration_field {
            Some(f) => {
                let d = self.millis(f)?;
                if d == 0 {
                    return Err(self.err(&f.span, f.path.clone(), "must be greater than 0"));
                }
                d
            }
            None => 60_000,
        };

        let network = self.network(&top)?;
        let ice = self.ice(&top)?;
        let guard = self.guard(&top)?;
        let channels = self.channels(&top)?;
        let steps = self.steps(&top, &channels, duration_ms)?;

        Ok(Scenario {
            name: name.to_owned(),
            description: description.to_owned(),
            profile,
            seed,
            duration_ms,
            network,
            ice,
            guard,
            channels: channels.specs,
            steps,
        })
    }

    /// The sub-table under `key`, if present.
    fn sub_table<'t>(
        &self,
        top: &Table<'t>,
        key: &str,
        known: &[&str],
    ) -> Result<Option<Table<'t>>> {
        let Some((_, node)) = top.entries.iter().find(|(k, _)| k.value == key) else {
            return Ok(None);
        };
        let table = self.table(top.key_path(key), node)?;
        self.known_keys(&table, known, &format!("[{key}]"))?;
        Ok(Some(table))
    }

    fn network(&self, top: &Table<'_>) -> Result<NetworkSpec> {
        let mut spec = NetworkSpec::default();
        if let Some(t) = self.sub_table(top, "network", NETWORK_KEYS)? {
            if let Some(v) = self.opt(&t, "latency_ms", |f| self.millis(f))? {
                spec.latency_ms = v;
            }
            if let Some(v) = self.opt(&t, "loss", |f| self.probability(f))? {
                spec.loss = v;
            }
            if let Some(v) = self.opt(&t, "relay_ms", |f| self.millis(f))? {
                spec.relay_ms = v;
            }
        }
        Ok(spec)
    }

    fn ice(&self, top: &Table<'_>) -> Result<IceSpec> {
        let mut spec = IceSpec::default();
        if let Some(t) = self.sub_table(top, "ice", ICE_KEYS)? {
            spec.disconnected_timeout_ms =
                self.opt(&t, "disconnected_timeout_ms", |f| self.millis(f))?;
            spec.failed_timeout_ms = self.opt(&t, "failed_timeout_ms", |f| self.millis(f))?;
            spec.keepalive_interval_ms =
                self.opt(&t, "keepalive_interval_ms", |f| self.millis(f))?;
        }
        Ok(spec)
    }

    fn guard(&self, top: &Table<'_>) -> Result<GuardSpec> {
        let mut spec = GuardSpec::default();
        if let Some(t) = self.sub_table(top, "guard", GUARD_KEYS)? {
            let count = "a non-negative integer";
            spec.max_queue_messages = self.opt(&t, "max_queue_messages", |f| {
                self.usize(f, usize::MAX, count)
            })?;
            spec.max_queue_bytes =
                self.opt(&t, "max_queue_bytes", |f| self.usize(f, usize::MAX, count))?;
            spec.ttl_ms = self.opt(&t, "ttl_ms", |f| self.millis(f))?;
            spec.hold_while_disconnected =
                self.opt(&t, "hold_while_disconnected", |f| self.boolean(f))?;
            spec.queue_while_connecting =
                self.opt(&t, "queue_while_connecting", |f| self.boolean(f))?;
        }
        Ok(spec)
    }

    /// The elements of an array of tables (`[[key]]`), empty when absent.
    fn array_of_tables<'t>(&self, top: &Table<'t>, key: &str) -> Result<Vec<Table<'t>>> {
        let Some(field) = top.get(key) else {
            return Ok(Vec::new());
        };
        let Node::Array(items) = field.node else {
            return Err(self.wrong_type(&field, &format!("an array of tables ([[{key}]])")));
        };
        items
            .iter()
            .enumerate()
            .map(|(i, item)| self.table(format!("{}[{i}]", field.path), item))
            .collect()
    }

    /// The declared channels.
    fn channels(&self, top: &Table<'_>) -> Result<Declared> {
        let mut channels = Declared {
            specs: Vec::new(),
            by_label: HashMap::new(),
        };
        let mut ids: HashMap<u16, String> = HashMap::new();
        for t in self.array_of_tables(top, "channel")? {
            self.known_keys(&t, CHANNEL_KEYS, "a [[channel]]")?;
            let label_field = t
                .get("label")
                .ok_or_else(|| self.missing(&t, "label", "e.g. label = \"chat\""))?;
            let label = self.string(&label_field)?;
            if label.is_empty() {
                return Err(self.err(&label_field.span, label_field.path, "must not be empty"));
            }
            if label.len() > usize::from(u16::MAX) {
                return Err(self.err(
                    &label_field.span,
                    label_field.path,
                    "longer than 65535 bytes, the most a label may have",
                ));
            }
            if let Some((_, first)) = channels.by_label.get(label) {
                let first_line = first
                    .as_ref()
                    .map(|s| {
                        format!(
                            " (first declared on line {})",
                            line_at(self.text.as_bytes(), s.start)
                        )
                    })
                    .unwrap_or_default();
                return Err(self.err(
                    &label_field.span,
                    label_field.path,
                    format!("duplicate channel label {:?}{first_line}; steps name channels by label, so labels must be unique", short(label)),
                ));
            }
            let negotiated_field = t.get("negotiated");
            let negotiated = match &negotiated_field {
                Some(f) => self.boolean(f)?,
                None => false,
            };
            let id_field = t.get("id");
            let id =
                match &id_field {
                    Some(f) => {
                        let id = self.integer(f, 65534, "an SCTP stream id, 0 to 65534")?;
                        Some(u16::try_from(id).map_err(|_| {
                            self.err(&f.span, f.path.clone(), "must be at most 65534")
                        })?)
                    }
                    None => None,
                };
            match (&negotiated_field, &id_field, negotiated, id) {
                (Some(nf), None, true, _) => {
                    return Err(self.err(
                        &nf.span,
                        t.key_path("id"),
                        "negotiated = true needs an id (the SCTP stream id both peers create \
                         the channel with), e.g. id = 0",
                    ))
                }
                (_, Some(idf), false, _) => {
                    return Err(self.err(
                        &idf.span,
                        idf.path.clone(),
                        "id is only allowed with negotiated = true (an in-band channel gets its \
                         id when SCTP comes up)",
                    ))
                }
                (_, Some(idf), true, Some(id)) => {
                    if let Some(other) = ids.get(&id) {
                        return Err(self.err(
                            &idf.span,
                            idf.path.clone(),
                            format!("id {id} is already used by channel {:?}", short(other)),
                        ));
                    }
                    ids.insert(id, label.to_owned());
                }
                _ => {}
            }
            let ordered = self
                .opt(&t, "ordered", |f| self.boolean(f))?
                .unwrap_or(true);
            let tries = |f: &Field<'_>, unit: &str| -> Result<u16> {
                let n = self.integer(f, u64::from(u16::MAX), unit)?;
                Ok(u16::try_from(n).unwrap_or(u16::MAX))
            };
            let retransmits = self.opt(&t, "max_retransmits", |f| {
                tries(f, "a number of retransmissions, 0 to 65535")
            })?;
            let life_time = self.opt(&t, "max_packet_life_time_ms", |f| {
                tries(f, "a time in ms, 0 to 65535")
            })?;
            let reliability = match (retransmits, life_time) {
                (None, None) => Reliability::Reliable,
                (Some(n), None) => Reliability::MaxRetransmits(n),
                (None, Some(ms)) => Reliability::MaxPacketLifeTime(ms),
                (Some(_), Some(_)) => {
                    let f = t.get("max_packet_life_time_ms");
                    let (span, path) = f
                        .map(|f| (f.span.clone(), f.path.clone()))
                        .unwrap_or_else(|| (label_field.span.clone(), label_field.path.clone()));
                    return Err(self.err(
                        &span,
                        path,
                        "max_retransmits and max_packet_life_time_ms cannot both be set                          (a channel is abandoned by count or by age, not both)",
                    ));
                }
            };
            let create_at_start = self
                .opt(&t, "create_at_start", |f| self.boolean(f))?
                .unwrap_or(true);
            channels.by_label.insert(
                label.to_owned(),
                (channels.specs.len(), label_field.span.clone()),
            );
            channels.specs.push(ChannelSpec {
                label: label.to_owned(),
                negotiated,
                id,
                ordered,
                reliability,
                create_at_start,
            });
        }
        Ok(channels)
    }

    fn steps(
        &self,
        top: &Table<'_>,
        channels: &Declared,
        duration_ms: Millis,
    ) -> Result<Vec<Step>> {
        let mut steps = Vec::new();
        let mut connect_seen = false;
        // (peer or None for "any peer", label) of create_channel steps so far.
        let mut created: HashSet<(Option<PeerId>, String)> = HashSet::new();
        // Messages of all send steps so far, against MAX_SEND_COUNT.
        let mut messages: u64 = 0;
        for t in self.array_of_tables(top, "step")? {
            let step = self.step(&t, channels, duration_ms)?;
            match &step.action {
                Action::Send { count, .. } => {
                    messages = messages.saturating_add(u64::from(*count));
                    if messages > u64::from(MAX_SEND_COUNT) {
                        let span = t.get("count").map(|f| f.span).unwrap_or(t.span.clone());
                        return Err(self.err(
                            &span,
                            t.key_path("count"),
                            format!(
                                "the scenario would send more than {MAX_SEND_COUNT} messages \
                                 in all"
                            ),
                        ));
                    }
                }
                Action::Connect => {
                    if connect_seen {
                        let f = t.get("action");
                        return Err(self.err(
                            &f.map(|f| f.span).unwrap_or_else(|| t.span.clone()),
                            t.key_path("action"),
                            "connect may appear only once (renegotiation is not modelled; \
                             use ice_restart)",
                        ));
                    }
                    connect_seen = true;
                }
                Action::CreateChannel { peer, channel } => {
                    let negotiated = channels.find(channel).is_some_and(|c| c.negotiated);
                    // In-band: one creator in all; negotiated: once per peer.
                    let key = (negotiated.then_some(*peer), channel.clone());
                    if !created.insert(key) {
                        let f = t.get("channel");
                        let why = if negotiated {
                            format!(
                                "peer {peer} already creates negotiated channel {:?}",
                                short(channel)
                            )
                        } else {
                            format!(
                                "in-band channel {:?} is already created by an earlier \
                                 step (the other peer learns of it through DCEP)",
                                short(channel)
                            )
                        };
                        return Err(self.err(
                            &f.map(|f| f.span).unwrap_or_else(|| t.span.clone()),
                            t.key_path("channel"),
                            why,
                        ));
                    }
                }
                _ => {}
            }
            steps.push(step);
        }
        // Stable: same time keeps file order.
        steps.sort_by_key(|s: &Step| s.at_ms);
        Ok(steps)
    }

    fn step(&self, t: &Table<'_>, channels: &Declared, duration_ms: Millis) -> Result<Step> {
        let line = t
            .span
            .as_ref()
            .map(|s| line_at(self.text.as_bytes(), s.start))
            .unwrap_or(1);

        let action_field = t.get("action").ok_or_else(|| {
            self.missing(t, "action", &format!("one of {}", Action::NAMES.join(", ")))
        })?;
        let action_name = self.string(&action_field)?;
        if !Action::NAMES.contains(&action_name) {
            return Err(self.err(
                &action_field.span,
                action_field.path,
                format!(
                    "unknown action {:?} ({}expected one of {})",
                    short(action_name),
                    did_you_mean(action_name, Action::NAMES),
                    Action::NAMES.join(", ")
                ),
            ));
        }
        self.known_keys(t, &step_keys(), "a [[step]]")?;
        let allowed = action_keys(action_name);
        for (key, _) in t.entries {
            if !allowed.contains(&key.value.as_str()) {
                return Err(self.err(
                    &key.span,
                    t.key_path(&key.value),
                    format!(
                        "action {action_name:?} takes no {:?} (its keys: {})",
                        short(&key.value),
                        allowed.join(", ")
                    ),
                ));
            }
        }

        let at_field = t.get("at_ms").ok_or_else(|| {
            self.missing(
                t,
                "at_ms",
                "the step's time in milliseconds, e.g. at_ms = 0",
            )
        })?;
        let at_ms = self.millis(&at_field)?;
        if at_ms > duration_ms {
            return Err(self.err(
                &at_field.span,
                at_field.path,
                format!(
                    "{at_ms} is after duration_ms = {duration_ms}, so the step would never run"
                ),
            ));
        }

        let peer = |default: Option<PeerId>| -> Result<PeerId> {
            match (t.get("peer"), default) {
                (Some(f), _) => self.peer(&f),
                (None, Some(p)) => Ok(p),
                (None, None) => Err(self.missing(
                    t,
                    "peer",
                    &format!("{action_name} needs peer = \"a\" or \"b\""),
                )),
            }
        };
        let channel = || -> Result<String> {
            let f = t.get("channel").ok_or_else(|| {
                self.missing(
                    t,
                    "channel",
                    &format!("{action_name} needs channel = \"<label of a [[channel]]>\""),
                )
            })?;
            let label = self.string(&f)?;
            if let Some(spec) = channels.find(label) {
                if action_name == "create_channel" && spec.create_at_start {
                    return Err(self.err(
                        &f.span,
                        f.path.clone(),
                        format!(
                            "channel {:?} is created at the start already; declare it \
                             with create_at_start = false to create it with a step",
                            short(label)
                        ),
                    ));
                }
                return Ok(label.to_owned());
            }
            let declared: Vec<String> = channels
                .specs
                .iter()
                .take(10)
                .map(|c| format!("{:?}", short(&c.label)))
                .collect();
            let more = if channels.specs.len() > declared.len() {
                ", ..."
            } else {
                ""
            };
            let known = if declared.is_empty() {
                "no [[channel]] is declared".to_owned()
            } else {
                format!("declared: {}{more}", declared.join(", "))
            };
            Err(self.err(
                &f.span,
                f.path.clone(),
                format!(
                    "unknown channel {:?} ({}{known})",
                    short(label),
                    did_you_mean(label, channels.specs.iter().map(|c| c.label.as_str()))
                ),
            ))
        };

        let a = Some(PeerId::A);
        let action = match action_name {
            "connect" => Action::Connect,
            "send" => self.send(t, peer(a)?, channel()?, at_ms, duration_ms)?,
            "create_channel" => Action::CreateChannel {
                peer: peer(a)?,
                channel: channel()?,
            },
            "close_channel" => Action::CloseChannel {
                peer: peer(a)?,
                channel: channel()?,
            },
            "close_peer" => Action::ClosePeer { peer: peer(a)? },
            "ice_restart" => Action::IceRestart { peer: peer(a)? },
            "partition" => Action::Partition,
            "heal" => Action::Heal,
            "hold" => Action::Hold,
            "release" => Action::Release,
            "loss" => {
                let f = t
                    .get("value")
                    .ok_or_else(|| self.missing(t, "value", "loss needs value = <0.0 to 1.0>"))?;
                Action::Loss {
                    value: self.probability(&f)?,
                }
            }
            "latency" => {
                let f = t
                    .get("ms")
                    .ok_or_else(|| self.missing(t, "ms", "latency needs ms = <one-way latency>"))?;
                Action::Latency {
                    ms: self.millis(&f)?,
                }
            }
            "crash" => Action::Crash { peer: peer(None)? },
            // Unreachable: the name was checked against Action::NAMES above.
            other => {
                return Err(self.err(
                    &action_field.span,
                    action_field.path,
                    format!("unknown action {:?}", short(other)),
                ))
            }
        };
        Ok(Step {
            at_ms,
            line,
            action,
        })
    }

    fn send(
        &self,
        t: &Table<'_>,
        peer: PeerId,
        channel: String,
        at_ms: Millis,
        duration_ms: Millis,
    ) -> Result<Action> {
        let via = self.opt(t, "via", |f| self.via(f))?.unwrap_or(Via::Raw);
        let payload = match (t.get("data"), t.get("size")) {
            (Some(_), Some(size)) => {
                return Err(self.err(
                    &size.span,
                    t.key_path("size"),
                    "give either data or size, not both",
                ))
            }
            (Some(data), None) => Payload::Text(self.string(&data)?.to_owned()),
            (None, Some(size)) => Payload::Size(self.usize(
                &size,
                MAX_PAYLOAD_SIZE,
                "a size in bytes, at most 16777216",
            )?),
            (None, None) => {
                return Err(self.missing(
                    t,
                    "data",
                    "send needs data = \"<text>\" or size = <bytes>",
                ))
            }
        };
        let count = match t.get("count") {
            Some(f) => {
                let c = self.integer(
                    &f,
                    u64::from(MAX_SEND_COUNT),
                    "a number of messages, 1 to 1000000",
                )?;
                if c == 0 {
                    return Err(self.err(&f.span, f.path.clone(), "must be at least 1"));
                }
                u32::try_from(c).unwrap_or(MAX_SEND_COUNT)
            }
            None => 1,
        };
        let interval_field = t.get("interval_ms");
        let interval_ms = match &interval_field {
            Some(f) => self.millis(f)?,
            None => 0,
        };
        let last = u64::from(count.saturating_sub(1))
            .checked_mul(interval_ms)
            .and_then(|d| d.checked_add(at_ms));
        match last {
            Some(last) if last <= duration_ms => {}
            _ => {
                let span = interval_field
                    .as_ref()
                    .map(|f| f.span.clone())
                    .unwrap_or_else(|| t.span.clone());
                return Err(self.err(
                    &span,
                    t.key_path("interval_ms"),
                    format!(
                        "the last of the {count} messages would be sent after duration_ms = \
                         {duration_ms}"
                    ),
                ));
            }
        }
        Ok(Action::Send {
            peer,
            channel,
            via,
            payload,
            count,
            interval_ms,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_reach_keys_values_and_step_headers() {
        let text = "version = 1\nname = \"x\"\n\n[[step]]\nat_ms = 0\naction = \"connect\"\n";
        let doc = toml_edit::ImDocument::parse(text).expect("valid");
        let root = document_node(&doc);
        let Node::Table(entries) = root else {
            panic!("root is a table")
        };
        let (key, value) = entries
            .iter()
            .find(|(k, _)| k.value == "name")
            .expect("name");
        assert_eq!(
            key.span.as_ref().map(|s| line_at(text.as_bytes(), s.start)),
            Some(2)
        );
        assert_eq!(
            value
                .span
                .as_ref()
                .map(|s| line_at(text.as_bytes(), s.start)),
            Some(2)
        );
        let (_, steps) = entries
            .iter()
            .find(|(k, _)| k.value == "step")
            .expect("step");
        let Node::Array(items) = &steps.value else {
            panic!("array")
        };
        let header = items.first().and_then(|i| i.span.clone()).expect("span");
        assert_eq!(line_at(text.as_bytes(), header.start), 4);
    }

    #[test]
    fn datetimes_are_values_not_errors() {
        let doc = toml_edit::ImDocument::parse("when = 1979-05-27T07:32:00Z").expect("valid");
        let root = document_node(&doc);
        let Node::Table(entries) = root else {
            panic!("root is a table")
        };
        assert!(matches!(
            entries.first().map(|(_, v)| &v.value),
            Some(Node::Datetime(_))
        ));
    }

    #[test]
    fn distance_and_closest() {
        assert_eq!(distance("partion", "partition"), 2);
        assert_eq!(distance("", "abc"), 3);
        assert_eq!(closest("partion", Action::NAMES), Some("partition"));
        assert_eq!(closest("steps", TOP_KEYS.iter().copied()), Some("step"));
        assert_eq!(closest("zzzzzzzz", Action::NAMES), None);
        assert_eq!(
            closest("latency", NETWORK_KEYS.iter().copied()),
            Some("latency_ms")
        );
        assert_eq!(closest("a", ["abc"]), None);
    }

    #[test]
    fn path_keys_are_quoted_when_not_bare() {
        assert_eq!(join("", "a"), "a");
        assert_eq!(join("network", "loss"), "network.loss");
        assert_eq!(join("", "a b"), "\"a b\"");
    }
}
