//! Front matter and description parsing, as SkillMeat does it (spec section 3.4), minus its bugs.
//!
//! A document may start with a UTF-8 BOM and use CRLF line ends. Front matter is a YAML block
//! between `---` lines at the very top. When the YAML is malformed, a line-by-line `key: value`
//! salvage runs instead, so one stray bracket does not lose the description. Without a
//! description, the first non-heading body line (cut to 200 characters) stands in.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// Longest fallback description taken from the body, in characters (SkillMeat's limit).
const FALLBACK_DESCRIPTION_CHARS: usize = 200;

/// Tool names Claude Code knows; front matter spellings are matched case- and dash-insensitively.
const KNOWN_TOOLS: &[&str] = &[
    "Bash",
    "BashOutput",
    "Edit",
    "ExitPlanMode",
    "Glob",
    "Grep",
    "KillShell",
    "LS",
    "MultiEdit",
    "NotebookEdit",
    "NotebookRead",
    "Read",
    "SlashCommand",
    "Skill",
    "Task",
    "TodoRead",
    "TodoWrite",
    "WebFetch",
    "WebSearch",
    "Write",
];

/// Metadata of an artifact, from its front matter and body.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ArtifactMetadata {
    /// `title`.
    pub title: Option<String>,
    /// `description`, or the first body line when absent.
    pub description: Option<String>,
    /// `author`.
    pub author: Option<String>,
    /// `license`.
    pub license: Option<String>,
    /// `version` (numbers are kept as written, e.g. `1.0`).
    pub version: Option<String>,
    /// `tags`, as given.
    pub tags: Vec<String>,
    /// `dependencies`.
    pub dependencies: Vec<String>,
    /// `tools` / `allowed-tools` / `allowedTools`, normalised to Claude Code's names.
    pub tools: Vec<String>,
    /// Tool entries that are not known tool names (e.g. `Bash(git status:*)`), kept verbatim.
    pub unknown_tools: Vec<String>,
    /// Every other front matter key.
    pub extra: Map<String, Value>,
}

/// The result of parsing one Markdown document.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ParsedDocument {
    /// Extracted metadata.
    pub metadata: ArtifactMetadata,
    /// The whole front matter as parsed (salvaged keys when the YAML was malformed).
    pub frontmatter: Map<String, Value>,
    /// Set when the YAML was malformed and the salvage ran: the parser's message.
    pub frontmatter_error: Option<String>,
}

/// Parses a Markdown document's front matter and description.
pub fn parse_document(bytes: &[u8]) -> ParsedDocument {
    let text = String::from_utf8_lossy(bytes);
    let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
    let text = text.replace("\r\n", "\n");
    let (yaml, body) = split_front_matter(&text);

    let mut doc = ParsedDocument::default();
    let mut salvaged = false;
    if let Some(yaml) = yaml {
        match serde_yaml_ng::from_str::<serde_yaml_ng::Value>(yaml) {
            Ok(serde_yaml_ng::Value::Mapping(map)) => {
                for (k, v) in map {
                    doc.frontmatter.insert(yaml_key(&k), yaml_to_json(v));
                }
            }
            Ok(serde_yaml_ng::Value::Null) => {}
            Ok(_) => {
                doc.frontmatter_error = Some("front matter is not a key/value mapping".into());
                doc.frontmatter = salvage(yaml);
                salvaged = true;
            }
            Err(err) => {
                doc.frontmatter_error = Some(err.to_string());
                doc.frontmatter = salvage(yaml);
                salvaged = true;
            }
        }
    }
    doc.metadata = extract_metadata(&doc.frontmatter, salvaged);
    let has_description = doc
        .metadata
        .description
        .as_deref()
        .is_some_and(|d| !d.trim().is_empty());
    if !has_description {
        doc.metadata.description = first_body_line(body);
    }
    doc
}

