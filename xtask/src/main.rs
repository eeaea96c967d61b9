//! Project automation: `cargo xtask <command>`.
//!
//! It does what `cargo leptos build` does for this workspace (wasm front end, wasm-bindgen,
//! CSS and assets into the site folder, the server binary) without needing cargo-leptos
//! installed, because installing cargo-leptos costs a fresh machine about 15 minutes and
//! the front end builds on machines whose Rust has no wasm32 standard library (see
//! `docs/building.md`). `cargo leptos watch` keeps working for people who have it: the
//! workspace's `[[workspace.metadata.leptos]]` describes the same layout.
//!
//! Only the standard library is used so that this crate compiles in seconds.

use std::env;
use std::ffi::OsString;
use std::fs;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

const USAGE: &str = "\
usage: cargo xtask <command> [--release]

commands:
  build        build the browser bundle and the server into the target folder
  run [ARGS]   build, set up the demo once, then run `promenade serve ARGS`
  demo-argo [ARGS]
               the demo on http://127.0.0.1:3000 with Argo CD and Argo Workflows
               stand-ins: qa runs a pre-action workflow, waits for Argo CD to be
               synced and healthy at its commit, then a post-action workflow
               (data in ./data-argo)
  test         every check CI runs: fmt, clippy, tests (SQLite, then the integration
               suites on PostgreSQL), the API against its document, the manifests,
               every browser test on the release bundles, bundle sizes
  e2e [ARGS]   build, then run the browser tests only (ARGS go to Playwright)
  wasm-check   build the `model` crate for wasm32-unknown-unknown
  manifests    check the Dockerfile (hadolint, pinned images and tools) and deploy/
               (Kubernetes schemas, ServiceMonitor, compose file), offline
  api          the API against its OpenAPI document: generated requests to a live
               demo server (schemathesis), no server error, undocumented status or
               answer off its schema
  bundle-size  build the release browser bundles, run the browser tests tagged
               @release against them, then print their sizes against their
               budgets (fails on a page error or over budget)
  bench-ui [N] the dashboard of a product of N applications (default 1000) × 6
               environments in headless Chromium, on the optimised server and
               bundles: HTML size, time to usable, filter, live update

options:
  --release    optimised server and size-optimised browser bundle (wasm-opt)

environment:
  CARGO_TARGET_DIR           where builds go (default: <workspace>/target)
  PROMENADE_WASM_TOOLCHAIN   `rustup` (toolchain with the wasm32 target) or `debweb`
                             (Debian's rustc with -Zbuild-std); detected when unset";

const WASM_TARGET: &str = "wasm32-unknown-unknown";
/// The name the CSS is published under, shared by every bundle.
const STYLE_NAME: &str = "promenade";
/// The browser bundles, one per group of pages, named as `promenade_app::bundle::Bundle`
/// names them; the server picks one per page.
const BUNDLES: [Bundle; 3] = [
    Bundle {
        package: "promenade-frontend",
        name: "promenade",
        // Raised from 600 KB with release control, the paged dashboard and the release
        // page's comparisons (docs/performance.md, "Browser bundle size").
        gzip_budget: 680_000,
    },
    Bundle {
        package: "promenade-frontend-designer",
        name: "promenade-designer",
        gzip_budget: 800_000,
    },
    Bundle {
        package: "promenade-frontend-settings",
        name: "promenade-settings",
        gzip_budget: 400_000,
    },
];
/// The crate of the `promenade` binary (`serve` and the CLI).
const SERVER: &str = "promenade-cli";
/// The browser tests `bundle-size` runs against the release bundles before measuring
/// them: together they open every page and use every bundle.
const RELEASE_TAG: &str = "@release";
const MODEL: &str = "promenade-model";

type Result<T = (), E = String> = std::result::Result<T, E>;

/// A wasm entry crate and the file name its bundle is published under in `pkg/`.
struct Bundle {
    package: &'static str,
    name: &'static str,
    /// Bytes of the release wasm file after `gzip -9`: what a browser downloads.
    gzip_budget: u64,
}

impl Bundle {
    /// The file cargo writes for the crate (`-` becomes `_` in library names).
    fn wasm_file(&self) -> String {
        format!("{}.wasm", self.package.replace('-', "_"))
    }
}

fn main() -> ExitCode {
    let mut args: Vec<String> = env::args().skip(1).collect();
    // Benchmarks measure what ships: the optimised server and bundles.
    let release =
        take_flag(&mut args, "--release") || args.first().is_some_and(|c| c == "bench-ui");
    let Some(command) = (!args.is_empty()).then(|| args.remove(0)) else {
        eprintln!("{USAGE}");
        return ExitCode::from(2);
    };
    let mut xtask = match Xtask::new(release) {
        Ok(x) => x,
        Err(e) => return fail(&e),
    };
    let outcome = match command.as_str() {
        "build" => xtask.build(),
        "run" => xtask.build().and_then(|()| xtask.run(&args)),
        "demo-argo" => xtask.build().and_then(|()| xtask.demo_argo(&args)),
        "test" => xtask.test(),
        "e2e" => xtask.build().and_then(|()| xtask.e2e(&args)),
        "wasm-check" => xtask.wasm_check(),
        "manifests" => xtask.check_deployment(),
        "api" => xtask
            .build_server()
            .and_then(|()| xtask.check_api_conformance()),
        "bundle-size" => xtask.check_release_bundles(&["--grep".into(), RELEASE_TAG.into()]),
        "bench-ui" => xtask.build().and_then(|()| xtask.bench_ui(&args)),
        "help" | "--help" | "-h" => {
            println!("{USAGE}");
            Ok(())
        }
        other => Err(format!("unknown command `{other}`\n\n{USAGE}")),
    };
    xtask.report();
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(&e),
    }
}

