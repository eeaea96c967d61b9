//! Git hosts with an API (GitHub, GitLab): which host serves a repository, where its API
//! is, which project a URL names, and the words Promenade writes there — pull request
//! titles, bodies and the preview comment. Pure: the engine does the calling.

use crate::diff::EnvironmentDiff;
use crate::remote::{RemoteUrl, Transport};
use crate::resources::{Provider, Repository};

/// A repository on a host whose API Promenade calls.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HostedRepository {
    /// GitHub or GitLab.
    pub provider: Provider,
    /// The API root, without a trailing slash: `https://api.github.com`,
    /// `https://ghe.example.com/api/v3`, `https://gitlab.example.com/api/v4`.
    pub api_url: String,
    /// `owner/repo` on GitHub; the full `group/subgroup/project` path on GitLab.
    pub project: String,
}

/// The provider `repository` declares, or the one its URL's host implies.
pub fn provider_of(repository: &Repository) -> Provider {
    repository.provider.unwrap_or_else(|| {
        let host = RemoteUrl::parse(&repository.url)
            .map(|url| url.host.to_ascii_lowercase())
            .unwrap_or_default();
        match host.as_str() {
            "github.com" | "www.github.com" => Provider::Github,
            "gitlab.com" | "www.gitlab.com" => Provider::Gitlab,
            _ => Provider::Generic,
        }
    })
}

/// Where `repository`'s host API is and which project it is there; `None` for a
/// generic git server. The error says what is missing, for people.
pub fn hosted(repository: &Repository) -> Result<Option<HostedRepository>, String> {
    let provider = provider_of(repository);
    if provider == Provider::Generic {
        return Ok(None);
    }
    let url = RemoteUrl::parse(&repository.url)?;
    let api_url = match &repository.api_url {
        Some(api) => {
            let api = api.trim().trim_end_matches('/');
            if !(api.starts_with("https://") || api.starts_with("http://")) {
                return Err(format!(
                    "apiUrl {api:?} is not an http(s) URL, such as https://{}/api/v3",
                    if url.host.is_empty() {
                        "ghe.example.com"
                    } else {
                        &url.host
                    }
                ));
            }
            api.to_string()
        }
        None if url.transport == Transport::Local || url.host.is_empty() => {
            return Err(format!(
                "a {provider} repository on this server's disk needs `apiUrl`: where is its API?"
            ))
        }
        None => default_api_url(provider, &url.host),
    };
    let path = url.path.trim_matches('/');
    let path = path.strip_suffix(".git").unwrap_or(path);
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let project = match provider {
        // GitHub paths are always `owner/repo`; a path on disk keeps its last two parts.
        Provider::Github if segments.len() >= 2 => segments[segments.len() - 2..].join("/"),
        Provider::Gitlab if segments.len() >= 2 => segments.join("/"),
        _ => {
            return Err(format!(
                "{:?} does not name a {provider} project (owner/repository)",
                repository.url
            ))
        }
    };
    Ok(Some(HostedRepository {
        provider,
        api_url,
        project,
    }))
}

fn default_api_url(provider: Provider, host: &str) -> String {
    let host = host.to_ascii_lowercase();
    match (provider, host.as_str()) {
        (Provider::Github, "github.com" | "www.github.com") => "https://api.github.com".into(),
        (Provider::Github, _) => format!("https://{host}/api/v3"),
        _ => format!("https://{host}/api/v4"),
    }
}

/// One application in a pull request's body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BodyLine {
    /// Application name.
    pub application: String,
    /// The version promoted, when the template reads one.
    pub version: Option<String>,
    /// Files changed, lines added and removed.
    pub files: usize,
    /// Lines added.
    pub added: usize,
    /// Lines removed.
    pub removed: usize,
}

/// What a pull request says about its promotion.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PullRequestText<'a> {
    /// Product name.
    pub product: &'a str,
    /// Version promoted, when known.
    pub version: Option<&'a str>,
    /// Target environment.
    pub environment: &'a str,
    /// Release id.
    pub release: &'a str,
    /// Link to the release, when the server knows its public URL.
    pub release_url: Option<&'a str>,
}

/// Rows shown in a body before the rest is summed up: a host's page stays readable
/// and under its size limit for a product of thousands of applications.
const BODY_ROWS: usize = 200;

