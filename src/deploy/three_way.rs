//! The three-way merge of an artifact's files: the deployment's base, the project copy
//! ("ours") and the collection's current version ("theirs"), file by file. A file changed on
//! one side only takes that side; text changed on both is merged line by line (`diffy`);
//! what does not combine is a conflict, unless a resolution names the side to keep.

use std::collections::BTreeMap;

/// Files by path inside the artifact.
pub type Files = BTreeMap<String, Vec<u8>>;

/// Which side a conflicting file is settled with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// The project copy.
    Ours,
    /// The collection's version.
    Theirs,
}

/// How one file came out of the merge.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The same on both sides (or changed identically).
    Unchanged,
    /// Changed only in the project: kept.
    Ours,
    /// Changed only in the collection: taken.
    Theirs,
    /// Changed on both sides, combined line by line.
    Merged,
    /// Changed on both sides, settled by the resolution given.
    Resolved(Side),
}

impl Outcome {
    /// The name shown.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Unchanged => "unchanged",
            Outcome::Ours => "kept",
            Outcome::Theirs => "taken",
            Outcome::Merged => "merged",
            Outcome::Resolved(Side::Ours) => "resolved_ours",
            Outcome::Resolved(Side::Theirs) => "resolved_theirs",
        }
    }
}

/// One overlapping change of a conflicting text file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hunk {
    /// Line of the project copy where it starts (1-based).
    pub line: u64,
    /// The project copy's lines.
    pub ours: String,
    /// The base's lines.
    pub base: String,
    /// The collection's lines.
    pub theirs: String,
}

/// A file that does not combine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conflict {
    /// Path inside the artifact.
    pub path: String,
    /// Why.
    pub reason: String,
    /// The overlapping changes (text only).
    pub hunks: Vec<Hunk>,
}

/// The merge of every file.
#[derive(Debug, Clone, Default)]
pub struct Merge {
    /// The merged content (a file absent here is absent from the result).
    pub files: Files,
    /// How each path came out, for every path of any side.
    pub outcomes: BTreeMap<String, Outcome>,
    /// What did not combine and was not resolved.
    pub conflicts: Vec<Conflict>,
}

/// Merges `ours` and `theirs` from `base`, settling conflicts as `resolve` says.
pub fn merge(
    base: &Files,
    ours: &Files,
    theirs: &Files,
    resolve: &BTreeMap<String, Side>,
) -> Merge {
    let mut paths: Vec<&String> = base
        .keys()
        .chain(ours.keys())
        .chain(theirs.keys())
        .collect();
    paths.sort();
    paths.dedup();
    let mut out = Merge::default();
    for path in paths {
        let (b, o, t) = (base.get(path), ours.get(path), theirs.get(path));
        let result = match merge_file(b, o, t) {
            Ok(r) => Ok(r),
            Err(conflict) => match resolve.get(path) {
                Some(Side::Ours) => Ok((o.cloned(), Outcome::Resolved(Side::Ours))),
                Some(Side::Theirs) => Ok((t.cloned(), Outcome::Resolved(Side::Theirs))),
                None => Err(conflict),
            },
        };
        match result {
            Ok((content, outcome)) => {
                if let Some(bytes) = content {
                    out.files.insert(path.clone(), bytes);
                }
                out.outcomes.insert(path.clone(), outcome);
            }
            Err((reason, hunks)) => out.conflicts.push(Conflict {
                path: path.clone(),
                reason,
                hunks,
            }),
        }
    }
    out
}

type FileResult = Result<(Option<Vec<u8>>, Outcome), (String, Vec<Hunk>)>;

fn merge_file(b: Option<&Vec<u8>>, o: Option<&Vec<u8>>, t: Option<&Vec<u8>>) -> FileResult {
    if o == t {
        return Ok((o.cloned(), Outcome::Unchanged));
    }
    if o == b {
        return Ok((t.cloned(), Outcome::Theirs));
    }
    if t == b {
        return Ok((o.cloned(), Outcome::Ours));
    }
    let (o, t) = match (o, t) {
        (Some(o), Some(t)) => (o, t),
        (None, _) => {
            return Err((
                "deleted in the project, changed in the collection".into(),
                vec![],
            ));
        }
        (_, None) => {
            return Err((
                "changed in the project, deleted in the collection".into(),
                vec![],
            ));
        }
    };
    let base_text = match b {
        Some(b) => text(b),
        None => Some(""),
    };
    let (Some(base_text), Some(ours), Some(theirs)) = (base_text, text(o), text(t)) else {
        return Err(("a binary file changed on both sides".into(), vec![]));
    };
    match diffy::MergeOptions::new()
        .set_conflict_style(diffy::ConflictStyle::Diff3)
        .merge(base_text, ours, theirs)
    {
        Ok(merged) => Ok((Some(merged.into_bytes()), Outcome::Merged)),
        Err(marked) => Err(("both sides changed the same lines".into(), hunks(&marked))),
    }
}

/// Bytes as text: `None` when binary (a NUL byte, or not UTF-8).
fn text(bytes: &[u8]) -> Option<&str> {
    if bytes.contains(&0) {
        return None;
    }
    std::str::from_utf8(bytes).ok()
}