fn fail(message: &str) -> ExitCode {
    eprintln!("xtask: error: {message}");
    ExitCode::FAILURE
}

fn take_flag(args: &mut Vec<String>, flag: &str) -> bool {
    let before = args.len();
    args.retain(|a| a != flag);
    args.len() != before
}

/// How this machine builds Rust for wasm32.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum WasmToolchain {
    /// The active toolchain has the wasm32 standard library (`rustup target add`).
    Rustup,
    /// Debian's `rustc-web` linked as the rustup toolchain `debweb`, building the standard
    /// library from `rust-web-src` (the offline recipe of `docs/building.md`).
    Debweb,
}

struct Xtask {
    root: PathBuf,
    target_dir: PathBuf,
    /// Size-optimised browser bundles (`wasm-release` profile and wasm-opt).
    release: bool,
    /// The optimised server binary.
    server_release: bool,
    /// The debug binary is up to date: `cargo test` built it for the CLI's tests. A
    /// `cargo build` after it would compile the workspace again, because dev-dependencies
    /// turn on features of shared crates (a minute or two of every test run).
    server_built: bool,
    /// Native builds of the workspace's crates go through clippy-driver with its lints
    /// as errors, so the test build is the lint run too (see [`Xtask::test`]).
    lint: bool,
    wasm: WasmToolchain,
    timings: Vec<(String, Duration)>,
}

impl Xtask {
    fn new(release: bool) -> Result<Self> {
        // Read at run time: `cargo run` sets it for the checkout being built, whereas a
        // compile-time value would point at whichever checkout first built this binary
        // into a shared target folder.
        let manifest_dir = env::var_os("CARGO_MANIFEST_DIR")
            .ok_or("run this through `cargo xtask`, which sets CARGO_MANIFEST_DIR")?;
        let root = Path::new(&manifest_dir)
            .parent()
            .ok_or("xtask is not inside the workspace")?
            .to_path_buf();
        let target_dir = env::var_os("CARGO_TARGET_DIR")
            .map(PathBuf::from)
            .map(|p| if p.is_absolute() { p } else { root.join(p) })
            .unwrap_or_else(|| root.join("target"));
        Ok(Self {
            wasm: detect_wasm_toolchain()?,
            root,
            target_dir,
            release,
            server_release: release,
            server_built: false,
            lint: false,
            timings: Vec::new(),
        })
    }

    /// The site folder of this build: debug and release bundles live apart, so the
    /// browser tests can run against each and the release one is never a stale mix.
    fn site_root(&self) -> PathBuf {
        self.target_dir
            .join(if self.release { "site-release" } else { "site" })
    }

    fn server_binary(&self) -> PathBuf {
        let profile = if self.server_release {
            "release"
        } else {
            "debug"
        };
        self.target_dir.join(profile).join("promenade")
    }

    fn build(&mut self) -> Result {
        self.build_bundle()?;
        self.build_server()
    }

    fn build_server(&mut self) -> Result {
        if self.server_built {
            return Ok(());
        }
        self.step("server binary", |x| {
            let mut cargo = x.cargo(&["build", "-p", SERVER]);
            if x.server_release {
                cargo.arg("--release");
            }
            run(&mut cargo)
        })
    }

    /// The browser side: wasm, JS glue, CSS and static assets, laid out as cargo-leptos
    /// does under `<target>/site`.
    fn build_bundle(&mut self) -> Result {
        // The glue must be generated by the CLI of the exact crate version.
        check_wasm_bindgen(&self.root)?;
        for bundle in &BUNDLES {
            self.build_one_bundle(bundle)?;
        }
        let pkg = self.pkg_dir();
        self.step("styles and assets", |x| {
            fs::create_dir_all(&pkg).map_err(|e| format!("{}: {e}", pkg.display()))?;
            copy(
                &x.root.join("style/main.css"),
                &pkg.join(format!("{STYLE_NAME}.css")),
            )?;
            copy_dir(&x.root.join("assets"), &x.site_root())
        })
    }

    fn build_one_bundle(&mut self, bundle: &Bundle) -> Result {
        let profile = if self.release { "wasm-release" } else { "dev" };
        // One cargo run per bundle: built together, cargo would unify `app`'s features
        // and put every page into each.
        self.step(&format!("{} (wasm32)", bundle.package), |x| {
            let mut cargo = x.wasm_cargo(&["build", "-p", bundle.package, "--profile", profile]);
            run(cargo.arg("--lib"))
        })?;
        let wasm_dir = if self.release {
            "wasm-release"
        } else {
            "debug"
        };
        let wasm = self
            .target_dir
            .join(WASM_TARGET)
            .join(wasm_dir)
            .join(bundle.wasm_file());
        let pkg = self.pkg_dir();
        self.step(&format!("wasm-bindgen {}", bundle.name), |x| {
            let mut bindgen = Command::new("wasm-bindgen");
            bindgen
                .arg("--target")
                .arg("web")
                .arg("--no-typescript")
                .arg("--out-name")
                .arg(bundle.name)
                .arg("--out-dir")
                .arg(&pkg)
                .arg(&wasm)
                .current_dir(&x.root);
            run(&mut bindgen)
        })?;
        if self.release {
            self.optimise(bundle, &pkg.join(format!("{}_bg.wasm", bundle.name)))?;
        }
        Ok(())
    }

