//! The `ncco-host` binary: parses the command line and hands over to the library.

use std::process::ExitCode;

use anyhow::Context as _;
use clap::Parser;
use ncco_host::cli::{Cli, Command, DevArgs, ServeArgs, SimulateArgs};
use ncco_host::config::{LogFormat, ServeConfig, ServeFile};
use ncco_host::server::{Host, serve, shutdown_signal};

/// mimalloc: the host allocates and frees per webhook on every worker thread (stores, payloads,
/// NCCOs); glibc's malloc showed as a tenth of the serving profile.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Check(args) => ncco_host::check::run(&args),
        Command::Serve(args) => match run_serve(args) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("ncco-host serve: {e:#}");
                ExitCode::FAILURE
            }
        },
        Command::Simulate(args) => run_simulate(&args),
        Command::Deploy(args) => ncco_host::client::deploy(&args),
        Command::Versions(args) => ncco_host::client::versions(&args),
        Command::Rollback(target) => ncco_host::client::rollback(&target),
        Command::Dev(args) => match run_dev(args) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("ncco-host dev: {e:#}");
                ExitCode::FAILURE
            }
        },
    }
}

fn run_simulate(args: &SimulateArgs) -> ExitCode {
    match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(runtime) => runtime.block_on(ncco_host::simulate::run(args)),
        Err(e) => {
            eprintln!("ncco-host simulate: cannot start the async runtime: {e}");
            ExitCode::from(ncco_host::simulate::EXIT_USAGE)
        }
    }
}

fn resolve(args: ServeArgs) -> anyhow::Result<ServeConfig> {
    let file = match &args.config {
        Some(path) => ServeFile::load(path)?,
        None => ServeFile::default(),
    };
    let plugins =
        args.plugins.or(file.plugins).context("no plugin directory: give --plugins DIR (or `plugins` in --config)")?;
    let mut config = ServeConfig::new(plugins);
    if let Some(listen) = args.host.listen.or(file.listen) {
        config.listen = listen;
    }
    config.public_url = args.host.public_url.or(file.public_url);
    if let Some(dir) = args.host.data_dir.or(file.data_dir) {
        config.data_dir = dir;
    }
    if let Some(n) = file.max_concurrent {
        config.max_concurrent = n;
    }
    if let Some(n) = file.max_running {
        config.max_running = n;
    }
    config.tenant_max_running = file.tenant_max_running;
    if let Some(n) = file.tenant_max_queued {
        config.tenant_max_queued = n;
    }
    config.tenant_memory_share_bytes = file.tenant_memory_share_mib.map(|m| m << 20);
    if let Some(n) = file.tenant_state_keys {
        config.tenant_state.keys = n;
    }
    if let Some(mib) = file.tenant_state_mib {
        config.tenant_state.bytes = mib << 20;
    }
    if let Some(n) = file.tenant_max_pinned_calls {
        config.tenant_max_pinned_calls = n;
    }
    if let Some(mib) = file.memory_budget_mib {
        config.memory_budget_bytes = mib << 20;
    }
    if let Some(ms) = file.header_read_timeout_ms {
        config.header_read_timeout = std::time::Duration::from_millis(ms);
    }
    if let Some(ms) = file.body_read_timeout_ms {
        config.body_read_timeout = std::time::Duration::from_millis(ms);
    }
    if let Some(n) = file.max_connections {
        config.max_connections = n;
    }
    if let Some(mib) = file.artifact_cache_mib {
        config.artifact_cache_bytes = mib << 20;
    }
    if let Some(n) = file.max_body_bytes {
        config.max_body_bytes = n;
    }
    if let Some(spec) = args.host.state.or(file.state) {
        config.state = Some(ncco_host::state::StateBackend::parse(&spec));
    }
    if let Some(secs) = file.signature_window_secs {
        config.signature_window = std::time::Duration::from_secs(secs);
    }
    config.admin_token_sha256 = file.admin_token_sha256.map(|h| h.to_ascii_lowercase());
    config.admin_listen = args.admin_listen.or(file.admin_listen);
    config.log_format =
        args.host.log_format.as_deref().and_then(LogFormat::parse).or(file.log_format).unwrap_or_default();
    config.allow_private_networks = file.allow_private_networks.unwrap_or(false);
    if let Some(url) = file.vonage_api_url {
        if !(url.starts_with("https://") || url.starts_with("http://")) || url.parse::<hyper::Uri>().is_err() {
            anyhow::bail!("vonage_api_url {url:?} is not an http(s) URL");
        }
        config.vonage_api_url = Some(url);
    }
    config.inspect = file.inspect.unwrap_or(true);
    if let Some(n) = file.inspect_records {
        config.inspect_records = n;
    }
    if let Some(mib) = file.inspect_mib {
        config.inspect_bytes = mib << 20;
    }
    config.inspect_redaction = ncco_host::inspect::Redaction {
        numbers: file.inspect_redact_numbers.unwrap_or(false),
        custom_data: file.inspect_redact_custom_data.unwrap_or(false),
    };
    Ok(config)
}

