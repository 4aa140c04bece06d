//! Anomaly detection's storage (migration 0013): trained models with their version,
//! parameters, training window, feature statistics and metrics, one of them active; and the
//! predictions of each detection run, kept as history.

use std::net::IpAddr;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::query::{Arg, Inserter, Sql};
use crate::store::Store;
use crate::types::{Page, Paged};
use crate::{Result, StoreError};

/// A model to store.
#[derive(Debug, Clone)]
pub struct NewModel {
    /// How it was trained (JSON).
    pub params: Value,
    /// The training window, `[from, to)` in UTC seconds.
    pub window: (i64, i64),
    /// The domain whose sources it was trained on; `None`: every domain.
    pub domain: Option<String>,
    /// Training rows (sources).
    pub sources: u64,
    /// Per feature: its median and spread (JSON).
    pub stats: Value,
    /// Training time, score quantiles, ... (JSON).
    pub metrics: Value,
    /// The forest, serialised (dmarc-ml's versioned format).
    pub forest: Vec<u8>,
    /// Who trained it (a user's e-mail, or the schedule).
    pub created_by: String,
    /// UTC seconds.
    pub created_at: i64,
}

/// A stored model, without its forest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct StoredModel {
    /// Database id.
    pub id: i64,
    /// 1, 2, ... in training order.
    pub version: i64,
    /// How it was trained: trees, sample size, seed, threshold, window days.
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub params: Value,
    /// Start of the training window (UTC seconds).
    pub window_from: i64,
    /// End of the training window (UTC seconds, excluded).
    pub window_to: i64,
    /// The domain whose sources it was trained on; absent: every domain.
    pub domain: Option<String>,
    /// Training rows (sources).
    pub sources: i64,
    /// Per feature: its name, median and spread over the training sources.
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub stats: Value,
    /// Training time, the share of training sources above the threshold, score quantiles.
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub metrics: Value,
    /// The model detection uses.
    pub active: bool,
    /// Who trained it.
    pub created_by: String,
    /// UTC seconds.
    pub created_at: i64,
    /// When it was last deployed (UTC seconds).
    pub deployed_at: Option<i64>,
}

/// One scored source of a detection run.
#[derive(Debug, Clone, PartialEq)]
pub struct NewPrediction {
    /// The source.
    pub source_ip: IpAddr,
    /// 0 (ordinary) to 1 (most anomalous).
    pub score: f64,
    /// Above the model's threshold.
    pub anomalous: bool,
    /// Why, in words.
    pub reasons: Vec<String>,
    /// The feature values, in dmarc-ml's order.
    pub features: Vec<f64>,
    /// Its messages in the window.
    pub messages: u64,
    /// Of which failed DMARC.
    pub dmarc_fail: u64,
}

/// A detection run to store.
#[derive(Debug, Clone)]
pub struct DetectionRun {
    /// The model that scored.
    pub model_id: i64,
    /// UTC seconds.
    pub run_at: i64,
    /// The activity scored, `[from, to)`.
    pub window: (i64, i64),
    /// The domain whose sources were scored; `None`: every domain.
    pub domain: Option<String>,
}

/// A stored prediction.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Prediction {
    /// Database id.
    pub id: i64,
    /// The model's version.
    pub model_version: i64,
    /// When the detection ran (UTC seconds).
    pub run_at: i64,
    /// Start of the activity scored (UTC seconds).
    pub window_from: i64,
    /// End of the activity scored (UTC seconds, excluded).
    pub window_to: i64,
    /// The domain whose sources were scored; absent: every domain.
    pub domain: Option<String>,
    /// The source address.
    pub source_ip: String,
    /// 0 (ordinary) to 1 (most anomalous).
    pub score: f64,
    /// Above the model's threshold.
    pub anomalous: bool,
    /// What made it stand out, most telling first.
    pub reasons: Vec<String>,
    /// The feature values, in the order of the model's `stats`.
    pub features: Vec<f64>,
    /// Its messages in the window.
    pub messages: i64,
    /// Of which failed DMARC.
    pub dmarc_fail: i64,
}

/// Which predictions to list.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PredictionFilter {
    /// Runs over this domain's sources only.
    pub domain: Option<String>,
    /// Runs at or after this time (UTC seconds); `None`: the latest run only.
    pub since: Option<i64>,
    /// Scores at least this.
    pub min_score: Option<f64>,
    /// Anomalous ones only.
    pub anomalous_only: bool,
    /// One source.
    pub source_ip: Option<IpAddr>,
}

/// Millionths.
fn e6(score: f64) -> i64 {
    (score.clamp(0.0, 1.0) * 1e6).round() as i64
}

const MODEL_COLUMNS: &str = "id, version, params, window_from, window_to, domain, sources, \
     stats, metrics, active, created_by, created_at, deployed_at";

