//! Contexts: named servers, each with the file its API token is read from, kept in a YAML
//! file so client commands need no flags (docs/configuration.md, "Contexts"). The token
//! stays in its own file, read when a command runs: the configuration can be shown or
//! shared without giving it away.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{anyhow, bail, Context as _};
use serde::{Deserialize, Serialize};

use crate::args::{ClientArgs, ContextCommand, Output};
use crate::commands::{show, table};

/// Where client commands go when nothing names a server.
pub const LOCAL_SERVER: &str = "http://127.0.0.1:3000";

/// The configuration file's content.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Config {
    /// The context commands use unless `--context` names another.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    current: Option<String>,
    #[serde(default)]
    contexts: Vec<Context>,
}

/// A server and how to sign in to it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Context {
    pub name: String,
    pub server: String,
    /// Holds the API token; an absolute path.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_file: Option<PathBuf>,
}

impl Context {
    /// The token from its file, without the line end an editor or `echo` leaves.
    pub fn token(&self) -> anyhow::Result<Option<String>> {
        let Some(file) = &self.token_file else {
            return Ok(None);
        };
        let token = std::fs::read_to_string(file).with_context(|| {
            format!(
                "cannot read the token file {} of context `{}`",
                file.display(),
                self.name
            )
        })?;
        Ok(Some(token.trim().to_string()))
    }
}

/// `--config`, else `$XDG_CONFIG_HOME/promenade/config.yaml`, else
/// `~/.config/promenade/config.yaml`.
fn config_file(args: &ClientArgs) -> anyhow::Result<PathBuf> {
    if let Some(file) = &args.config {
        return Ok(file.clone());
    }
    let base = match std::env::var_os("XDG_CONFIG_HOME").filter(|v| !v.is_empty()) {
        Some(config) => PathBuf::from(config),
        None => std::env::var_os("HOME")
            .filter(|v| !v.is_empty())
            .map(|home| PathBuf::from(home).join(".config"))
            .ok_or_else(|| anyhow!("no HOME to keep contexts in: pass --config FILE"))?,
    };
    Ok(base.join("promenade").join("config.yaml"))
}

impl Config {
    /// The file's contexts; none when it does not exist.
    fn load(file: &Path) -> anyhow::Result<Self> {
        let text = match std::fs::read_to_string(file) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Self::default()),
            Err(e) => return Err(e).with_context(|| format!("cannot read {}", file.display())),
        };
        // serde_yaml_ng's message carries the line and column.
        serde_yaml_ng::from_str(&text).map_err(|e| anyhow!("{}: {e}", file.display()))
    }

    /// Written whole to a file next to it, then moved over it: an interrupted write
    /// never leaves half a configuration.
    fn save(&self, file: &Path) -> anyhow::Result<()> {
        if let Some(folder) = file.parent().filter(|f| !f.as_os_str().is_empty()) {
            std::fs::create_dir_all(folder)
                .with_context(|| format!("cannot create {}", folder.display()))?;
        }
        let partial = file.with_extension("yaml.partial");
        std::fs::write(&partial, serde_yaml_ng::to_string(self)?)
            .with_context(|| format!("cannot write {}", partial.display()))?;
        std::fs::rename(&partial, file).with_context(|| format!("cannot write {}", file.display()))
    }

    fn find(&self, name: &str) -> anyhow::Result<&Context> {
        self.contexts
            .iter()
            .find(|c| c.name == name)
            .ok_or_else(|| anyhow!("no context `{name}`: `promenade context list` shows them"))
    }
}

/// The context a client command uses: the one `--context` names, else the current one,
/// unless `--server` names a server (a context's token is never sent elsewhere).
pub fn chosen(args: &ClientArgs) -> anyhow::Result<Option<Context>> {
    match (&args.context, &args.server) {
        (Some(_), Some(_)) => {
            bail!("--server and --context both name a server: pass one of them")
        }
        (None, Some(_)) => Ok(None),
        (Some(name), None) => {
            let config = Config::load(&config_file(args)?)?;
            config.find(name).cloned().map(Some)
        }
        (None, None) => {
            // Without a home folder there are no contexts, and the local server is meant.
            let Ok(file) = config_file(args) else {
                return Ok(None);
            };
            let config = Config::load(&file)?;
            match &config.current {
                Some(current) => config.find(current).cloned().map(Some),
                None => Ok(None),
            }
        }
    }
}