fn run_dev(args: DevArgs) -> anyhow::Result<()> {
    let format = args.host.log_format.as_deref().and_then(LogFormat::parse).unwrap_or_default();
    let _logging = init_logging(format)?;
    let plugins = ncco_host::dev::discover(&args.paths)?;
    let data_dir = args.host.data_dir.unwrap_or_else(|| ncco_host::config::DEFAULT_DATA_DIR.into());
    let tenant_dir = data_dir.join("dev-plugins").join(ncco_host::dev::DEV_TENANT);
    std::fs::create_dir_all(&tenant_dir).with_context(|| format!("creating {}", tenant_dir.display()))?;
    let mut config = ServeConfig::new(data_dir.join("dev-plugins"));
    config.data_dir = data_dir;
    if let Some(listen) = args.host.listen {
        config.listen = listen;
    }
    config.public_url = args.host.public_url;
    config.state = args.host.state.as_deref().map(ncco_host::state::StateBackend::parse);
    // Plugins under development reach backends on this machine.
    config.allow_private_networks = true;
    ncco_host::dev::ensure_wasm_target();
    for plugin in &plugins {
        if let Err(e) = ncco_host::dev::build_and_publish(plugin, &tenant_dir) {
            eprintln!("ncco-host dev: {e}; it is not served until it builds");
        }
    }
    run_host(&config, |public_url| {
        let watching = ncco_host::dev::watch(plugins.clone(), tenant_dir)?;
        ncco_host::dev::print_urls(public_url, &plugins);
        Ok(watching)
    })
}

/// Logs to standard error through a writer thread, so no webhook waits on the terminal or a pipe
/// (every plugin log line is a host log line): lines are buffered and written in batches, in
/// order, at most [`ncco_host::logs::FLUSH_EVERY`] late; past the buffer's cap new lines are
/// dropped (and counted) rather than blocking serving. The guard writes out what is buffered when
/// dropped: hold it until the process ends.
fn init_logging(format: LogFormat) -> anyhow::Result<ncco_host::logs::FlushGuard> {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,wasmtime=warn,cranelift=warn"));
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let (writer, guard) = ncco_host::logs::BatchWriter::spawn(std::io::stderr())
        .map_err(|e| anyhow::anyhow!("cannot start the log writer thread: {e}"))?;
    let logs = tracing_subscriber::fmt().with_env_filter(filter).with_writer(writer);
    match format {
        // Fields (tenant, app, version, call_uuid, kind) at the top level of each object.
        LogFormat::Json => logs.json().flatten_event(true).with_current_span(false).init(),
        LogFormat::Text => logs.with_ansi(ansi).init(),
    }
    Ok(guard)
}

fn run_serve(args: ServeArgs) -> anyhow::Result<()> {
    let config = resolve(args)?;
    let _logging = init_logging(config.log_format)?;
    run_host(&config, |_| Ok(()))
}

/// Binds, starts the host, lets `ready` add its part (the dev watcher, kept alive while serving), announces
/// `listening on http://ADDR`, and serves until SIGINT or SIGTERM.
fn run_host<G>(config: &ServeConfig, ready: impl FnOnce(&str) -> anyhow::Result<G>) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(config.listen)
            .await
            .with_context(|| format!("cannot listen on {}", config.listen))?;
        let addr = listener.local_addr()?;
        let public_url = config.public_url.clone().unwrap_or_else(|| format!("http://{addr}"));
        let admin = match config.admin_listen {
            Some(at) => {
                Some(tokio::net::TcpListener::bind(at).await.with_context(|| format!("cannot listen on {at}"))?)
            }
            None => None,
        };
        let host = Host::start(config, public_url.clone()).await?;
        let _guard = ready(&public_url)?;
        // One signal stops both listeners.
        let (stop, stopped) = tokio::sync::watch::channel(false);
        tokio::spawn(async move {
            shutdown_signal().await;
            let _ = stop.send(true);
        });
        let until = |mut rx: tokio::sync::watch::Receiver<bool>| async move {
            let _ = rx.wait_for(|s| *s).await;
        };
        let admin_task = match admin {
            Some(listener) => {
                println!("admin listening on http://{}", listener.local_addr()?);
                Some(tokio::spawn(serve(
                    listener,
                    host.admin_router(),
                    until(stopped.clone()),
                    host.connection_limits(),
                )))
            }
            None => None,
        };
        println!("listening on http://{addr}");
        serve(listener, host.router(), until(stopped), host.connection_limits()).await?;
        if let Some(task) = admin_task {
            task.await??;
        }
        tracing::info!("shut down");
        Ok(())
    })
}
