//! The documentation stays true: the committed API reference is what the server generates,
//! every configuration key is in the operations guide, every table is in the ER diagram, every
//! page has its front matter, and every relative link points at a file that exists.
//! `SKILLMEAT_UPDATE_DOCS=1` rewrites the generated reference instead of comparing.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value};
use skillmeat_server::config::Settings;

use crate::helpers::TestApp;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Compares `generated` with the committed file, or rewrites it under SKILLMEAT_UPDATE_DOCS.
fn check_generated(relative: &str, generated: &str) {
    let path = root().join(relative);
    if std::env::var_os("SKILLMEAT_UPDATE_DOCS").is_some() {
        std::fs::write(&path, generated).unwrap();
        return;
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == generated,
        "{relative} differs from what the server generates; run \
         `SKILLMEAT_UPDATE_DOCS=1 cargo test -p skillmeat-server --test api docs::` and commit it"
    );
}

#[tokio::test]
async fn the_committed_api_reference_is_what_the_server_generates() {
    let app = TestApp::spawn().await;
    let spec: Value = serde_json::from_str(&app.get("/openapi.json").await.text).unwrap();
    check_generated(
        "docs/api/openapi.json",
        &(serde_json::to_string_pretty(&spec).unwrap() + "\n"),
    );
    check_generated("docs/api/reference.md", &reference(&spec));
}

