//! Property tests (proptest) of the parsers that read files people and tools write: front
//! matter, `collection.toml` (artifacts and `[[groups]]`), artifact ids and relative paths.
//! Whatever the input, they return a value or an error; they never panic. And groups written
//! into a manifest read back as written, with the rest of the file kept.

use proptest::prelude::*;
use skillmeat_server::collections::manifest_groups::{
    ManifestGroup, read_manifest_groups, rewrite_manifest_groups,
};
use skillmeat_server::source::ArtifactId;
use skillmeat_server::source::filesystem::safe_relative;
use skillmeat_server::source::frontmatter::parse_document;
use skillmeat_server::source::manifest::read_manifest;

/// Text shaped like front matter: fences, keys, YAML punctuation, lists, quotes, BOMs, CRLF.
fn front_matter_like() -> impl Strategy<Value = String> {
    let line = prop_oneof![
        Just("---".to_string()),
        "[a-z_]{1,12}: [^\n]{0,40}",
        "  - [^\n]{0,20}",
        "[\\[\\]{}:'\"#&*!|>%@` -]{0,20}",
        "\u{feff}?[^\n]{0,60}",
    ];
    proptest::collection::vec(line, 0..24)
        .prop_map(|lines| lines.join(if lines.len() % 2 == 0 { "\n" } else { "\r\n" }))
}

/// Text shaped like a collection manifest.
fn manifest_like() -> impl Strategy<Value = String> {
    let line = prop_oneof![
        Just("[collection]".to_string()),
        Just("[[artifacts]]".to_string()),
        Just("[[groups]]".to_string()),
        "(name|type|path|origin|added|members|position|color) = [^\n]{0,30}",
        "[a-z]{1,8} = \\[[^\n]{0,30}\\]",
        "[^\n]{0,40}",
    ];
    proptest::collection::vec(line, 0..30).prop_map(|lines| lines.join("\n"))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn front_matter_never_panics(text in front_matter_like(), bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
        let _ = parse_document(text.as_bytes());
        let _ = parse_document(&bytes);
    }

    #[test]
    fn a_manifest_never_panics(text in manifest_like()) {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("collection.toml");
        std::fs::write(&file, &text).unwrap();
        let _ = read_manifest(&file);
        let _ = read_manifest_groups(&file);
    }

    #[test]
    fn ids_and_relative_paths_never_panic(raw in "[^\u{0}]{0,40}|[a-z]{1,8}:[^\n]{0,30}") {
        if let Ok(id) = ArtifactId::parse(&raw) {
            // What parses prints as something that parses to the same id.
            prop_assert_eq!(ArtifactId::parse(&id.to_string()).unwrap(), id);
        }
        if let Some(path) = safe_relative(&raw) {
            prop_assert!(path.is_relative());
            prop_assert!(!path.components().any(|c| matches!(c, std::path::Component::ParentDir)));
        }
    }

    #[test]
    fn groups_written_into_a_manifest_read_back_and_keep_the_rest(
        names in proptest::collection::vec("[^\u{0}\n]{1,20}", 0..5),
        members in proptest::collection::vec("(skill|command|agent):[a-z0-9-]{1,12}", 0..6),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("collection.toml");
        let head = "# kept\n[collection]\nname = \"default\"\n\n[[artifacts]]\nname = \"a\"\ntype = \"skill\"\n";
        std::fs::write(&file, head).unwrap();
        let groups: Vec<ManifestGroup> = names
            .iter()
            .enumerate()
            .map(|(i, name)| ManifestGroup {
                name: name.clone(),
                description: None,
                color: None,
                icon: None,
                position: Some(i as i64),
                members: members.clone(),
            })
            .collect();
        rewrite_manifest_groups(&file, &groups).unwrap();
        let back = read_manifest_groups(&file);
        prop_assert_eq!(back.len(), groups.len());
        for (written, read) in groups.iter().zip(&back) {
            prop_assert_eq!(&written.name, &read.name);
            prop_assert_eq!(&written.members, &read.members);
        }
        let text = std::fs::read_to_string(&file).unwrap();
        prop_assert!(text.starts_with(head), "{}", text);
    }
}