fn json(row: &AnyRow, column: &str) -> Result<Value> {
    let text: String = row.try_get(column)?;
    serde_json::from_str(&text)
        .map_err(|e| StoreError::Corrupt(format!("{column} is not JSON: {e}")))
}

fn model_from(row: &AnyRow) -> Result<StoredModel> {
    Ok(StoredModel {
        id: row.try_get("id")?,
        version: row.try_get("version")?,
        params: json(row, "params")?,
        window_from: row.try_get("window_from")?,
        window_to: row.try_get("window_to")?,
        domain: row.try_get("domain")?,
        sources: row.try_get("sources")?,
        stats: json(row, "stats")?,
        metrics: json(row, "metrics")?,
        active: row.try_get::<i64, _>("active")? == 1,
        created_by: row.try_get("created_by")?,
        created_at: row.try_get("created_at")?,
        deployed_at: row.try_get("deployed_at")?,
    })
}

const PREDICTION_COLUMNS: &str = "p.id, m.version, p.run_at, p.window_from, p.window_to, \
     p.domain, p.source_ip, p.score_e6, p.anomalous, p.reasons, p.features, p.messages, \
     p.dmarc_fail";

fn prediction_from(row: &AnyRow) -> Result<Prediction> {
    let list = |column: &str| -> Result<Value> { json(row, column) };
    Ok(Prediction {
        id: row.try_get("id")?,
        model_version: row.try_get("version")?,
        run_at: row.try_get("run_at")?,
        window_from: row.try_get("window_from")?,
        window_to: row.try_get("window_to")?,
        domain: row.try_get("domain")?,
        source_ip: row.try_get("source_ip")?,
        score: row.try_get::<i64, _>("score_e6")? as f64 / 1e6,
        anomalous: row.try_get::<i64, _>("anomalous")? == 1,
        reasons: serde_json::from_value(list("reasons")?)
            .map_err(|e| StoreError::Corrupt(format!("reasons: {e}")))?,
        features: serde_json::from_value(list("features")?)
            .map_err(|e| StoreError::Corrupt(format!("features: {e}")))?,
        messages: row.try_get("messages")?,
        dmarc_fail: row.try_get("dmarc_fail")?,
    })
}

impl Store {
    /// Stores a model under the next version (not active).
    pub async fn add_model(&self, model: &NewModel) -> Result<StoredModel> {
        let backend = self.backend();
        let id = self
            .retrying(|| async {
                let mut tx = self.begin_write().await?;
                let rows = Sql::new(
                    "INSERT INTO ml_models (version, params, window_from, window_to, domain, \
                     sources, stats, metrics, forest, active, created_by, created_at) \
                     SELECT COALESCE(MAX(version), 0) + 1, $1, $2, $3, $4, $5, $6, $7, $8, 0, \
                     $9, $10 FROM ml_models RETURNING id",
                )
                .bind(Arg::Text(model.params.to_string()))
                .bind(Arg::Int(model.window.0))
                .bind(Arg::Int(model.window.1))
                .bind(Arg::OptText(model.domain.clone()))
                .bind(Arg::Int(i64::try_from(model.sources).unwrap_or(i64::MAX)))
                .bind(Arg::Text(model.stats.to_string()))
                .bind(Arg::Text(model.metrics.to_string()))
                .bind(Arg::Bytes(Some(model.forest.clone())))
                .bind(Arg::Text(model.created_by.clone()))
                .bind(Arg::Int(model.created_at))
                .fetch_all(backend, &mut *tx)
                .await?;
                tx.commit().await?;
                let row = rows
                    .first()
                    .ok_or_else(|| StoreError::Corrupt("no id returned".into()))?;
                Ok(row.try_get::<i64, _>("id")?)
            })
            .await?;
        self.model_by("id", id)
            .await?
            .map(|(model, _)| model)
            .ok_or_else(|| StoreError::Corrupt("the new model vanished".into()))
    }

    async fn model_by(&self, column: &str, value: i64) -> Result<Option<(StoredModel, Vec<u8>)>> {
        let rows = Sql::new(&format!(
            "SELECT {MODEL_COLUMNS}, forest FROM ml_models WHERE {column} = $1"
        ))
        .bind(Arg::Int(value))
        .fetch_all(self.backend(), self.pool())
        .await?;
        rows.first()
            .map(|row| Ok((model_from(row)?, row.try_get::<Vec<u8>, _>("forest")?)))
            .transpose()
    }

    /// The model of `version` with its forest.
    pub async fn model(&self, version: i64) -> Result<Option<(StoredModel, Vec<u8>)>> {
        self.model_by("version", version).await
    }

    /// The active model with its forest, if one is deployed.
    pub async fn active_model(&self) -> Result<Option<(StoredModel, Vec<u8>)>> {
        self.model_by("active", 1).await
    }