/// The spec as Markdown: operations by tag, then the schemas.
fn reference(spec: &Value) -> String {
    let mut out = String::from(
        "---\ntitle: API reference\ndescription: Every operation, parameter, response and schema \
         of the REST API, generated from the server's /openapi.json.\n---\n\n# API reference\n\n\
         Generated from the server's `/openapi.json` by `tests/api/docs.rs`, which fails when \
         this page and the server disagree (`SKILLMEAT_UPDATE_DOCS=1 cargo test -p \
         skillmeat-server --test api docs::` regenerates it). The same spec is in \
         [openapi.json](openapi.json); [the guide](README.md) explains ids, paging and errors \
         with curl examples, and Swagger UI at `/docs` can call each operation.\n",
    );
    let empty = Map::new();
    let paths = spec["paths"].as_object().unwrap_or(&empty);
    let mut tags: Vec<String> = spec["tags"]
        .as_array()
        .map(|t| {
            t.iter()
                .filter_map(|t| t["name"].as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default();
    let tag_of = |op: &Value| op["tags"][0].as_str().unwrap_or("Other").to_string();
    for item in paths.values() {
        for op in item.as_object().unwrap_or(&empty).values() {
            let tag = tag_of(op);
            if !tags.contains(&tag) {
                tags.push(tag);
            }
        }
    }
    for tag in &tags {
        let _ = write!(out, "\n## {tag}\n");
        for (path, item) in paths {
            for (method, op) in item.as_object().unwrap_or(&empty) {
                if tag_of(op) != *tag {
                    continue;
                }
                operation(&mut out, &method.to_uppercase(), path, op);
            }
        }
    }
    out.push_str("\n## Schemas\n");
    for (name, schema) in spec["components"]["schemas"].as_object().unwrap_or(&empty) {
        let _ = write!(out, "\n### {name}\n\n");
        if let Some(d) = schema["description"].as_str() {
            let _ = write!(out, "{}\n\n", one_line(d));
        }
        if let Some(values) = schema["enum"].as_array() {
            let values: Vec<String> = values.iter().map(|v| format!("`{}`", plain(v))).collect();
            let _ = writeln!(out, "One of {}.", values.join(", "));
            continue;
        }
        let Some(props) = schema["properties"].as_object() else {
            let _ = writeln!(out, "Type: {}.", type_of(schema));
            continue;
        };
        let required: Vec<&str> = schema["required"]
            .as_array()
            .map(|r| r.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        out.push_str("| field | type | required | description |\n|---|---|---|---|\n");
        for (field, prop) in props {
            let _ = writeln!(
                out,
                "| `{field}` | {} | {} | {} |",
                type_of(prop),
                if required.contains(&field.as_str()) {
                    "yes"
                } else {
                    "no"
                },
                cell(prop["description"].as_str().unwrap_or(""))
            );
        }
    }
    out
}

fn operation(out: &mut String, method: &str, path: &str, op: &Value) {
    let _ = write!(out, "\n### `{method} {path}`\n\n");
    if let Some(s) = op["summary"].as_str() {
        let _ = write!(out, "{}\n\n", one_line(s));
    }
    if let Some(d) = op["description"].as_str() {
        let _ = write!(out, "{}\n\n", d.trim());
    }
    if let Some(params) = op["parameters"].as_array().filter(|p| !p.is_empty()) {
        out.push_str("| parameter | in | type | required | description |\n|---|---|---|---|---|\n");
        for p in params {
            let _ = writeln!(
                out,
                "| `{}` | {} | {} | {} | {} |",
                plain(&p["name"]),
                plain(&p["in"]),
                type_of(&p["schema"]),
                if p["required"] == Value::Bool(true) {
                    "yes"
                } else {
                    "no"
                },
                cell(p["description"].as_str().unwrap_or(""))
            );
        }
        out.push('\n');
    }
    if let Some(content) = op["requestBody"]["content"].as_object() {
        for (media, body) in content {
            let _ = write!(
                out,
                "Body ({media}{}): {}\n\n",
                if op["requestBody"]["required"] == Value::Bool(true) {
                    ", required"
                } else {
                    ""
                },
                type_of(&body["schema"])
            );
        }
    }
    if let Some(responses) = op["responses"].as_object() {
        out.push_str("| status | meaning | body |\n|---|---|---|\n");
        for (status, r) in responses {
            let body = r["content"]
                .as_object()
                .map(|c| {
                    c.iter()
                        .map(|(media, b)| format!("{} ({media})", type_of(&b["schema"])))
                        .collect::<Vec<_>>()
                        .join(", ")
                })
                .unwrap_or_default();
            let _ = writeln!(
                out,
                "| {status} | {} | {body} |",
                cell(r["description"].as_str().unwrap_or(""))
            );
        }
    }
}

/// A schema's type for people: a schema name, `[item]`, `string (date-time)`, `a | b`.
fn type_of(schema: &Value) -> String {
    if let Some(r) = schema["$ref"].as_str() {
        let name = r.rsplit('/').next().unwrap_or(r);
        return format!("[{name}](#{})", name.to_lowercase());
    }
    for key in ["allOf", "oneOf", "anyOf"] {
        if let Some(list) = schema[key].as_array() {
            // poem-openapi wraps a described reference as allOf [ref, {description}]: keep the ref.
            let parts: Vec<String> = list
                .iter()
                .filter(|s| {
                    s.get("$ref").is_some() || s.get("type").is_some() || s.get("enum").is_some()
                })
                .map(type_of)
                .collect();
            return parts.join(if key == "allOf" { " & " } else { " \\| " });
        }
    }
    if let Some(values) = schema["enum"].as_array() {
        let values: Vec<String> = values.iter().map(|v| format!("`{}`", plain(v))).collect();
        return values.join(" \\| ");
    }
    let base = match schema["type"].as_str() {
        Some("array") => format!("[{}]", type_of(&schema["items"])),
        Some("object") if schema["additionalProperties"].is_object() => {
            format!("map of {}", type_of(&schema["additionalProperties"]))
        }
        Some(t) => t.to_string(),
        None => "any".to_string(),
    };
    match schema["format"].as_str() {
        Some(f) => format!("{base} ({f})"),
        None => base,
    }
}

fn plain(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Text safe inside a Markdown table cell.
fn cell(s: &str) -> String {
    one_line(s).replace('|', "\\|")
}

/// Every leaf key of the settings, dotted (`cache.ttl_secs`).
fn keys(value: &Value, prefix: &str, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                let key = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                keys(v, &key, out);
            }
        }
        _ => out.push(prefix.to_string()),
    }
}

#[test]
fn the_default_file_is_what_the_key_definitions_say() {
    check_generated(
        "config/default.toml",
        &skillmeat_server::config::keys::default_toml(),
    );
}

#[test]
fn every_configuration_key_is_in_the_operations_guide_and_the_default_file() {
    let operations = std::fs::read_to_string(root().join("docs/operations.md")).unwrap();
    let default_file = std::fs::read_to_string(root().join("config/default.toml")).unwrap();
    let mut all = Vec::new();
    keys(
        &serde_json::to_value(Settings::default()).unwrap(),
        "",
        &mut all,
    );
    assert!(all.len() > 15, "{all:?}");
    for key in &all {
        let env = format!("SKILLMEAT_{}", key.to_uppercase().replace('.', "__"));
        assert!(
            operations.contains(&format!("| `{key}` | `{env}`")),
            "docs/operations.md has no row for {key} ({env})"
        );
        let leaf = key.rsplit('.').next().unwrap();
        assert!(
            default_file.contains(&format!("{leaf} =")),
            "config/default.toml does not mention {key}"
        );
    }
}

#[test]
fn every_table_is_in_the_er_diagram() {
    let architecture =
        std::fs::read_to_string(root().join("docs/development/architecture.md")).unwrap();
    let mut tables = 0;
    for entry in std::fs::read_dir(root().join("entity/src")).unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().to_string();
        let Some(table) = name.strip_suffix(".rs") else {
            continue;
        };
        if table == "lib" || table == "prelude" {
            continue;
        }
        tables += 1;
        assert!(
            architecture.contains(&format!("    {table} {{")),
            "the ER diagram in docs/development/architecture.md lacks {table}"
        );
    }
    assert!(tables >= 10);
}

fn markdown_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            markdown_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "md") {
            out.push(path);
        }
    }
}