    /// Runs the pinned wasm-opt on `file` in place. It is most of a warm release build,
    /// so its last output per bundle is kept (`<target>/wasm-opt/`) and reused while
    /// wasm-bindgen writes the same bytes and the flags stay the same.
    fn optimise(&mut self, bundle: &Bundle, file: &Path) -> Result {
        // -O1, not -Oz: with binaryen 132 and these bundles it makes smaller downloads
        // (gzipped) in a quarter of the time (docs/performance.md).
        const FLAGS: [&str; 5] = [
            "-O1",
            "--enable-bulk-memory",
            "--enable-nontrapping-float-to-int",
            "--enable-sign-ext",
            "--enable-mutable-globals",
        ];
        let wasm_opt = self.wasm_opt()?;
        let input = fs::read(file).map_err(|e| format!("{}: {e}", file.display()))?;
        let key = {
            use std::hash::{Hash, Hasher};
            let mut hasher = std::collections::hash_map::DefaultHasher::new();
            (input, FLAGS, wasm_opt.as_os_str()).hash(&mut hasher);
            hasher.finish()
        };
        let cache_dir = self.target_dir.join("wasm-opt");
        let cached = cache_dir.join(format!("{}-{key:016x}.wasm", bundle.name));
        if cached.is_file() {
            println!(
                "==> wasm-opt {}: unchanged input, reusing its output",
                bundle.name
            );
            return copy(&cached, file);
        }
        self.step(&format!("wasm-opt {}", bundle.name), |_| {
            let mut opt = Command::new(&wasm_opt);
            opt.args(FLAGS).arg("-o").arg(file).arg(file);
            run(&mut opt)
        })?;
        // One entry per bundle: the newest.
        fs::create_dir_all(&cache_dir).map_err(|e| format!("{}: {e}", cache_dir.display()))?;
        let prefix = format!("{}-", bundle.name);
        for old in fs::read_dir(&cache_dir).into_iter().flatten().flatten() {
            let name = old.file_name().to_string_lossy().into_owned();
            // `promenade-…` must not match `promenade-designer-…`: the rest is the key.
            let is_ours = name
                .strip_prefix(&prefix)
                .and_then(|rest| rest.strip_suffix(".wasm"))
                .is_some_and(|key| key.len() == 16 && key.chars().all(|c| c.is_ascii_hexdigit()));
            if is_ours {
                let _ = fs::remove_file(old.path());
            }
        }
        copy(file, &cached)
    }

    /// The pinned wasm-opt of `tools/` (binaryen from npm, run by Node). Other versions
    /// are refused: Debian's binaryen 108 writes bundles that fail at start-up in the
    /// browser with this wasm-bindgen, without any error at build time.
    fn wasm_opt(&self) -> Result<PathBuf> {
        let tools = self.root.join("tools");
        let wanted = npm_locked_version(&tools, "binaryen")?;
        let wasm_opt = tools.join("node_modules/.bin/wasm-opt");
        let output = Command::new(&wasm_opt)
            .arg("--version")
            .output()
            .map_err(|e| format!("{}: {e}: run scripts/bootstrap", wasm_opt.display()))?;
        // It prints `wasm-opt version 132 (version_132)`; npm's package is `132.0.0`.
        let installed = String::from_utf8_lossy(&output.stdout);
        let major = wanted.split('.').next().unwrap_or(&wanted);
        if installed.split_whitespace().nth(2) == Some(major) {
            Ok(wasm_opt)
        } else {
            Err(format!(
                "{} says {:?}, tools/package-lock.json pins binaryen {wanted}: run scripts/bootstrap",
                wasm_opt.display(),
                installed.trim()
            ))
        }
    }

    fn pkg_dir(&self) -> PathBuf {
        self.site_root().join("pkg")
    }

    /// What ships to browsers, checked: builds the release bundles, runs browser tests
    /// against them (`e2e_args` picks which: `make test` runs all of them,
    /// `bundle-size` those tagged `@release`, which open every page; any page error
    /// fails), then measures what a browser downloads for each bundle. Only bundles that
    /// passed are measured.
    ///
    /// The server is the release binary with `--release`; without, the debug one, which
    /// renders the same pages and saves `make test` a second optimised build of the
    /// whole server (docs/building.md).
    fn check_release_bundles(&mut self, e2e_args: &[String]) -> Result {
        self.build_server()?;
        let release = std::mem::replace(&mut self.release, true);
        let checked = self.build_bundle().and_then(|()| self.e2e(e2e_args));
        let site = self.site_root();
        self.release = release;
        checked?;
        let mut over = Vec::new();
        println!("\nbundle                    raw      gzip -9   budget (gzip)");
        for bundle in &BUNDLES {
            let file = site.join("pkg").join(format!("{}_bg.wasm", bundle.name));
            let raw = fs::metadata(&file)
                .map_err(|e| format!("{}: {e}", file.display()))?
                .len();
            let gzipped = gzipped_size(&file)?;
            println!(
                "{:<22} {:>9} {:>10} {:>10}",
                bundle.name,
                kilobytes(raw),
                kilobytes(gzipped),
                kilobytes(bundle.gzip_budget)
            );
            if gzipped > bundle.gzip_budget {
                over.push(bundle.name);
            }
        }
        if over.is_empty() {
            Ok(())
        } else {
            Err(format!("over budget: {}", over.join(", ")))
        }
    }

    fn run(&mut self, args: &[String]) -> Result {
        // The demo is created once and left alone afterwards.
        let mut demo = Command::new(self.server_binary());
        demo.arg("demo").current_dir(&self.root);
        run(&mut demo)?;
        let mut serve = Command::new(self.server_binary());
        // The demo's repository is on this disk.
        serve
            .arg("serve")
            .arg("--allow-local-repositories")
            .args(args)
            .env("LEPTOS_SITE_ROOT", self.site_root())
            .current_dir(&self.root);
        println!(
            "==> promenade serve --allow-local-repositories {}",
            args.join(" ")
        );
        run(&mut serve)
    }

