//! Projects and the deployments found in them.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Projects {
    Table,
    Id,
    Path,
    Name,
    Registered,
    CreatedAt,
    LastScannedAt,
}

#[derive(DeriveIden, Clone)]
enum Deployments {
    Table,
    Id,
    ProjectId,
    ProjectPath,
    ArtifactId,
    ArtifactType,
    ArtifactName,
    ArtifactNameKey,
    Profile,
    ProfileRoot,
    ArtifactPath,
    FromCollection,
    DeployedAt,
    RecordedHash,
    LocalHash,
    LocalFingerprint,
    CollectionHash,
    Status,
    StatusCheckedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Projects::Table)
                    .if_not_exists()
                    .col(string_len(Projects::Id, 64).primary_key())
                    .col(text(Projects::Path).unique_key())
                    .col(string(Projects::Name))
                    .col(boolean(Projects::Registered))
                    .col(timestamp_with_time_zone(Projects::CreatedAt))
                    .col(timestamp_with_time_zone_null(Projects::LastScannedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Deployments::Table)
                    .if_not_exists()
                    .col(string_len(Deployments::Id, 64).primary_key())
                    .col(string_len(Deployments::ProjectId, 64))
                    .col(text(Deployments::ProjectPath))
                    .col(string(Deployments::ArtifactId))
                    .col(string_len(Deployments::ArtifactType, 16))
                    .col(string(Deployments::ArtifactName))
                    .col(text(Deployments::ArtifactNameKey))
                    .col(text(Deployments::Profile))
                    .col(text(Deployments::ProfileRoot))
                    .col(text(Deployments::ArtifactPath))
                    .col(text(Deployments::FromCollection))
                    .col(timestamp_with_time_zone(Deployments::DeployedAt))
                    .col(text(Deployments::RecordedHash))
                    .col(text_null(Deployments::LocalHash))
                    .col(text_null(Deployments::LocalFingerprint))
                    .col(text_null(Deployments::CollectionHash))
                    .col(string_len(Deployments::Status, 16))
                    .col(timestamp_with_time_zone(Deployments::StatusCheckedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_deployments_project")
                            .from(Deployments::Table, Deployments::ProjectId)
                            .to(Projects::Table, Projects::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("uq_deployments_identity")
                    .table(Deployments::Table)
                    .col(Deployments::ProjectId)
                    .col(Deployments::ArtifactType)
                    .col(Deployments::ArtifactName)
                    .col(Deployments::Profile)
                    .unique()
                    .to_owned(),
            )
            .await?;
        // The dashboard sorts by each of these with the id as tie-break and pages with a
        // keyset; the composite ones also serve the common filter + sort pairs and let counts
        // be answered from the index alone.
        let indexes: [(&str, &[Deployments]); 9] = [
            (
                "idx_deployments_artifact_id",
                &[Deployments::ArtifactId, Deployments::Id],
            ),
            (
                "idx_deployments_status",
                &[Deployments::Status, Deployments::Id],
            ),
            (
                "idx_deployments_status_type",
                &[Deployments::Status, Deployments::ArtifactType],
            ),
            (
                "idx_deployments_status_artifact",
                &[
                    Deployments::Status,
                    Deployments::ArtifactId,
                    Deployments::Id,
                ],
            ),
            (
                "idx_deployments_deployed_at",
                &[Deployments::DeployedAt, Deployments::Id],
            ),
            (
                "idx_deployments_project_path",
                &[Deployments::ProjectPath, Deployments::Id],
            ),
            (
                "idx_deployments_type_deployed_at",
                &[
                    Deployments::ArtifactType,
                    Deployments::DeployedAt,
                    Deployments::Id,
                ],
            ),
            (
                "idx_deployments_artifact_name_key",
                &[
                    Deployments::ArtifactNameKey,
                    Deployments::ArtifactId,
                    Deployments::Id,
                ],
            ),
            (
                "idx_deployments_status_checked_at",
                &[Deployments::StatusCheckedAt],
            ),
        ];
        for (name, columns) in indexes {
            let mut index = Index::create();
            index.name(name).table(Deployments::Table);
            for column in columns {
                index.col(column.clone());
            }
            manager.create_index(index.to_owned()).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Deployments::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(Projects::Table).to_owned())
            .await
    }
}