#[test]
fn every_page_has_front_matter_and_every_relative_link_resolves() {
    let mut pages = Vec::new();
    markdown_files(&root().join("docs"), &mut pages);
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    for page in &pages {
        let text = std::fs::read_to_string(page).unwrap();
        let relative = page.strip_prefix(root()).unwrap().display().to_string();
        let front = text
            .strip_prefix("---\n")
            .and_then(|rest| rest.split_once("\n---\n"))
            .map(|(front, _)| front)
            .unwrap_or_else(|| panic!("{relative} has no front matter"));
        assert!(
            front.lines().any(|l| l.starts_with("title: ")),
            "{relative}: no title"
        );
        assert!(
            front.lines().any(|l| l.starts_with("description: ")),
            "{relative}: no description"
        );
        assert!(
            readme.contains(&format!("]({relative})")),
            "README.md does not link {relative}"
        );
    }
    pages.push(root().join("README.md"));
    for page in &pages {
        let text = std::fs::read_to_string(page).unwrap();
        for target in link_targets(&text) {
            if target.contains("://") || target.starts_with('#') || target.starts_with("mailto:") {
                continue;
            }
            let file = target.split('#').next().unwrap();
            let resolved = page.parent().unwrap().join(file);
            assert!(
                resolved.exists(),
                "{} links to {target}, which does not exist",
                page.display()
            );
        }
    }
}

/// The targets of Markdown links and images: `](target)`.
fn link_targets(text: &str) -> Vec<String> {
    text.match_indices("](")
        .filter_map(|(i, _)| {
            let rest = &text[i + 2..];
            rest.find(')').map(|end| rest[..end].to_string())
        })
        .filter(|t| !t.is_empty() && !t.contains(' '))
        .collect()
}

#[test]
fn every_test_the_security_page_names_exists() {
    let text = std::fs::read_to_string(root().join("docs/security.md")).unwrap();
    let mut named = 0;
    for part in text.split('`') {
        let Some((module, function)) = part.split_once("::") else {
            continue;
        };
        let is_name = |s: &str| {
            !s.is_empty()
                && s.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        };
        if !is_name(module) || !is_name(function) || module == "module" {
            continue;
        }
        let source = std::fs::read_to_string(root().join(format!("tests/api/{module}.rs")))
            .unwrap_or_else(|_| {
                panic!("docs/security.md names {part}, but tests/api/{module}.rs does not exist")
            });
        assert!(
            source.contains(&format!("fn {function}(")),
            "docs/security.md names {part}, which does not exist"
        );
        named += 1;
    }
    assert!(named > 20, "only {named} tests named");
}