    /// The models, newest first.
    pub async fn models(&self, page: Page) -> Result<Paged<StoredModel>> {
        self.newest_first("ml_models", MODEL_COLUMNS, |_| {}, page, model_from)
            .await
    }

    /// Makes the model of `version` the active one (the previous one no longer is);
    /// `None` when there is no such model.
    pub async fn deploy_model(&self, version: i64, at: i64) -> Result<Option<StoredModel>> {
        let backend = self.backend();
        let found = self
            .retrying(|| async {
                let mut tx = self.begin_write().await?;
                let exists = Sql::new("SELECT id FROM ml_models WHERE version = $1")
                    .bind(Arg::Int(version))
                    .fetch_all(backend, &mut *tx)
                    .await?;
                if exists.is_empty() {
                    return Ok(false);
                }
                Sql::new("UPDATE ml_models SET active = 0 WHERE active = 1")
                    .execute(backend, &mut *tx)
                    .await?;
                Sql::new("UPDATE ml_models SET active = 1, deployed_at = $1 WHERE version = $2")
                    .bind(Arg::Int(at))
                    .bind(Arg::Int(version))
                    .execute(backend, &mut *tx)
                    .await?;
                tx.commit().await?;
                Ok(true)
            })
            .await?;
        if !found {
            return Ok(None);
        }
        Ok(self.model(version).await?.map(|(model, _)| model))
    }

    /// Stores the predictions of a detection run.
    pub async fn add_predictions(
        &self,
        run: &DetectionRun,
        predictions: &[NewPrediction],
    ) -> Result<()> {
        const COLUMNS: &[&str] = &[
            "model_id",
            "run_at",
            "window_from",
            "window_to",
            "domain",
            "source_ip",
            "ip",
            "score_e6",
            "anomalous",
            "reasons",
            "features",
            "messages",
            "dmarc_fail",
        ];
        self.retrying(|| async {
            let mut tx = self.begin_write().await?;
            let mut inserter = Inserter::new("anomaly_predictions", COLUMNS);
            for p in predictions {
                let row = [
                    Arg::Int(run.model_id),
                    Arg::Int(run.run_at),
                    Arg::Int(run.window.0),
                    Arg::Int(run.window.1),
                    Arg::OptText(run.domain.clone()),
                    Arg::Text(p.source_ip.to_string()),
                    Arg::Bytes(Some(dmarc_core::ip_key(p.source_ip).to_vec())),
                    Arg::Int(e6(p.score)),
                    Arg::Int(i64::from(p.anomalous)),
                    Arg::Text(serde_json::to_string(&p.reasons).unwrap_or_default()),
                    Arg::Text(serde_json::to_string(&p.features).unwrap_or_default()),
                    Arg::Int(i64::try_from(p.messages).unwrap_or(i64::MAX)),
                    Arg::Int(i64::try_from(p.dmarc_fail).unwrap_or(i64::MAX)),
                ];
                inserter.row(&mut tx, row).await?;
            }
            inserter.flush(&mut tx).await?;
            tx.commit().await?;
            Ok(())
        })
        .await
    }

    /// Predictions, of the latest run (or of every run since a time), highest score first.
    pub async fn predictions(
        &self,
        filter: &PredictionFilter,
        page: Page,
    ) -> Result<Paged<Prediction>> {
        let conditions = |sql: &mut Sql| {
            sql.push(" WHERE 1 = 1");
            match &filter.domain {
                Some(domain) => {
                    sql.push(" AND p.domain = ")
                        .arg(Arg::Text(domain.trim().to_ascii_lowercase()));
                }
                None => {
                    sql.push(" AND p.domain IS NULL");
                }
            }
            match filter.since {
                Some(since) => {
                    sql.push(" AND p.run_at >= ").arg(Arg::Int(since));
                }
                None => {
                    // The latest run of the same scope.
                    sql.push(
                        " AND p.run_at = (SELECT MAX(q.run_at) FROM anomaly_predictions q \
                         WHERE q.domain IS NOT DISTINCT FROM p.domain)",
                    );
                }
            }
            if let Some(min) = filter.min_score {
                sql.push(" AND p.score_e6 >= ").arg(Arg::Int(e6(min)));
            }
            if filter.anomalous_only {
                sql.push(" AND p.anomalous = 1");
            }
            if let Some(ip) = filter.source_ip {
                sql.push(" AND p.ip = ")
                    .arg(Arg::Bytes(Some(dmarc_core::ip_key(ip).to_vec())));
            }
        };
        self.paged(
            "anomaly_predictions p JOIN ml_models m ON m.id = p.model_id",
            PREDICTION_COLUMNS,
            conditions,
            "p.run_at DESC, p.score_e6 DESC, p.id",
            page,
            prediction_from,
        )
        .await
    }
}
