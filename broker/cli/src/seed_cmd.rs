//! `tongdao seed`: the five agencies' legacy sources for one synthetic population, each in the
//! format that agency's system exports — the household registry's fixed-width Big5 extract, the
//! land office's SQL database, the Ministry of Finance's delimited files, My Health Bank JSON
//! exports and the dataset of the GCIS stand-in. The same seed and size always give the same
//! records, and the five agree with each other (see `tongdao_synth::registers`).

use std::{
    path::{Path, PathBuf},
    process::ExitCode,
    time::{Duration, Instant},
};

use tongdao_synth::{Population, Registers, write_household_extract};

/// Where each source lives under a seeded directory.
pub mod layout {
    /// Household registry extract (fixed-width Big5).
    pub const HOUSEHOLD_EXTRACT: &str = "data/household.dat";
    /// Land register database (SQLite).
    pub const LAND_DATABASE: &str = "data/land.sqlite";
    /// Tax files (delimited UTF-8).
    pub const TAX_DIR: &str = "data/tax";
    /// My Health Bank JSON exports.
    pub const HEALTH_DIR: &str = "data/health";
    /// The GCIS stand-in's dataset.
    pub const GCIS_DATASET: &str = "data/gcis.json";
}

/// The seed the demo, the sandbox and `tongdao seed` use unless told otherwise.
pub const DEFAULT_SEED: u64 = 20_261_127;

/// Arguments of `tongdao seed`.
#[derive(Debug, clap::Args)]
pub(crate) struct SeedArgs {
    /// Directory to write the sources into (created if missing; files in it are replaced).
    #[arg(long)]
    out: PathBuf,
    /// Households to generate; about 2.7 people each (370000 ≈ 1M people).
    #[arg(long, default_value_t = 1000)]
    households: usize,
    /// Generator seed: the same seed and size give the same records.
    #[arg(long, default_value_t = DEFAULT_SEED)]
    seed: u64,
    /// Also load the land register into this PostgreSQL database (`postgres://…`).
    #[arg(long)]
    land_postgres: Option<String>,
}