/// Bytes of diff shown in the preview comment, over all applications: GitHub refuses
/// comments over 65,536 characters.
const PREVIEW_BUDGET: usize = 60_000;

/// Lines of one application's diff shown before it is cut.
const PREVIEW_LINES_PER_APPLICATION: usize = 400;

/// The marker that finds Promenade's own preview comment among a request's comments.
pub const PREVIEW_MARKER: &str = "<!-- promenade:preview -->";

impl PullRequestText<'_> {
    /// `Promote shop 1.5.0 to prod`
    pub fn title(&self) -> String {
        match self.version {
            Some(version) => format!("Promote {} {version} to {}", self.product, self.environment),
            None => format!("Promote {} to {}", self.product, self.environment),
        }
    }

    fn release_link(&self) -> String {
        match self.release_url {
            Some(url) => format!("[{}]({url})", self.release),
            None => format!("`{}`", self.release),
        }
    }

    /// The applications, their versions and the size of their change, and the link to
    /// the release.
    pub fn body(&self, lines: &[BodyLine]) -> String {
        let mut body = format!(
            "Promenade promotes **{}** to **{}** in release {}.\n\n",
            self.title_subject(),
            self.environment,
            self.release_link()
        );
        let changed: Vec<&BodyLine> = lines.iter().filter(|l| l.files > 0).collect();
        let (files, added, removed) = changed.iter().fold((0, 0, 0), |(f, a, r), l| {
            (f + l.files, a + l.added, r + l.removed)
        });
        body.push_str(&format!(
            "{} of {} applications change: {files} files, +{added} −{removed} lines.\n\n",
            changed.len(),
            lines.len()
        ));
        body.push_str("| Application | Version | Files | Lines |\n|---|---|---:|---:|\n");
        for line in changed.iter().take(BODY_ROWS) {
            body.push_str(&format!(
                "| {} | {} | {} | +{} −{} |\n",
                escape_cell(&line.application),
                line.version.as_deref().map_or("—".into(), escape_cell),
                line.files,
                line.added,
                line.removed
            ));
        }
        if changed.len() > BODY_ROWS {
            body.push_str(&format!(
                "\n…and {} more applications; the release lists them all.\n",
                changed.len() - BODY_ROWS
            ));
        }
        body
    }

    fn title_subject(&self) -> String {
        match self.version {
            Some(version) => format!("{} {version}", self.product),
            None => self.product.to_string(),
        }
    }

    /// The preview comment: each application's unified diff, collapsed, cut where it
    /// grows too long for the host.
    pub fn preview(&self, diff: &EnvironmentDiff) -> String {
        let mut comment = format!(
            "{PREVIEW_MARKER}\n### Preview of {} → {}\n\n",
            self.title_subject(),
            self.environment
        );
        if diff.applications.is_empty() {
            comment.push_str("No application changes.\n");
            return comment;
        }
        let mut left_out = 0;
        for application in &diff.applications {
            let unified: String = application
                .files
                .iter()
                .map(|f| f.unified.as_str())
                .collect();
            let lines: Vec<&str> = unified.lines().collect();
            let shown = lines.len().min(PREVIEW_LINES_PER_APPLICATION);
            let mut text = lines[..shown].join("\n");
            if shown < lines.len() {
                text.push_str(&format!("\n… {} more lines", lines.len() - shown));
            }
            let section = format!(
                "<details><summary><b>{}</b> — {} files, +{} −{}</summary>\n\n```diff\n{}\n```\n\n</details>\n",
                escape_html(&application.application),
                application.files.len(),
                application.added,
                application.removed,
                text.replace("```", "` ` `")
            );
            if comment.len() + section.len() > PREVIEW_BUDGET {
                left_out += 1;
                continue;
            }
            comment.push_str(&section);
        }
        if left_out > 0 {
            comment.push_str(&format!(
                "\n…{left_out} more applications are too long to show here; the release {} has every diff.\n",
                self.release_link()
            ));
        }
        comment
    }
}

fn escape_cell(text: &str) -> String {
    text.replace('|', "\\|")
}