/// Splits `---` front matter from the body; `None` when the document has none.
fn split_front_matter(text: &str) -> (Option<&str>, &str) {
    let Some(rest) = text.strip_prefix("---\n") else {
        return (None, text);
    };
    let mut offset = 0;
    for line in rest.split_inclusive('\n') {
        if line.trim_end() == "---" {
            let yaml = &rest[..offset];
            let body = &rest[offset + line.len()..];
            return (Some(yaml), body);
        }
        offset += line.len();
    }
    (None, text)
}

/// SkillMeat's fallback parser: `key: value` per line, value = everything after the first colon.
fn salvage(yaml: &str) -> Map<String, Value> {
    let mut map = Map::new();
    for line in yaml.lines() {
        if line.starts_with([' ', '\t', '#', '-']) {
            continue;
        }
        let Some((key, value)) = line.split_once(':') else {
            continue;
        };
        let key = key.trim();
        if key.is_empty() {
            continue;
        }
        let value = value.trim();
        let value = strip_matching_quotes(value);
        map.insert(key.to_string(), Value::String(value.to_string()));
    }
    map
}

fn strip_matching_quotes(s: &str) -> &str {
    for q in ['"', '\''] {
        if s.len() >= 2 && s.starts_with(q) && s.ends_with(q) {
            return &s[1..s.len() - 1];
        }
    }
    s
}

fn extract_metadata(fm: &Map<String, Value>, salvaged: bool) -> ArtifactMetadata {
    let mut meta = ArtifactMetadata::default();
    let mut raw_tools: Option<Vec<String>> = None;
    for (key, value) in fm {
        match key.as_str() {
            "title" => meta.title = scalar_string(value),
            "description" => meta.description = scalar_string(value),
            "author" => meta.author = scalar_string(value),
            "license" => meta.license = scalar_string(value),
            "version" => meta.version = scalar_string(value),
            "tags" | "dependencies" => match string_list(value, salvaged) {
                Some(list) if key == "tags" => meta.tags = list,
                Some(list) => meta.dependencies = list,
                None => {
                    meta.extra.insert(key.clone(), value.clone());
                }
            },
            "tools" | "allowed-tools" | "allowedTools" => match string_list(value, salvaged) {
                Some(list) => raw_tools = Some(list),
                None => {
                    meta.extra.insert(key.clone(), value.clone());
                }
            },
            _ => {
                meta.extra.insert(key.clone(), value.clone());
            }
        }
    }
    if let Some(raw) = raw_tools {
        for tool in raw {
            match normalise_tool(&tool) {
                Some(name) if !meta.tools.iter().any(|t| t == name) => meta.tools.push(name.into()),
                Some(_) => {}
                None => meta.unknown_tools.push(tool),
            }
        }
    }
    meta
}

/// Maps a front matter tool spelling (`bash`, `web-fetch`, `Read`) to Claude Code's name.
pub fn normalise_tool(raw: &str) -> Option<&'static str> {
    let key: String = raw
        .chars()
        .filter(|c| !matches!(c, '-' | '_' | ' '))
        .flat_map(char::to_lowercase)
        .collect();
    KNOWN_TOOLS
        .iter()
        .copied()
        .find(|name| name.to_lowercase() == key)
}