/// The conflicts of diffy's diff3-style output: `<<<<<<< ours`, `||||||| original`,
/// `=======`, `>>>>>>> theirs`.
fn hunks(marked: &str) -> Vec<Hunk> {
    enum Part {
        Outside,
        Ours,
        Base,
        Theirs,
    }
    let mut part = Part::Outside;
    let mut line: u64 = 1;
    let mut out = Vec::new();
    let mut current = Hunk {
        line: 0,
        ours: String::new(),
        base: String::new(),
        theirs: String::new(),
    };
    for l in marked.split_inclusive('\n') {
        let marker = |m: &str| l.starts_with(m);
        match part {
            Part::Outside if marker("<<<<<<< ") => {
                current = Hunk {
                    line,
                    ours: String::new(),
                    base: String::new(),
                    theirs: String::new(),
                };
                part = Part::Ours;
            }
            Part::Outside => line += 1,
            Part::Ours if marker("||||||| ") => part = Part::Base,
            Part::Ours if l.trim_end() == "=======" => part = Part::Theirs,
            Part::Ours => {
                current.ours.push_str(l);
                line += 1;
            }
            Part::Base if l.trim_end() == "=======" => part = Part::Theirs,
            Part::Base => current.base.push_str(l),
            Part::Theirs if marker(">>>>>>> ") => {
                out.push(std::mem::replace(
                    &mut current,
                    Hunk {
                        line: 0,
                        ours: String::new(),
                        base: String::new(),
                        theirs: String::new(),
                    },
                ));
                part = Part::Outside;
            }
            Part::Theirs => current.theirs.push_str(l),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files(pairs: &[(&str, &str)]) -> Files {
        pairs
            .iter()
            .map(|(p, t)| (p.to_string(), t.as_bytes().to_vec()))
            .collect()
    }

    const BASE: &str = "one\ntwo\nthree\nfour\nfive\n";

    #[test]
    fn changes_to_different_lines_are_both_kept() {
        let base = files(&[("SKILL.md", BASE), ("only-base.md", "x\n")]);
        let ours = files(&[
            ("SKILL.md", "one, ours\ntwo\nthree\nfour\nfive\n"),
            ("new.md", "n\n"),
        ]);
        let theirs = files(&[
            ("SKILL.md", "one\ntwo\nthree\nfour\nfive, theirs\n"),
            ("only-base.md", "x\n"),
        ]);
        let m = merge(&base, &ours, &theirs, &BTreeMap::new());
        assert!(m.conflicts.is_empty(), "{:?}", m.conflicts);
        assert_eq!(
            std::str::from_utf8(&m.files["SKILL.md"]).unwrap(),
            "one, ours\ntwo\nthree\nfour\nfive, theirs\n"
        );
        assert_eq!(m.outcomes["SKILL.md"], Outcome::Merged);
        // Added in the project: kept; deleted in the project, untouched in the collection: gone.
        assert_eq!(m.outcomes["new.md"], Outcome::Ours);
        assert!(!m.files.contains_key("only-base.md"));
    }

    #[test]
    fn the_same_line_changed_on_both_sides_is_a_conflict_with_its_hunk() {
        let base = files(&[("SKILL.md", BASE)]);
        let ours = files(&[("SKILL.md", "one\ntwo, ours\nthree\nfour\nfive\n")]);
        let theirs = files(&[("SKILL.md", "one\ntwo, theirs\nthree\nfour\nfive\n")]);
        let m = merge(&base, &ours, &theirs, &BTreeMap::new());
        assert_eq!(m.conflicts.len(), 1);
        let c = &m.conflicts[0];
        assert_eq!(c.path, "SKILL.md");
        assert_eq!(
            c.hunks,
            vec![Hunk {
                line: 2,
                ours: "two, ours\n".into(),
                base: "two\n".into(),
                theirs: "two, theirs\n".into(),
            }]
        );
        for (side, want) in [(Side::Ours, "two, ours"), (Side::Theirs, "two, theirs")] {
            let resolve = BTreeMap::from([("SKILL.md".to_string(), side)]);
            let m = merge(&base, &ours, &theirs, &resolve);
            assert!(m.conflicts.is_empty());
            assert!(
                std::str::from_utf8(&m.files["SKILL.md"])
                    .unwrap()
                    .contains(want)
            );
            assert_eq!(m.outcomes["SKILL.md"], Outcome::Resolved(side));
        }
    }

    #[test]
    fn binary_files_and_deletions_against_changes_conflict_without_hunks() {
        let base = files(&[("a.bin", "\0a"), ("gone.md", "x\n")]);
        let ours = files(&[("a.bin", "\0b")]);
        let theirs = files(&[("a.bin", "\0c"), ("gone.md", "y\n")]);
        let m = merge(&base, &ours, &theirs, &BTreeMap::new());
        let reasons: Vec<(&str, &str)> = m
            .conflicts
            .iter()
            .map(|c| (c.path.as_str(), c.reason.as_str()))
            .collect();
        assert_eq!(
            reasons,
            vec![
                ("a.bin", "a binary file changed on both sides"),
                (
                    "gone.md",
                    "deleted in the project, changed in the collection"
                ),
            ]
        );
        assert!(m.conflicts.iter().all(|c| c.hunks.is_empty()));
    }
}