    /// The demo pointed at `fake-argo`: loopback stand-ins for Argo CD (auto-synced
    /// Applications that progress for a while after each commit) and the Argo Server
    /// (workflows that succeed after a few reads), with a qa policy that uses both.
    fn demo_argo(&mut self, args: &[String]) -> Result {
        const TOKEN: &str = "argo-demo-token";
        const SERVER: &str = "http://127.0.0.1:3000";
        run(&mut self.cargo(&["build", "-p", "promenade-testkit", "--bin", "fake-argo"]))?;
        let data = self.root.join("data-argo");
        let promenade = |args: &[&str]| {
            let mut command = Command::new(self.server_binary());
            command
                .args(args)
                .env("PROMENADE_DATA_DIR", &data)
                .env("PROMENADE_SERVER", SERVER)
                .current_dir(&self.root);
            command
        };
        run(&mut promenade(&["demo"]))?;
        let (argocd, workflows) = (free_port()?, free_port()?);
        let mut fakes = Command::new(self.target_dir.join("debug").join("fake-argo"))
            .args(["--argocd-addr", &format!("127.0.0.1:{argocd}")])
            .args(["--workflows-addr", &format!("127.0.0.1:{workflows}")])
            .args(["--token", TOKEN, "--repository"])
            .arg(data.join("demo/gitops.git"))
            .spawn()
            .map_err(|e| format!("cannot start fake-argo: {e}"))?;
        let argocd_url = format!("http://127.0.0.1:{argocd}");
        let workflows_url = format!("http://127.0.0.1:{workflows}");
        let mut serve = promenade(&[
            "serve",
            "--allow-local-repositories",
            // The stand-ins listen on loopback.
            "--allow-outbound",
            "127.0.0.1",
            "--argocd-server",
            &argocd_url,
            "--argocd-credentials",
            "argo",
            "--argo-workflows-server",
            &workflows_url,
            "--argo-workflows-credentials",
            "argo",
        ]);
        serve.args(args).env("LEPTOS_SITE_ROOT", self.site_root());
        let mut server = serve
            .spawn()
            .map_err(|e| format!("cannot start promenade: {e}"))?;
        let outcome = (|| {
            wait_for_port(3000)?;
            // The token both stand-ins accept, stored as Promenade stores every secret.
            let stored = secret_into(
                &mut promenade(&["credentials", "create", "argo", "--kind", "token"]),
                TOKEN,
            )
            .or_else(|_| secret_into(&mut promenade(&["credentials", "rotate", "argo"]), TOKEN));
            stored?;
            let policy = data.join("argo-policy.yaml");
            fs::write(&policy, ARGO_POLICY).map_err(|e| e.to_string())?;
            run(&mut promenade(&["apply", "-f", &policy.to_string_lossy()]))?;
            println!(
                "==> Argo CD at {argocd_url}, the Argo Server at {workflows_url}\n\
                 ==> sign in at {SERVER} as admin (password in {}), then promote shop to qa\n\
                 ==> or: PROMENADE_DATA_DIR=data-argo promenade promote shop --to qa --wait",
                data.join("admin-password").display()
            );
            server.wait().map_err(|e| e.to_string()).map(|_| ())
        })();
        let _ = server.kill();
        let _ = fakes.kill();
        let _ = fakes.wait();
        outcome
    }

    fn test(&mut self) -> Result {
        self.step("cargo fmt --check", |x| {
            run(&mut x.cargo(&["fmt", "--all", "--check"]))
        })?;
        let exclude_frontends = BUNDLES.iter().flat_map(|b| ["--exclude", b.package]);
        // One compilation of the workspace instead of two: `cargo clippy` would check
        // every dependency on its own (minutes on a fresh machine) only to lint the
        // crates the test build compiles anyway.
        run(Command::new("clippy-driver")
            .arg("-V")
            .stdout(Stdio::null()))
        .map_err(|e| format!("clippy is missing (`rustup component add clippy`): {e}"))?;
        self.lint = true;
        self.step("cargo clippy and test build", |x| {
            let mut build = x.cargo(&["test", "--workspace", "--all-targets", "--no-run"]);
            run(build.args(exclude_frontends.clone()))
        })?;
        // The front ends and the `app` crate's hydrate-only code (with and without the
        // designer), which the workspace build above does not compile: with rustup's
        // toolchain the release bundles' build lints them (see `wasm_cargo`); Debian's
        // wasm compiler has no clippy, so then natively.
        let native_front_end_lints = self.wasm != WasmToolchain::Rustup;
        for bundle in BUNDLES.iter().filter(|_| native_front_end_lints) {
            self.step(&format!("cargo clippy ({})", bundle.package), |x| {
                run(&mut x.cargo(&[
                    "clippy",
                    "-p",
                    bundle.package,
                    "--all-targets",
                    "--",
                    "-D",
                    "warnings",
                ]))
            })?;
        }
        self.step("cargo test", |x| {
            let mut test = x.cargo(&["test", "--workspace"]);
            run(test.args(exclude_frontends.clone()))
        })?;
        // The integration suites again (the engine's, the API's and the CLI's are the
        // ones with a database), each test on a fresh database of a PostgreSQL server
        // the suite starts itself. The same package selection as above, so cargo
        // resolves the same features and reuses the test binaries instead of building
        // them again.
        self.step("cargo test (PostgreSQL)", |x| {
            let mut test = x.cargo(&["test", "--workspace"]);
            test.args(exclude_frontends.clone()).args(["--test", "*"]);
            run(test.env("PROMENADE_TEST_DATABASE", "postgres"))
        })?;
        self.server_built = !self.server_release;
        self.check_api_conformance()?;
        self.check_deployment()?;
        // Every browser test, once, on what ships: the release bundles. Building them
        // also shows that `model` builds for wasm32 (`cargo xtask wasm-check` alone).
        self.check_release_bundles(&[])
    }

