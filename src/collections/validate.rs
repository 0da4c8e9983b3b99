//! Validation and normalisation of collection and group fields (spec section 1.2).

use super::OrgError;

/// Longest name, in characters.
pub const MAX_NAME_CHARS: usize = 255;
/// Most tags on one group.
pub const MAX_TAGS: usize = 20;
/// Longest tag.
pub const MAX_TAG_CHARS: usize = 32;
/// Longest icon name.
pub const MAX_ICON_CHARS: usize = 32;
/// Colour tokens besides `#rrggbb`.
pub const COLOR_TOKENS: [&str; 5] = ["slate", "blue", "green", "amber", "rose"];

/// A trimmed name of 1..=255 characters; `what` names the field in the error.
pub fn name(raw: &str, what: &str) -> Result<String, OrgError> {
    let trimmed = raw.trim();
    if trimmed.is_empty() {
        return Err(OrgError::Invalid(format!("{what} name must not be blank")));
    }
    if trimmed.chars().count() > MAX_NAME_CHARS {
        return Err(OrgError::Invalid(format!(
            "{what} name must be between 1 and {MAX_NAME_CHARS} characters"
        )));
    }
    if trimmed.chars().any(char::is_control) {
        return Err(OrgError::Invalid(format!(
            "{what} name must not contain control characters"
        )));
    }
    Ok(trimmed.to_string())
}

/// The case-insensitive key of a collection name.
pub fn name_key(name: &str) -> String {
    name.to_lowercase()
}

/// Tags trimmed, lower-cased, de-duplicated (first wins), empty ones dropped; each must match
/// `^[a-z0-9_-]{1,32}$`, at most 20.
pub fn tags(raw: &[String]) -> Result<Vec<String>, OrgError> {
    let mut out: Vec<String> = Vec::new();
    for tag in raw {
        let tag = tag.trim().to_lowercase();
        if tag.is_empty() || out.contains(&tag) {
            continue;
        }
        let valid = tag.chars().count() <= MAX_TAG_CHARS
            && tag
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-');
        if !valid {
            return Err(OrgError::Invalid(format!(
                "tag '{}' must be 1 to {MAX_TAG_CHARS} characters of a-z, 0-9, '_' or '-'",
                crate::source::printable(&tag)
            )));
        }
        out.push(tag);
    }
    if out.len() > MAX_TAGS {
        return Err(OrgError::Invalid(format!(
            "at most {MAX_TAGS} tags are allowed"
        )));
    }
    Ok(out)
}

/// A colour token (`slate`, `blue`, `green`, `amber`, `rose`) or hex (`#rgb`, `#rrggbb`,
/// `#rrggbbaa`), returned lower-cased as a token or `#rrggbb`.
pub fn color(raw: &str) -> Result<String, OrgError> {
    let c = raw.trim().to_lowercase();
    if COLOR_TOKENS.contains(&c.as_str()) {
        return Ok(c);
    }
    if let Some(hex) = c.strip_prefix('#')
        && hex.chars().all(|ch| ch.is_ascii_hexdigit())
    {
        match hex.len() {
            3 => {
                return Ok(format!(
                    "#{}",
                    hex.chars().flat_map(|ch| [ch, ch]).collect::<String>()
                ));
            }
            6 => return Ok(c),
            8 => return Ok(format!("#{}", &hex[..6])),
            _ => {}
        }
    }
    Err(OrgError::Invalid(format!(
        "color '{}' must be one of slate, blue, green, amber, rose, or #rgb / #rrggbb / #rrggbbaa",
        crate::source::printable(raw)
    )))
}

/// A non-empty icon name of at most 32 characters, trimmed, case kept.
pub fn icon(raw: &str) -> Result<String, OrgError> {
    let icon = raw.trim();
    if icon.is_empty() || icon.chars().count() > MAX_ICON_CHARS {
        return Err(OrgError::Invalid(format!(
            "icon must be 1 to {MAX_ICON_CHARS} characters"
        )));
    }
    Ok(icon.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_are_normalised() {
        let raw = vec![
            " Frontend ".into(),
            "frontend".into(),
            "Critical_Path".into(),
            "".into(),
        ];
        assert_eq!(tags(&raw).unwrap(), vec!["frontend", "critical_path"]);
        assert!(tags(&["invalid tag!".into()]).is_err());
        assert!(tags(&(0..21).map(|i| format!("t{i}")).collect::<Vec<_>>()).is_err());
    }

    #[test]
    fn colors_are_normalised() {
        assert_eq!(color("#22C55E").unwrap(), "#22c55e");
        assert_eq!(color("#abc").unwrap(), "#aabbcc");
        assert_eq!(color("#11223344").unwrap(), "#112233");
        assert_eq!(color(" Blue ").unwrap(), "blue");
        assert!(color("purple").is_err());
        assert!(color("#12").is_err());
    }

    #[test]
    fn names_are_trimmed_and_bounded() {
        assert_eq!(name("  x ", "Group").unwrap(), "x");
        assert!(name("   ", "Group").is_err());
        assert!(name(&"a".repeat(256), "Group").is_err());
        assert_eq!(
            name(&"é".repeat(255), "Group").unwrap().chars().count(),
            255
        );
    }
}
