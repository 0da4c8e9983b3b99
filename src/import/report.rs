//! What an import did: per collection and group whether it was created, matched or already
//! there, how many members it gained, and everything skipped with the reason.

use serde::Serialize;

/// What happened to one SkillMeat collection or group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Created here.
    Created,
    /// One of the same id or name existed here and was used.
    Matched,
    /// Imported by an earlier run.
    Unchanged,
}

impl Outcome {
    /// The name shown and stored.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Created => "created",
            Outcome::Matched => "matched",
            Outcome::Unchanged => "unchanged",
        }
    }
}

/// One SkillMeat collection or group and what became of it.
#[derive(Debug, Clone, Serialize)]
pub struct ItemOutcome {
    /// SkillMeat's id.
    pub skillmeat_id: String,
    /// Its name.
    pub name: String,
    /// For a group: the collection here it is in.
    pub collection_id: Option<String>,
    /// Its id here.
    pub id: Option<String>,
    /// Created, matched or unchanged.
    pub outcome: Outcome,
    /// Members added by this run, in SkillMeat's order.
    pub members_added: u64,
}

/// Something not imported, and why.
#[derive(Debug, Clone, Serialize)]
pub struct Skipped {
    /// `collection`, `member`, `group` or `group_member`.
    pub kind: String,
    /// SkillMeat's id (for a member, the artifact uuid).
    pub skillmeat_id: String,
    /// What it is, for people (`skill:x in Frontend Kit`).
    pub name: String,
    /// Why it was skipped.
    pub reason: String,
}

/// Counts over the whole run.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ImportTotals {
    /// Collections created.
    pub collections_created: u64,
    /// Groups created.
    pub groups_created: u64,
    /// Collection memberships added.
    pub members_added: u64,
    /// Group memberships added.
    pub group_members_added: u64,
    /// Memberships imported by an earlier run (left as they are here).
    pub unchanged: u64,
    /// Items skipped.
    pub skipped: u64,
}

/// The whole report.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ImportReport {
    /// The SkillMeat database read.
    pub database: String,
    /// Counts.
    pub totals: ImportTotals,
    /// Each SkillMeat collection imported (or found imported).
    pub collections: Vec<ItemOutcome>,
    /// Each SkillMeat group imported (or found imported), in order.
    pub groups: Vec<ItemOutcome>,
    /// What was not imported, and why.
    pub skipped: Vec<Skipped>,
    /// Tables or columns missing in SkillMeat's database, values adjusted to this server's
    /// rules.
    pub warnings: Vec<String>,
}

impl ImportReport {
    /// The report for people: one line per collection and group, then what was skipped.
    pub fn summary(&self) -> String {
        use std::fmt::Write;
        let t = &self.totals;
        let mut out = format!(
            "Imported from {}: {} collections and {} groups created, {} collection members and \
             {} group members added, {} memberships already imported, {} skipped.\n",
            self.database,
            t.collections_created,
            t.groups_created,
            t.members_added,
            t.group_members_added,
            t.unchanged,
            t.skipped
        );
        for (what, items) in [("collection", &self.collections), ("group", &self.groups)] {
            for i in items.iter() {
                let _ = writeln!(
                    out,
                    "  {what} {:?}: {}, {} members added",
                    i.name,
                    i.outcome.as_str(),
                    i.members_added
                );
            }
        }
        for s in &self.skipped {
            let _ = writeln!(out, "  skipped {} {}: {}", s.kind, s.name, s.reason);
        }
        for w in &self.warnings {
            let _ = writeln!(out, "  warning: {w}");
        }
        out
    }
}
