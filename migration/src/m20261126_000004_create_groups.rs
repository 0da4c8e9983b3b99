//! Groups inside a collection and their ordered members.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum UserCollections {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Groups {
    Table,
    Id,
    CollectionId,
    Name,
    NameKey,
    Description,
    Tags,
    Color,
    Icon,
    Position,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum GroupArtifacts {
    Table,
    GroupId,
    ArtifactId,
    Position,
    AddedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Groups::Table)
                    .if_not_exists()
                    .col(string_len(Groups::Id, 64).primary_key())
                    .col(string_len(Groups::CollectionId, 64))
                    .col(string_len(Groups::Name, 255))
                    .col(text(Groups::NameKey))
                    .col(text_null(Groups::Description))
                    .col(text(Groups::Tags).default("[]"))
                    .col(string_len(Groups::Color, 32).default("slate"))
                    .col(string_len(Groups::Icon, 32).default("layers"))
                    .col(
                        integer(Groups::Position)
                            .default(0)
                            .check(Expr::col(Groups::Position).gte(0)),
                    )
                    .col(timestamp_with_time_zone(Groups::CreatedAt))
                    .col(timestamp_with_time_zone(Groups::UpdatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_groups_collection")
                            .from(Groups::Table, Groups::CollectionId)
                            .to(UserCollections::Table, UserCollections::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("uq_groups_collection_name")
                    .table(Groups::Table)
                    .col(Groups::CollectionId)
                    .col(Groups::Name)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_groups_collection_position")
                    .table(Groups::Table)
                    .col(Groups::CollectionId)
                    .col(Groups::Position)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(GroupArtifacts::Table)
                    .if_not_exists()
                    .col(string_len(GroupArtifacts::GroupId, 64))
                    .col(string(GroupArtifacts::ArtifactId))
                    .col(
                        integer(GroupArtifacts::Position)
                            .default(0)
                            .check(Expr::col(GroupArtifacts::Position).gte(0)),
                    )
                    .col(timestamp_with_time_zone(GroupArtifacts::AddedAt))
                    .primary_key(
                        Index::create()
                            .col(GroupArtifacts::GroupId)
                            .col(GroupArtifacts::ArtifactId),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_group_artifacts_group")
                            .from(GroupArtifacts::Table, GroupArtifacts::GroupId)
                            .to(Groups::Table, Groups::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_group_artifacts_artifact_id")
                    .table(GroupArtifacts::Table)
                    .col(GroupArtifacts::ArtifactId)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_group_artifacts_group_position")
                    .table(GroupArtifacts::Table)
                    .col(GroupArtifacts::GroupId)
                    .col(GroupArtifacts::Position)
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(GroupArtifacts::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(Groups::Table).to_owned())
            .await
    }
}