/// What was generated and written.
#[derive(Debug)]
pub struct Seeded {
    /// The people.
    pub population: Population,
    /// Their records at the other four agencies.
    pub registers: Registers,
    /// Time taken per step, in order.
    pub timings: Vec<(&'static str, Duration)>,
}

pub(crate) async fn run(args: SeedArgs) -> ExitCode {
    let started = Instant::now();
    let seeded = match write_sources(&args.out, args.households, args.seed) {
        Ok(seeded) => seeded,
        Err(error) => {
            eprintln!("tongdao seed: {error}");
            return ExitCode::FAILURE;
        }
    };
    if let Some(url) = &args.land_postgres {
        let step = Instant::now();
        if let Err(error) =
            tongdao_adapter_land::seed::write_postgres(&seeded.registers.land, url, None).await
        {
            eprintln!("tongdao seed: land register into PostgreSQL: {error}");
            return ExitCode::FAILURE;
        }
        println!(
            "land register loaded into PostgreSQL in {:.1} s",
            step.elapsed().as_secs_f64()
        );
    }
    let registers = &seeded.registers;
    println!(
        "seeded {} (seed {}): {} households, {} people",
        args.out.display(),
        args.seed,
        seeded.population.households().len(),
        seeded.population.person_count()
    );
    println!(
        "  land {} parcels · companies {} · income items {} · property items {} · tax payments {} · visits {} · lab results {}",
        registers.land.parcels.len(),
        registers.commerce.companies.len(),
        registers.tax.income.len(),
        registers.tax.property.len(),
        registers.tax.payments.len(),
        registers.health.visits.len(),
        registers.health.lab_results.len(),
    );
    for (step, took) in &seeded.timings {
        println!("  {step:<22} {:>7.2} s", took.as_secs_f64());
    }
    println!(
        "  total                  {:>7.2} s",
        started.elapsed().as_secs_f64()
    );
    ExitCode::SUCCESS
}

/// Generates the population and registers for `households` and `seed`, and writes the five
/// sources under `root` in the [`layout`].
pub fn write_sources(root: &Path, households: usize, seed: u64) -> Result<Seeded, String> {
    let mut timings = Vec::new();
    let mut timed = |step: &'static str, started: Instant| timings.push((step, started.elapsed()));

    let started = Instant::now();
    let population = Population::generate(seed, households.max(1));
    timed("population", started);
    let started = Instant::now();
    let registers = Registers::generate(&population);
    timed("registers", started);

    let started = Instant::now();
    let mut extract = Vec::new();
    write_household_extract(&population, &mut extract)
        .map_err(|e| format!("household extract: {e}"))?;
    write_file(&root.join(layout::HOUSEHOLD_EXTRACT), &extract)?;
    timed("household extract", started);

    let started = Instant::now();
    let land = root.join(layout::LAND_DATABASE);
    create_parent(&land)?;
    tongdao_adapter_land::seed::write_sqlite(&registers.land, &land)
        .map_err(|e| format!("land register {}: {e}", land.display()))?;
    timed("land database", started);

    let started = Instant::now();
    let tax = root.join(layout::TAX_DIR);
    create_dir(&tax)?;
    tongdao_adapter_tax::seed::write_files(&registers.tax, &tax)
        .map_err(|e| format!("tax files {}: {e}", tax.display()))?;
    timed("tax files", started);

    let started = Instant::now();
    let health = root.join(layout::HEALTH_DIR);
    create_dir(&health)?;
    tongdao_adapter_health::seed::write_exports(&registers.health, &health)
        .map_err(|e| format!("health exports {}: {e}", health.display()))?;
    timed("health exports", started);

    let started = Instant::now();
    let gcis = root.join(layout::GCIS_DATASET);
    create_parent(&gcis)?;
    tongdao_adapter_commerce::standin::Dataset::from_register(&registers.commerce)
        .write(&gcis)
        .map_err(|e| format!("GCIS dataset {}: {e}", gcis.display()))?;
    timed("GCIS dataset", started);

    Ok(Seeded {
        population,
        registers,
        timings,
    })
}

fn create_dir(dir: &Path) -> Result<(), String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))
}

fn create_parent(path: &Path) -> Result<(), String> {
    match path.parent() {
        Some(parent) => create_dir(parent),
        None => Ok(()),
    }
}

fn write_file(path: &Path, bytes: &[u8]) -> Result<(), String> {
    create_parent(path)?;
    std::fs::write(path, bytes).map_err(|e| format!("{}: {e}", path.display()))
}

/// Arguments of `tongdao gcis-standin`.
#[derive(Debug, clap::Args)]
pub(crate) struct StandinArgs {
    /// The dataset `tongdao seed` wrote (`data/gcis.json`).
    #[arg(long)]
    dataset: PathBuf,
    /// Address to listen on, e.g. 127.0.0.1:8090.
    #[arg(long)]
    listen: std::net::SocketAddr,
}

/// Serves the GCIS company-data API shape from a seeded dataset: what the commerce adapter talks
/// to in the demo and the tests, in place of the registry's real service.
pub(crate) async fn standin(args: StandinArgs) -> ExitCode {
    let dataset = match tongdao_adapter_commerce::standin::Dataset::load(&args.dataset) {
        Ok(dataset) => std::sync::Arc::new(dataset),
        Err(error) => {
            eprintln!(
                "tongdao gcis-standin: dataset {}: {error}",
                args.dataset.display()
            );
            return ExitCode::from(crate::EXIT_CONFIG);
        }
    };
    let listener = match tokio::net::TcpListener::bind(args.listen).await {
        Ok(listener) => listener,
        Err(error) => {
            eprintln!(
                "tongdao gcis-standin: cannot listen on {}: {error}",
                args.listen
            );
            return ExitCode::FAILURE;
        }
    };
    tongdao_adapter_commerce::standin::serve(listener, dataset, crate::shutdown_signal()).await;
    ExitCode::SUCCESS
}