fn escape_html(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diff::{diff_file, ApplicationDiff};

    fn repository(url: &str) -> Repository {
        Repository {
            url: url.into(),
            branch: None,
            credentials: None,
            provider: None,
            api_url: None,
            api_credentials: None,
        }
    }

    #[test]
    fn providers_are_detected_from_the_host_or_declared() {
        let github = hosted(&repository("git@github.com:acme/gitops.git"))
            .unwrap()
            .unwrap();
        assert_eq!(
            (
                github.provider,
                github.api_url.as_str(),
                github.project.as_str()
            ),
            (Provider::Github, "https://api.github.com", "acme/gitops")
        );
        let gitlab = hosted(&repository("https://gitlab.com/acme/platform/gitops.git"))
            .unwrap()
            .unwrap();
        assert_eq!(
            (gitlab.api_url.as_str(), gitlab.project.as_str()),
            ("https://gitlab.com/api/v4", "acme/platform/gitops")
        );
        assert_eq!(
            hosted(&repository("https://git.example.com/acme/gitops.git")),
            Ok(None)
        );

        let mut enterprise = repository("https://ghe.example.com/acme/gitops.git");
        enterprise.provider = Some(Provider::Github);
        assert_eq!(
            hosted(&enterprise).unwrap().unwrap().api_url,
            "https://ghe.example.com/api/v3"
        );
        enterprise.api_url = Some("https://api.ghe.example.com/".into());
        assert_eq!(
            hosted(&enterprise).unwrap().unwrap().api_url,
            "https://api.ghe.example.com"
        );

        let mut declared_generic = repository("https://github.com/acme/gitops.git");
        declared_generic.provider = Some(Provider::Generic);
        assert_eq!(hosted(&declared_generic), Ok(None));
    }

    #[test]
    fn a_repository_on_disk_needs_an_api_url() {
        let mut local = repository("/srv/git/acme/gitops.git");
        local.provider = Some(Provider::Github);
        assert!(hosted(&local).unwrap_err().contains("needs `apiUrl`"));
        local.api_url = Some("http://127.0.0.1:9000".into());
        assert_eq!(hosted(&local).unwrap().unwrap().project, "acme/gitops");
        local.api_url = Some("ftp://x".into());
        assert!(hosted(&local).unwrap_err().contains("not an http(s) URL"));
    }

    fn text() -> PullRequestText<'static> {
        PullRequestText {
            product: "shop",
            version: Some("1.5.0"),
            environment: "prod",
            release: "01jrel",
            release_url: Some("https://promenade.example.com/releases/01jrel"),
        }
    }

    #[test]
    fn title_and_body_name_the_promotion() {
        assert_eq!(text().title(), "Promote shop 1.5.0 to prod");
        let body = text().body(&[
            BodyLine {
                application: "api".into(),
                version: Some("1.5.0".into()),
                files: 1,
                added: 2,
                removed: 1,
            },
            BodyLine {
                application: "web".into(),
                version: None,
                files: 0,
                added: 0,
                removed: 0,
            },
        ]);
        assert!(body.contains("[01jrel](https://promenade.example.com/releases/01jrel)"));
        assert!(body.contains("1 of 2 applications change: 1 files, +2 −1 lines."));
        assert!(body.contains("| api | 1.5.0 | 1 | +2 −1 |"));
        assert!(!body.contains("| web |"));
    }

    #[test]
    fn the_preview_collapses_each_application_and_stays_under_the_budget() {
        let small = ApplicationDiff::new(
            "api",
            vec![diff_file(
                "apps/api/prod/values.yaml",
                Some(b"v: 1\n"),
                Some(b"v: 2\n"),
            )
            .unwrap()],
        );
        let huge_text: String = (0..5_000)
            .map(|i| format!("line{i}: {}\n", "x".repeat(40)))
            .collect();
        let huge: Vec<ApplicationDiff> = (0..20)
            .map(|i| {
                ApplicationDiff::new(
                    format!("big{i}"),
                    vec![diff_file("big.yaml", None, Some(huge_text.as_bytes())).unwrap()],
                )
            })
            .collect();
        let mut applications = vec![small];
        applications.extend(huge);
        let comment = text().preview(&EnvironmentDiff::new("prod", applications));
        assert!(comment.starts_with(PREVIEW_MARKER));
        assert!(comment.contains("<summary><b>api</b> — 1 files, +1 −1</summary>"));
        assert!(comment.contains("-v: 1\n+v: 2"));
        assert!(comment.contains("\n… 4605 more lines\n```"));
        assert!(comment.len() <= PREVIEW_BUDGET + 500, "{}", comment.len());
        assert!(comment.contains("more applications are too long to show here"));
    }
}
