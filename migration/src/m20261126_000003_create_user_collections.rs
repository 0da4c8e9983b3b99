//! User collections and their memberships (by `type:name`, no key into the cache).

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum UserCollections {
    Table,
    Id,
    Name,
    NameKey,
    Description,
    CollectionType,
    ContextCategory,
    Folder,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum CollectionArtifacts {
    Table,
    CollectionId,
    ArtifactId,
    AddedAt,
}

#[derive(DeriveIden)]
enum CollectionExclusions {
    Table,
    CollectionId,
    ArtifactId,
    ExcludedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(UserCollections::Table)
                    .if_not_exists()
                    .col(string_len(UserCollections::Id, 64).primary_key())
                    .col(string_len(UserCollections::Name, 255))
                    // Lower-cased name: the database, not only the handler, keeps names unique
                    // case-insensitively.
                    .col(text(UserCollections::NameKey).unique_key())
                    .col(text_null(UserCollections::Description))
                    .col(string_null(UserCollections::CollectionType))
                    .col(string_null(UserCollections::ContextCategory))
                    // The folder under collections/ whose collection.toml mirrors the groups;
                    // kept across renames.
                    .col(text_null(UserCollections::Folder))
                    .col(timestamp_with_time_zone(UserCollections::CreatedAt))
                    .col(timestamp_with_time_zone(UserCollections::UpdatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(CollectionArtifacts::Table)
                    .if_not_exists()
                    .col(string_len(CollectionArtifacts::CollectionId, 64))
                    .col(string(CollectionArtifacts::ArtifactId))
                    .col(timestamp_with_time_zone(CollectionArtifacts::AddedAt))
                    .primary_key(
                        Index::create()
                            .col(CollectionArtifacts::CollectionId)
                            .col(CollectionArtifacts::ArtifactId),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_collection_artifacts_collection")
                            .from(
                                CollectionArtifacts::Table,
                                CollectionArtifacts::CollectionId,
                            )
                            .to(UserCollections::Table, UserCollections::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_collection_artifacts_artifact_id")
                    .table(CollectionArtifacts::Table)
                    .col(CollectionArtifacts::ArtifactId)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(CollectionExclusions::Table)
                    .if_not_exists()
                    .col(string_len(CollectionExclusions::CollectionId, 64))
                    .col(string(CollectionExclusions::ArtifactId))
                    .col(timestamp_with_time_zone(CollectionExclusions::ExcludedAt))
                    .primary_key(
                        Index::create()
                            .col(CollectionExclusions::CollectionId)
                            .col(CollectionExclusions::ArtifactId),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_collection_exclusions_collection")
                            .from(
                                CollectionExclusions::Table,
                                CollectionExclusions::CollectionId,
                            )
                            .to(UserCollections::Table, UserCollections::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(CollectionExclusions::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(CollectionArtifacts::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(UserCollections::Table).to_owned())
            .await
    }
}