fn scalar_string(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// A YAML list of scalars, or a comma-separated string. In salvage mode a string that looks like
/// broken flow syntax (`[a, b`) is not a list.
fn string_list(value: &Value, salvaged: bool) -> Option<Vec<String>> {
    match value {
        Value::Array(items) => Some(items.iter().filter_map(scalar_string).collect()),
        Value::String(s) if salvaged && s.starts_with(['[', '{']) => None,
        Value::String(s) => Some(
            s.split(',')
                .map(str::trim)
                .filter(|t| !t.is_empty())
                .map(String::from)
                .collect(),
        ),
        Value::Null => Some(Vec::new()),
        _ => None,
    }
}

/// The first body line that is neither blank, a Markdown heading nor a `---` rule, cut to 200
/// characters.
fn first_body_line(body: &str) -> Option<String> {
    body.lines()
        .map(str::trim)
        .find(|l| !l.is_empty() && !l.starts_with('#') && *l != "---")
        .map(|l| l.chars().take(FALLBACK_DESCRIPTION_CHARS).collect())
}

fn yaml_key(key: &serde_yaml_ng::Value) -> String {
    match key {
        serde_yaml_ng::Value::String(s) => s.clone(),
        other => serde_yaml_ng::to_string(other)
            .map(|s| s.trim_end().to_string())
            .unwrap_or_default(),
    }
}

fn yaml_to_json(value: serde_yaml_ng::Value) -> Value {
    use serde_yaml_ng::Value as Y;
    match value {
        Y::Null => Value::Null,
        Y::Bool(b) => Value::Bool(b),
        Y::Number(n) => {
            if let Some(i) = n.as_i64() {
                Value::from(i)
            } else if let Some(u) = n.as_u64() {
                Value::from(u)
            } else {
                n.as_f64()
                    .and_then(serde_json::Number::from_f64)
                    .map(Value::Number)
                    .unwrap_or_else(|| Value::String(n.to_string()))
            }
        }
        Y::String(s) => Value::String(s),
        Y::Sequence(items) => Value::Array(items.into_iter().map(yaml_to_json).collect()),
        Y::Mapping(map) => Value::Object(
            map.into_iter()
                .map(|(k, v)| (yaml_key(&k), yaml_to_json(v)))
                .collect(),
        ),
        Y::Tagged(tagged) => yaml_to_json(tagged.value),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_bom_and_crlf_front_matter() {
        let doc = parse_document(
            b"\xEF\xBB\xBF---\r\ndescription: Hi there\r\ntags: [a, b]\r\n---\r\nBody\r\n",
        );
        assert_eq!(doc.metadata.description.as_deref(), Some("Hi there"));
        assert_eq!(doc.metadata.tags, vec!["a", "b"]);
        assert!(doc.frontmatter_error.is_none());
    }

    #[test]
    fn salvages_malformed_yaml_line_by_line() {
        let doc =
            parse_document(b"---\nname: x\ndescription: Broken: yes\ntags: [alpha, beta\n---\n");
        assert!(doc.frontmatter_error.is_some());
        assert_eq!(doc.metadata.description.as_deref(), Some("Broken: yes"));
        assert!(doc.metadata.tags.is_empty());
        assert_eq!(
            doc.metadata.extra["tags"],
            Value::String("[alpha, beta".into())
        );
    }

    #[test]
    fn falls_back_to_first_body_line_cut_to_200_chars() {
        let long = "x".repeat(300);
        let text = format!("# Title\n\n{long}\nsecond line\n");
        let doc = parse_document(text.as_bytes());
        assert_eq!(doc.metadata.description.unwrap().chars().count(), 200);
    }

    #[test]
    fn normalises_tools_and_keeps_unknown_ones() {
        let doc = parse_document(b"---\nallowed-tools: Read, bash, web-fetch, Bash(git:*)\n---\n");
        assert_eq!(doc.metadata.tools, vec!["Read", "Bash", "WebFetch"]);
        assert_eq!(doc.metadata.unknown_tools, vec!["Bash(git:*)"]);
    }

    #[test]
    fn keeps_block_scalar_newlines_and_numbers_as_text() {
        let doc = parse_document(b"---\ndescription: |\n  one\n  two\nversion: 1.0\n---\n");
        assert_eq!(doc.metadata.description.as_deref(), Some("one\ntwo\n"));
        assert_eq!(doc.metadata.version.as_deref(), Some("1.0"));
    }

    #[test]
    fn unclosed_front_matter_is_body() {
        let doc = parse_document(b"---\ndescription: never closed\n");
        assert_eq!(
            doc.metadata.description.as_deref(),
            Some("description: never closed")
        );
    }
}
