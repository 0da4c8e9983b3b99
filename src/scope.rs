//! What a refresh covers: everything, one collection, one artifact, or one project's
//! deployment records. Stored on a refresh run as its key (`all`, `collection:<name>`,
//! `artifact:<type:name>`, `project:<id>`).

/// What a refresh covers.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Scope {
    /// Every source.
    All,
    /// One collection, by name.
    Collection(String),
    /// One artifact, `type:name`.
    Artifact(String),
    /// One project's deployment records and statuses, by project id.
    Project(String),
}

impl Scope {
    /// The stored form.
    pub fn key(&self) -> String {
        match self {
            Scope::All => "all".into(),
            Scope::Collection(name) => format!("collection:{name}"),
            Scope::Artifact(id) => format!("artifact:{id}"),
            Scope::Project(id) => format!("project:{id}"),
        }
    }

    /// Parses [`Scope::key`]'s form.
    pub fn from_key(key: &str) -> Option<Self> {
        if key == "all" {
            return Some(Scope::All);
        }
        if let Some(name) = key.strip_prefix("collection:") {
            return Some(Scope::Collection(name.to_string()));
        }
        if let Some(id) = key.strip_prefix("project:") {
            return Some(Scope::Project(id.to_string()));
        }
        key.strip_prefix("artifact:")
            .map(|id| Scope::Artifact(id.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scope_keys_round_trip() {
        for scope in [
            Scope::All,
            Scope::Collection("work".into()),
            Scope::Artifact("skill:a:b".into()),
            Scope::Project("0123abcd".into()),
        ] {
            assert_eq!(Scope::from_key(&scope.key()), Some(scope));
        }
        assert_eq!(Scope::from_key("bogus"), None);
    }
}
