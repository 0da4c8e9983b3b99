//! What was brought over from SkillMeat's own database (collections, groups, memberships), so
//! importing again adds only what is new and never brings back what the user removed here.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum SkillmeatImports {
    Table,
    Kind,
    SourceId,
    LocalId,
    ImportedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(SkillmeatImports::Table)
                    .if_not_exists()
                    .col(string(SkillmeatImports::Kind))
                    .col(string(SkillmeatImports::SourceId))
                    .col(string(SkillmeatImports::LocalId))
                    .col(timestamp_with_time_zone(SkillmeatImports::ImportedAt))
                    .primary_key(
                        Index::create()
                            .col(SkillmeatImports::Kind)
                            .col(SkillmeatImports::SourceId),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(SkillmeatImports::Table).to_owned())
            .await
    }
}