/// A context as `context list` shows it.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Listed<'a> {
    #[serde(flatten)]
    context: &'a Context,
    current: bool,
}

/// `promenade context …`.
pub fn run(
    args: &ClientArgs,
    command: &ContextCommand,
    output: Output,
) -> anyhow::Result<ExitCode> {
    let file = config_file(args)?;
    let mut config = Config::load(&file)?;
    match command {
        ContextCommand::Add { name, token_file } => {
            if args.token.is_some() {
                bail!("a context keeps a token file, never a token: pass --token-file FILE");
            }
            let server = args
                .server
                .as_deref()
                .ok_or_else(|| anyhow!("context add needs the server: --server URL"))?
                .trim_end_matches('/');
            if name.trim().is_empty() || name.chars().any(char::is_whitespace) {
                bail!("a context's name is one word: {name:?}");
            }
            if !(server.starts_with("https://") || server.starts_with("http://")) {
                bail!("--server must be an http:// or https:// URL: {server}");
            }
            let token_file = token_file
                .as_deref()
                .map(std::path::absolute)
                .transpose()
                .context("cannot tell where the token file is")?;
            let context = Context {
                name: name.clone(),
                server: server.to_string(),
                token_file,
            };
            // Read now, so that a mistyped path fails here rather than at the next command.
            context.token()?;
            warn_if_shared(context.token_file.as_deref());
            let existed = config.contexts.iter().any(|c| &c.name == name);
            config.contexts.retain(|c| &c.name != name);
            config.contexts.push(context);
            let current = config.current.is_none();
            if current {
                config.current = Some(name.clone());
            }
            config.save(&file)?;
            if output.is_text() {
                let verb = if existed { "changed" } else { "added" };
                let current = if current {
                    "; it is the current one"
                } else {
                    ""
                };
                println!("context {name} {verb} in {}{current}", file.display());
            }
        }
        ContextCommand::Use { name } => {
            config.find(name)?;
            config.current = Some(name.clone());
            config.save(&file)?;
            if output.is_text() {
                println!("now using context {name}");
            }
        }
        ContextCommand::List => {
            let listed: Vec<Listed> = config
                .contexts
                .iter()
                .map(|context| Listed {
                    context,
                    current: config.current.as_ref() == Some(&context.name),
                })
                .collect();
            show(output, &listed, |listed| {
                table(
                    output,
                    &["CURRENT", "NAME", "SERVER", "TOKEN FILE"],
                    &[],
                    listed.iter().map(|l| {
                        vec![
                            if l.current { "*" } else { "" }.to_string(),
                            l.context.name.clone(),
                            l.context.server.clone(),
                            l.context
                                .token_file
                                .as_ref()
                                .map_or("-".into(), |f| f.display().to_string()),
                        ]
                    }),
                )
            });
        }
        ContextCommand::Remove { name } => {
            config.find(name)?;
            config.contexts.retain(|c| &c.name != name);
            if config.current.as_ref() == Some(name) {
                config.current = None;
            }
            config.save(&file)?;
            if output.is_text() {
                println!("context {name} removed");
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// A token file others may read hands the server to them: say so (as ssh does of keys).
fn warn_if_shared(file: Option<&Path>) {
    #[cfg(unix)]
    if let Some(file) = file {
        use std::os::unix::fs::PermissionsExt;
        if let Ok(meta) = std::fs::metadata(file) {
            if meta.permissions().mode() & 0o077 != 0 {
                eprintln!(
                    "warning: {} may be read by other users: chmod 600 {}",
                    file.display(),
                    file.display()
                );
            }
        }
    }
}
