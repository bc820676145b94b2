//! `epms serve`, `epms token create`, `epms sync`.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use clap::{Args, Subcommand, ValueEnum};
use epms_api::{new_token, token_hash};
use epms_store::{Role, TokenRecord};

use crate::service::{
    Config, app_state, bind, load_config, load_connectors, open_store, serve as serve_api,
};

#[derive(Args)]
pub struct ConfigArg {
    /// The TOML configuration (absent: defaults and `EPMS_*` variables).
    #[arg(long)]
    config: Option<PathBuf>,
    /// The store, over the configuration's `store`: `postgres://user@host/db` (a fleet
    /// on one database) or a redb file path.
    #[arg(long)]
    store: Option<String>,
}

impl ConfigArg {
    fn load(&self) -> anyhow::Result<Config> {
        let mut config = load_config(self.config.as_deref(), |k| std::env::var(k).ok())?;
        if let Some(store) = &self.store {
            config.store = Some(store.clone());
        }
        Ok(config)
    }
}

#[derive(Subcommand)]
pub enum TokenCommand {
    /// Creates a token and prints it once (only its hash is stored).
    Create(TokenArgs),
    /// Lists tokens: id, role, properties, name (never the tokens themselves).
    List(ConfigArg),
    /// Revokes the token with this id (from `token list`).
    Revoke {
        id: String,
        #[command(flatten)]
        config: ConfigArg,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum RoleArg {
    /// Every property, connector and credential.
    Admin,
    /// Only the properties given with --property.
    #[value(alias = "manager")]
    PropertyManager,
}

#[derive(Args)]
pub struct TokenArgs {
    #[arg(long, value_enum)]
    role: RoleArg,
    /// A property the token may see (property managers; repeatable).
    #[arg(long = "property")]
    properties: Vec<String>,
    /// Who or what the token is for, shown in logs.
    #[arg(long, default_value = "cli")]
    name: String,
    #[command(flatten)]
    config: ConfigArg,
}

#[derive(Args)]
pub struct SyncArgs {
    /// The DOOR property id.
    property: String,
    #[command(flatten)]
    config: ConfigArg,
}

fn report(result: anyhow::Result<()>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or_default()
}

pub async fn serve(args: ConfigArg) -> ExitCode {
    report(
        async {
            let config = args.load()?;
            let store = open_store(&config)?;
            let (runtime, connectors) = load_connectors(&config).await?;
            let listener = bind(&config).await?;
            eprintln!(
                "epms: API on http://{}, store {}, {} connectors",
                config.listen,
                crate::service::redacted(
                    config
                        .store
                        .as_deref()
                        .unwrap_or(&config.data_dir.join("epms.redb").display().to_string())
                ),
                connectors.len()
            );
            let state = app_state(store, runtime, connectors, &config).await?;
            serve_api(listener, state, &config).await
        }
        .await,
    )
}

/// An entry of the service's audit log, for what the CLI does offline.
fn cli_event(action: &str, detail: String) -> epms_engine::AuditEntry {
    epms_engine::AuditEntry {
        at: now(),
        actor: epms_engine::Actor::Manager("cli".into()),
        action: action.to_owned(),
        rule: "cli".into(),
        account: None,
        pms_key: None,
        detail,
    }
}

pub fn token(cmd: TokenCommand) -> ExitCode {
    let args = match cmd {
        TokenCommand::Create(args) => args,
        TokenCommand::List(config) => {
            return report((|| {
                let store = {
                    let c = config.load()?;
                    open_store(&c)?
                };
                for (id, t) in store.tokens()? {
                    println!(
                        "{id}  {:<16}  {:<30}  {}",
                        format!("{:?}", t.role),
                        t.properties.join(","),
                        t.name
                    );
                }
                Ok(())
            })());
        }
        TokenCommand::Revoke { id, config } => {
            return report((|| {
                let store = {
                    let c = config.load()?;
                    open_store(&c)?
                };
                let t = store.revoke_token(&id)?;
                store.record_service_event(&cli_event(
                    "token.revoked",
                    format!("token {id} ({:?}, {:?})", t.name, t.role),
                ))?;
                eprintln!("token {id} ({}) revoked", t.name);
                Ok(())
            })());
        }
    };
    report((|| {
        let config = args.config.load()?;
        let role = match args.role {
            RoleArg::Admin => Role::Admin,
            RoleArg::PropertyManager => Role::PropertyManager,
        };
        if let Some(problem) = role.scope_problem(&args.properties) {
            anyhow::bail!("{problem} (--property)");
        }
        let store = open_store(&config)?;
        for p in &args.properties {
            if let Err(e) = store.property(p) {
                anyhow::bail!("--property {p}: {e}");
            }
        }
        let token = new_token();
        let hash = token_hash(&token);
        let role_name = format!("{role:?}");
        store.put_token(
            &hash,
            &TokenRecord {
                name: args.name.clone(),
                role,
                properties: args.properties.clone(),
                created_at: now(),
            },
        )?;
        store.record_service_event(&cli_event(
            "token.created",
            format!(
                "token {} ({:?}, {:?})",
                epms_store::token_id(&hash),
                args.name,
                role_name
            ),
        ))?;
        eprintln!("token created; it is shown once, store it now:");
        println!("{token}");
        Ok(())
    })())
}

pub async fn sync(args: SyncArgs) -> ExitCode {
    report(
        async {
            let config = args.config.load()?;
            let store = open_store(&config)?;
            store.property(&args.property)?;
            let (runtime, connectors) = load_connectors(&config).await?;
            let state = app_state(store, runtime, connectors, &config).await?;
            let started = Instant::now();
            let progress = {
                let (state, property) = (state.clone(), args.property.clone());
                tokio::spawn(async move {
                    let mut ticker = tokio::time::interval(std::time::Duration::from_millis(200));
                    loop {
                        ticker.tick().await;
                        if let Some((p, _)) = state.sync_progress(&property) {
                            let phase = serde_json::to_value(p.phase).unwrap_or_default();
                            eprint!(
                                "\r{property}: {:<10} {:>5} pages {:>8} records {:>6.1} s ",
                                phase.as_str().unwrap_or_default(),
                                p.pages,
                                p.records,
                                started.elapsed().as_secs_f64()
                            );
                        }
                    }
                })
            };
            let outcome = epms_api::sync_property(&state, &args.property).await;
            progress.abort();
            eprintln!(
                "\rsync finished in {:.1} s",
                started.elapsed().as_secs_f64()
            );
            let summary = outcome.map_err(|f| anyhow::anyhow!("{}", f.error))?;
            println!("{}", serde_json::to_string_pretty(&summary)?);
            Ok(())
        }
        .await,
    )
}