    /// The API against its own OpenAPI document, as the pinned schemathesis of
    /// tools/venv sees it: requests generated from the document (valid and invalid
    /// parameters and bodies, a fixed budget and seed) sent to a live demo server with
    /// an administrator's token. Fails on a server error, a status the document does not
    /// list, an answer that is not of its documented type or schema, or an invalid
    /// request accepted. Bodies the document describes loosely (YAML, free-form objects)
    /// are the engine's to judge, so valid-looking ones answered 422 are not failures.
    fn check_api_conformance(&mut self) -> Result {
        let schemathesis = self.root.join("tools/venv/bin/schemathesis");
        if !schemathesis.is_file() {
            return Err("tools/venv is missing: run scripts/bootstrap".into());
        }
        let binary = self.server_binary();
        let data = env::temp_dir().join(format!("promenade-api-{}", std::process::id()));
        let _ = fs::remove_dir_all(&data);
        run(Command::new(&binary)
            .args(["demo", "--output", "json"])
            .env("PROMENADE_DATA_DIR", &data)
            .stdout(Stdio::null()))?;
        let port = free_port()?;
        let mut server = Command::new(&binary)
            .args([
                "serve",
                "--allow-local-repositories",
                "--poll-interval",
                "0s",
            ])
            .args(["--addr", &format!("127.0.0.1:{port}")])
            .env("PROMENADE_DATA_DIR", &data)
            .env("RUST_LOG", "error")
            .stdout(Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", binary.display()))?;
        let checked = self.step("API conformance", |_| {
            let token = wait_for_server(port, &data.join("admin-token"))?;
            run(Command::new(&schemathesis)
                .arg("run")
                .arg(format!("http://127.0.0.1:{port}/api/v1/openapi.json"))
                .args(["--header", &format!("Authorization: Bearer {token}")])
                .args(["--checks", API_CHECKS])
                .args(["--phases", "examples,coverage,fuzzing"])
                // One worker: hypothesis's lambda introspection is not thread-safe on
                // Python 3.11 (a run with two failed inside schemathesis, not the API).
                .args(["--max-examples", "4", "--seed", "1", "--workers", "1"])
                .args(["--no-color", "--output-sanitize", "true"])
                .current_dir(&data))
        });
        let _ = server.kill();
        let _ = server.wait();
        let _ = fs::remove_dir_all(&data);
        checked
    }

    /// What can be known offline of how Promenade is deployed: the Dockerfile (an image
    /// cannot be built without a container runtime), then `deploy/kubernetes/` against
    /// the Kubernetes API's schemas, strict (unknown fields are errors), with the pinned
    /// kubernetes-validate of tools/venv; then the ServiceMonitor against those
    /// manifests (its CRD's schema is not shipped), and `deploy/compose.yaml` with its
    /// proxy's configuration (`nginx -t`).
    fn check_deployment(&mut self) -> Result {
        let validate = self.root.join("tools/venv/bin/kubernetes-validate");
        let hadolint = self.root.join("tools/venv/bin/hadolint");
        if !validate.is_file() || !hadolint.is_file() {
            return Err("tools/venv is missing or old: run scripts/bootstrap".into());
        }
        self.step("Dockerfile", |x| {
            run(Command::new(&hadolint)
                .arg("--config")
                .arg(x.root.join(".hadolint.yaml"))
                .arg(x.root.join("Dockerfile")))?;
            let file = x.root.join("Dockerfile");
            let text = fs::read_to_string(&file).map_err(|e| format!("{}: {e}", file.display()))?;
            let problems = dockerfile_problems(&text, &locked_version(&x.root, "wasm-bindgen")?);
            if problems.is_empty() {
                Ok(())
            } else {
                Err(problems.join("\n"))
            }
        })?;
        let folder = self.root.join("deploy/kubernetes");
        let mut manifests: Vec<PathBuf> = fs::read_dir(&folder)
            .map_err(|e| format!("{}: {e}", folder.display()))?
            .filter_map(|entry| entry.ok().map(|e| e.path()))
            .filter(|path| path.extension().is_some_and(|e| e == "yaml"))
            .collect();
        manifests.sort();
        if manifests.is_empty() {
            return Err(format!("no manifests in {}", folder.display()));
        }
        self.step("Kubernetes manifests", |_| {
            run(Command::new(&validate)
                .args(["--strict", "--quiet"])
                .args(&manifests))
        })?;
        let python = self.root.join("tools/venv/bin/python");
        for (name, check) in [
            ("ServiceMonitor", "deploy/kubernetes/monitoring/check.py"),
            ("Compose file", "deploy/compose/check.py"),
        ] {
            let check = self.root.join(check);
            self.step(name, |_| run(Command::new(&python).arg(&check)))?;
        }
        Ok(())
    }

    fn wasm_check(&mut self) -> Result {
        self.step("model for wasm32", |x| {
            run(&mut x.wasm_cargo(&["build", "-p", MODEL]))
        })
    }

    /// `end2end/bench/dashboard.mjs` against the binary and bundles of this build.
    fn bench_ui(&mut self, args: &[String]) -> Result {
        let end2end = self.root.join("end2end");
        let (binary, site) = (self.server_binary(), self.site_root());
        self.step("dashboard benchmark (Chromium)", |_| {
            run(Command::new("node")
                .arg("bench/dashboard.mjs")
                .args(args)
                .env("PROMENADE_BIN", &binary)
                .env("PROMENADE_SITE_ROOT", &site)
                .current_dir(&end2end))
        })
    }

    /// `args` go to Playwright, e.g. `-g "hydrates"` to run the matching tests only.
    fn e2e(&mut self, args: &[String]) -> Result {
        let end2end = self.root.join("end2end");
        if !end2end.join("node_modules/@playwright/test").is_dir() {
            return Err("end2end/node_modules is missing: run scripts/bootstrap".into());
        }
        let port = free_port()?;
        // Stand-ins for GitHub's API, Argo CD and the Argo Server, which the pull request
        // and Argo tests point the demo at.
        run(&mut self.cargo(&[
            "build",
            "-p",
            "promenade-testkit",
            "--bin",
            "fake-git-host",
            "--bin",
            "fake-argo",
        ]))?;
        let fake_host = self.target_dir.join("debug").join("fake-git-host");
        let fake_argo = self.target_dir.join("debug").join("fake-argo");
        let fake_port = free_port()?;
        let (argocd_port, workflows_port) = (free_port()?, free_port()?);
        // The server of this xtask's profile, serving the bundles of the build at hand.
        let binary = self.server_binary();
        let site = self.site_root();
        // A fresh data folder with the demo in it, which the tests sign in to and use.
        let data = env::temp_dir().join(format!("promenade-e2e-{}-{port}", std::process::id()));
        let _ = fs::remove_dir_all(&data);
        let mut demo = Command::new(&binary);
        demo.args(["demo", "--output", "json"])
            .env("PROMENADE_DATA_DIR", &data)
            .stdout(Stdio::null());
        run(&mut demo)?;
        let bundles = if self.release { "release" } else { "debug" };
        let outcome = self.step(
            &format!("browser tests (Chromium, {bundles} bundles)"),
            |_| {
                let mut npx = Command::new("npx");
                npx.args(["--no-install", "playwright", "test"])
                    .args(args)
                    .env("PROMENADE_BIN", &binary)
                    .env("PROMENADE_SITE_ROOT", &site)
                    .env("PROMENADE_E2E_PORT", port.to_string())
                    .env("PROMENADE_E2E_DATA", &data)
                    .env("PROMENADE_E2E_BUNDLES", bundles)
                    .env("PROMENADE_FAKE_HOST_BIN", &fake_host)
                    .env("PROMENADE_FAKE_HOST_PORT", fake_port.to_string())
                    .env("PROMENADE_FAKE_ARGO_BIN", &fake_argo)
                    .env("PROMENADE_FAKE_ARGOCD_PORT", argocd_port.to_string())
                    .env("PROMENADE_FAKE_WORKFLOWS_PORT", workflows_port.to_string())
                    .current_dir(&end2end);
                run(&mut npx)
            },
        );
        let _ = fs::remove_dir_all(&data);
        outcome
    }

    /// A native cargo command: the same cargo (and toolchain) that runs this xtask.
    fn cargo(&self, args: &[&str]) -> Command {
        let mut cargo = Command::new(env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
        cargo.args(args).current_dir(&self.root);
        without_run_variables(&mut cargo);
        if self.lint {
            // What `cargo clippy -- -D warnings` sets up, on any cargo command: cargo
            // hands the workspace's crates (not the dependencies) to clippy-driver,
            // which compiles them as rustc does and lints them. `CLIPPY_ARGS` is how
            // cargo-clippy passes lint flags to the driver.
            cargo.env("RUSTC_WORKSPACE_WRAPPER", "clippy-driver").env(
                "CLIPPY_ARGS",
                "-D__CLIPPY_HACKERY__warnings__CLIPPY_HACKERY__",
            );
        }
        cargo
    }

    /// A cargo command for the wasm32 target, with whatever this machine needs for it;
    /// linted like [`Xtask::cargo`] with rustup's toolchain.
    fn wasm_cargo(&self, args: &[&str]) -> Command {
        match self.wasm {
            WasmToolchain::Rustup => {
                let mut cargo = self.cargo(args);
                cargo.args(["--target", WASM_TARGET]);
                cargo
            }
            WasmToolchain::Debweb => {
                // Through the rustup proxy, so `+debweb` selects Debian's compiler for this
                // build and everything it spawns.
                let mut cargo = Command::new("cargo");
                without_run_variables(&mut cargo);
                cargo
                    .arg("+debweb")
                    .args(args)
                    .args(["--target", WASM_TARGET, "-Zbuild-std=std,panic_abort"])
                    .env_remove("RUSTUP_TOOLCHAIN")
                    .env_remove("CARGO")
                    .env_remove("RUSTC")
                    .env("RUSTC_BOOTSTRAP", "1")
                    .env("CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_LINKER", "wasm-ld")
                    .current_dir(&self.root);
                cargo
            }
        }
    }

    fn step(&mut self, name: &str, body: impl FnOnce(&Self) -> Result) -> Result {
        println!("==> {name}");
        let started = Instant::now();
        let outcome = body(self);
        self.timings.push((name.to_string(), started.elapsed()));
        outcome.map_err(|e| format!("{name}: {e}"))
    }

    fn report(&self) {
        if self.timings.len() < 2 {
            return;
        }
        println!("\nxtask steps (wasm toolchain: {:?}):", self.wasm);
        for (name, took) in &self.timings {
            println!("  {:>7.1}s  {name}", took.as_secs_f64());
        }
        let total: Duration = self.timings.iter().map(|(_, t)| *t).sum();
        println!("  {:>7.1}s  total", total.as_secs_f64());
    }
}

/// Leaves out what `cargo run` told this xtask about itself (`CARGO_MANIFEST_DIR`,
/// `CARGO_PKG_NAME`, …). Build scripts such as ring's ask cargo to rerun them when those
/// change, and cargo compares its own environment: a build started from here would
/// otherwise redo them, and every crate above them, after any plain `cargo build` (or
/// the Dockerfile's dependency layers) and the other way round.
fn without_run_variables(command: &mut Command) {
    for (name, _) in env::vars_os() {
        let Some(name) = name.to_str() else { continue };
        if name.starts_with("CARGO_PKG_")
            || matches!(
                name,
                "CARGO_MANIFEST_DIR"
                    | "CARGO_MANIFEST_PATH"
                    | "CARGO_CRATE_NAME"
                    | "CARGO_BIN_NAME"
            )
        {
            command.env_remove(name);
        }
    }
}

fn detect_wasm_toolchain() -> Result<WasmToolchain> {
    match env::var("PROMENADE_WASM_TOOLCHAIN").as_deref() {
        Ok("rustup") => return Ok(WasmToolchain::Rustup),
        Ok("debweb") => return Ok(WasmToolchain::Debweb),
        Ok(other) => {
            return Err(format!(
                "PROMENADE_WASM_TOOLCHAIN={other:?}: expected `rustup` or `debweb`"
            ))
        }
        Err(_) => {}
    }
    let rustc = env::var_os("RUSTC").unwrap_or_else(|| OsString::from("rustc"));
    let output = Command::new(rustc)
        .args(["--print", "target-libdir", "--target", WASM_TARGET])
        .output()
        .map_err(|e| format!("cannot run rustc: {e}"))?;
    let libdir = PathBuf::from(String::from_utf8_lossy(&output.stdout).trim());
    let has_std = fs::read_dir(&libdir)
        .map(|entries| {
            entries
                .flatten()
                .any(|e| e.file_name().to_string_lossy().starts_with("libstd-"))
        })
        .unwrap_or(false);
    if has_std {
        return Ok(WasmToolchain::Rustup);
    }
    let toolchains = Command::new("rustup")
        .args(["toolchain", "list"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default();
    if toolchains.lines().any(|l| l.starts_with("debweb")) {
        Ok(WasmToolchain::Debweb)
    } else {
        Err(format!(
            "no way to build for {WASM_TARGET}: the active toolchain lacks its standard \
             library and the `debweb` toolchain is missing; run scripts/bootstrap"
        ))
    }
}

/// Fails unless the installed wasm-bindgen CLI has the version of the crate in Cargo.lock:
/// a mismatch produces glue that fails at run time in the browser.
fn check_wasm_bindgen(root: &Path) -> Result {
    let wanted = locked_version(root, "wasm-bindgen")?;
    let output = Command::new("wasm-bindgen")
        .arg("--version")
        .output()
        .map_err(|e| format!("wasm-bindgen CLI not found ({e}): run scripts/bootstrap"))?;
    let installed = String::from_utf8_lossy(&output.stdout);
    match installed.split_whitespace().nth(1) {
        Some(v) if v == wanted => Ok(()),
        other => Err(format!(
            "wasm-bindgen CLI {} installed, Cargo.lock wants {wanted}: run scripts/bootstrap",
            other.unwrap_or("(unknown)")
        )),
    }
}

/// What hadolint does not check in the Dockerfile: every base image pinned to an exact
/// version (`rust:1.95.0-bookworm`, `debian:12.12-slim`, or a digest; not `rust:1` or
/// `debian:bookworm-slim`, which move under the build), and the wasm-bindgen CLI it
/// installs being the version Cargo.lock has (another one generates glue the bundle
/// does not fit).
fn dockerfile_problems(dockerfile: &str, wasm_bindgen: &str) -> Vec<String> {
    let mut problems = Vec::new();
    let mut stages: Vec<&str> = Vec::new();
    let mut installs_wasm_bindgen = false;
    for (number, line) in dockerfile.lines().enumerate() {
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            ["FROM", image, rest @ ..] => {
                if !stages.contains(image) && !pinned(image) {
                    problems.push(format!(
                        "Dockerfile:{}: `{image}` is not pinned to an exact version",
                        number + 1
                    ));
                }
                if let [as_, stage] = rest {
                    if as_.eq_ignore_ascii_case("as") {
                        stages.push(*stage);
                    }
                }
            }
            ["ARG", argument] => {
                if let Some(version) = argument.strip_prefix("WASM_BINDGEN_VERSION=") {
                    installs_wasm_bindgen = true;
                    if version != wasm_bindgen {
                        problems.push(format!(
                            "Dockerfile:{}: WASM_BINDGEN_VERSION={version}, Cargo.lock has wasm-bindgen {wasm_bindgen}",
                            number + 1
                        ));
                    }
                }
            }
            _ => {}
        }
    }
    if !installs_wasm_bindgen {
        problems.push("Dockerfile: no `ARG WASM_BINDGEN_VERSION=…`".into());
    }
    problems
}

/// `image@sha256:…`, or a tag starting with a version of at least two parts.
fn pinned(image: &str) -> bool {
    if image.contains("@sha256:") {
        return true;
    }
    let Some((_, tag)) = image.rsplit_once(':') else {
        return false;
    };
    let version = tag.split('-').next().unwrap_or_default();
    let parts: Vec<&str> = version.split('.').collect();
    parts.len() >= 2
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit()))
}

fn locked_version(root: &Path, package: &str) -> Result<String> {
    let lock = fs::read_to_string(root.join("Cargo.lock"))
        .map_err(|e| format!("cannot read Cargo.lock: {e}"))?;
    let header = format!("name = \"{package}\"");
    let mut lines = lock.lines();
    while let Some(line) = lines.next() {
        if line == header {
            if let Some(version) = lines
                .next()
                .and_then(|l| l.strip_prefix("version = \""))
                .and_then(|l| l.strip_suffix('"'))
            {
                return Ok(version.to_string());
            }
        }
    }
    Err(format!("{package} is not in Cargo.lock"))
}

/// The version of an npm package that a folder's `package-lock.json` pins.
fn npm_locked_version(folder: &Path, package: &str) -> Result<String> {
    let file = folder.join("package-lock.json");
    let lock = fs::read_to_string(&file).map_err(|e| format!("{}: {e}", file.display()))?;
    let entry = format!("\"node_modules/{package}\"");
    lock.split_once(&entry)
        .and_then(|(_, rest)| rest.split_once("\"version\": \""))
        .and_then(|(_, rest)| rest.split_once('"'))
        .map(|(version, _)| version.to_string())
        .ok_or_else(|| format!("{package} is not in {}", file.display()))
}

/// The size `gzip -9` makes of a file, through the `gzip` command every Debian has.
fn gzipped_size(file: &Path) -> Result<u64> {
    let output = Command::new("gzip")
        .arg("-9")
        .arg("-c")
        .arg(file)
        .output()
        .map_err(|e| format!("cannot run gzip: {e}"))?;
    if !output.status.success() {
        return Err(format!(
            "gzip {} failed ({})",
            file.display(),
            output.status
        ));
    }
    Ok(output.stdout.len() as u64)
}

fn kilobytes(bytes: u64) -> String {
    format!("{:.1} KB", bytes as f64 / 1000.0)
}

/// The demo's qa with Argo: a pre-action workflow, Argo CD's verdict on the commit, a
/// post-action workflow.
const ARGO_POLICY: &str = "\
apiVersion: promenade.dev/v1alpha1
kind: PromotionPolicy
metadata: { name: qa-argo }
spec:
  priority: 300
  selector: { environments: [qa] }
  gates:
    - workflow: { template: db-migrate, parameters: { target: \"{product}-{env}\" } }
  verify:
    - argocd: { timeout: 5m }
    - workflow: { template: smoke-tests, timeout: 10m }
";

/// Runs `command` with `secret` on its standard input.
fn secret_into(command: &mut Command, secret: &str) -> Result {
    use std::io::Write;
    let mut child = command
        .stdin(Stdio::piped())
        .spawn()
        .map_err(|e| e.to_string())?;
    if let Some(mut stdin) = child.stdin.take() {
        writeln!(stdin, "{secret}").map_err(|e| e.to_string())?;
    }
    match child.wait() {
        Ok(status) if status.success() => Ok(()),
        Ok(status) => Err(format!("{command:?} failed: {status}")),
        Err(e) => Err(e.to_string()),
    }
}

/// Waits until something listens on `port` (a server starting), for up to a minute.
fn wait_for_port(port: u16) -> Result {
    let deadline = Instant::now() + Duration::from_secs(60);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        if Instant::now() > deadline {
            return Err(format!("nothing listens on port {port} after a minute"));
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    Ok(())
}

/// What the API conformance run checks (schemathesis's names).
const API_CHECKS: &str = "not_a_server_error,status_code_conformance,content_type_conformance,\
     response_schema_conformance,negative_data_rejection";

/// Waits until the server answers on `port` and has written its first administrator's
/// token to `file`; the token.
fn wait_for_server(port: u16, file: &Path) -> Result<String> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(token) = fs::read_to_string(file) {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return Ok(token.trim().to_string());
            }
        }
        if Instant::now() > deadline {
            return Err(format!("the server on port {port} did not start"));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn free_port() -> Result<u16> {
    let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| format!("no free port: {e}"))?;
    listener
        .local_addr()
        .map(|a| a.port())
        .map_err(|e| e.to_string())
}

fn run(command: &mut Command) -> Result {
    let status = command
        .status()
        .map_err(|e| format!("cannot start {:?}: {e}", command.get_program()))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("{:?} failed ({status})", command.get_program()))
    }
}

fn copy(from: &Path, to: &Path) -> Result {
    fs::copy(from, to)
        .map(drop)
        .map_err(|e| format!("copy {} → {}: {e}", from.display(), to.display()))
}

fn copy_dir(from: &Path, to: &Path) -> Result {
    let entries = fs::read_dir(from).map_err(|e| format!("{}: {e}", from.display()))?;
    fs::create_dir_all(to).map_err(|e| format!("{}: {e}", to.display()))?;
    for entry in entries {
        let entry = entry.map_err(|e| e.to_string())?;
        let target = to.join(entry.file_name());
        if entry.path().is_dir() {
            copy_dir(&entry.path(), &target)?;
        } else {
            copy(&entry.path(), &target)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_images_must_be_pinned_and_wasm_bindgen_must_match_the_lock() {
        let good = "FROM rust:1.95.0-bookworm AS tools\nARG WASM_BINDGEN_VERSION=0.2.130\n\
                    FROM tools AS build\nFROM debian:12.12-slim\nFROM nginx@sha256:abc\n";
        assert_eq!(dockerfile_problems(good, "0.2.130"), Vec::<String>::new());
        let bad = "FROM rust:1-bookworm AS tools\nARG WASM_BINDGEN_VERSION=0.2.129\n\
                   FROM debian:bookworm-slim\nFROM alpine\nFROM node:latest\n";
        assert_eq!(
            dockerfile_problems(bad, "0.2.130"),
            [
                "Dockerfile:1: `rust:1-bookworm` is not pinned to an exact version",
                "Dockerfile:2: WASM_BINDGEN_VERSION=0.2.129, Cargo.lock has wasm-bindgen 0.2.130",
                "Dockerfile:3: `debian:bookworm-slim` is not pinned to an exact version",
                "Dockerfile:4: `alpine` is not pinned to an exact version",
                "Dockerfile:5: `node:latest` is not pinned to an exact version",
            ]
        );
        assert_eq!(
            dockerfile_problems("FROM debian:12.12-slim\n", "0.2.130"),
            ["Dockerfile: no `ARG WASM_BINDGEN_VERSION=…`"]
        );
    }
}
