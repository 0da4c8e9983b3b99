//! Each relation joins on the foreign key the migrations create: checked on the SQL SeaORM
//! builds for `find_also_related`, for every `Related` pair, without a database.

use entity::{
    collection_artifacts, deployments, group_artifacts, groups, projects, user_collections,
};
use sea_orm::{DbBackend, EntityTrait, QueryTrait};

/// The SQL of `from` joined to its related entity.
macro_rules! join_sql {
    ($from:ident, $to:ident) => {
        $from::Entity::find()
            .find_also_related($to::Entity)
            .build(DbBackend::Sqlite)
            .to_string()
    };
}

fn assert_join(sql: &str, left: &str, right: &str) {
    let forward = format!("ON {left} = {right}");
    let backward = format!("ON {right} = {left}");
    assert!(
        sql.contains(&forward) || sql.contains(&backward),
        "expected a join {left} = {right} in {sql}"
    );
}

#[test]
fn collections_join_their_memberships_and_groups() {
    let collection_id = r#""user_collections"."id""#;
    assert_join(
        &join_sql!(user_collections, collection_artifacts),
        collection_id,
        r#""collection_artifacts"."collection_id""#,
    );
    assert_join(
        &join_sql!(collection_artifacts, user_collections),
        collection_id,
        r#""collection_artifacts"."collection_id""#,
    );
    assert_join(
        &join_sql!(user_collections, groups),
        collection_id,
        r#""groups"."collection_id""#,
    );
    assert_join(
        &join_sql!(groups, user_collections),
        collection_id,
        r#""groups"."collection_id""#,
    );
}

#[test]
fn groups_join_their_members() {
    assert_join(
        &join_sql!(groups, group_artifacts),
        r#""groups"."id""#,
        r#""group_artifacts"."group_id""#,
    );
    assert_join(
        &join_sql!(group_artifacts, groups),
        r#""groups"."id""#,
        r#""group_artifacts"."group_id""#,
    );
}

#[test]
fn projects_join_their_deployments() {
    assert_join(
        &join_sql!(projects, deployments),
        r#""projects"."id""#,
        r#""deployments"."project_id""#,
    );
    assert_join(
        &join_sql!(deployments, projects),
        r#""projects"."id""#,
        r#""deployments"."project_id""#,
    );
}
